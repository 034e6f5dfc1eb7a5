package harness

import (
	"autoresearch/internal/testfs"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writePrepared lays out prepared data for the smoke profile by hand: a
// tokenizer trained on the sample corpus and token files of its encoded
// documents.
func writePrepared(t testing.TB, home string, texts []string) *Tokenizer {
	t.Helper()
	p, _ := LookupProfile("smoke")
	tok := sampleTokenizer(t)
	dir := DataDir(home, p)
	testfs.MkdirAll(t, dir, 0o755)
	m := Meta{Profile: p.Name, Dataset: "test", VocabSize: tok.VocabSize(), SHA256: map[string]string{}}
	var tb bytes.Buffer
	tok.WriteTo(&tb)
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		m.SHA256[name] = hex.EncodeToString(sum[:])
	}
	write(TokenizerFile, tb.Bytes())
	var buf []byte
	for _, s := range texts {
		for _, id := range append([]int32{tok.BOS()}, tok.Encode(s)...) {
			buf = binary.LittleEndian.AppendUint16(buf, uint16(id))
		}
		m.TrainDocs++
	}
	write(TrainFile, buf)
	write(ValFile, buf)
	m.TrainTokens, m.ValTokens, m.ValDocs = int64(len(buf)/2), int64(len(buf)/2), m.TrainDocs
	raw, _ := json.Marshal(m)
	write(MetaFile, raw)
	return tok
}

func sampleDocs() []string {
	var docs []string
	for i, line := range strings.Split(strings.Repeat(sampleText, 5), "\n") {
		if line != "" {
			docs = append(docs, strings.Repeat(line+" ", 1+i%3))
		}
	}
	return docs
}

func TestOpenReadsTheEnvironment(t *testing.T) {
	home := t.TempDir()
	t.Setenv(EnvHome, home)
	t.Setenv(EnvProfile, "smoke")
	t.Setenv(EnvDevice, "")
	if _, err := Open(); err == nil || !strings.Contains(err.Error(), `run "autoresearch prepare --profile smoke"`) {
		t.Fatalf("unprepared data: %v", err)
	}
	if Prepared(home, Profiles()[0]) {
		t.Fatal("Prepared says yes before anything was prepared")
	}
	writePrepared(t, home, sampleDocs())
	if !Prepared(home, Profiles()[0]) {
		t.Fatal("Prepared says no after preparing")
	}
	e, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	if e.Device != "cpu" || e.Profile.Name != "smoke" || e.Home != home || e.Tokenizer.VocabSize() != 512 {
		t.Errorf("env %+v", e)
	}
	t.Setenv(EnvDevice, "tpu")
	if _, err := Open(); err == nil || !strings.Contains(err.Error(), `unknown device "tpu"`) {
		t.Errorf("bad device: %v", err)
	}
	t.Setenv(EnvDevice, "cuda")
	t.Setenv(EnvProfile, "huge")
	if _, err := Open(); err == nil || !strings.Contains(err.Error(), "AUTORESEARCH_PROFILE") {
		t.Errorf("bad profile: %v", err)
	}
}

func TestOpenRejectsDamagedData(t *testing.T) {
	p, _ := LookupProfile("smoke")
	for name, damage := range map[string]func(dir string){
		"does not match its checksum": func(dir string) {
			raw := testfs.ReadFile(t, filepath.Join(dir, TokenizerFile))
			raw[len(raw)-20] ^= 1
			testfs.WriteFile(t, filepath.Join(dir, TokenizerFile), raw, 0o644)
		},
		"train.bin in": func(dir string) {
			raw := testfs.ReadFile(t, filepath.Join(dir, TrainFile))
			testfs.WriteFile(t, filepath.Join(dir, TrainFile), raw[:len(raw)-2], 0o644)
		},
		"lacks val.bin": func(dir string) { os.Remove(filepath.Join(dir, ValFile)) },
	} {
		home := t.TempDir()
		writePrepared(t, home, sampleDocs())
		damage(DataDir(home, p))
		_, err := OpenAt(home, p, "cpu")
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "autoresearch prepare --profile smoke") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

type uniformScorer struct{ v int }

func (u uniformScorer) TokenLosses(inputs, targets []int32, B, T int) ([]float32, error) {
	out := make([]float32, B*T)
	for i := range out {
		out[i] = float32(math.Log(float64(u.v)))
	}
	return out, nil
}

type funcScorer func(inputs, targets []int32, B, T int) ([]float32, error)

func (f funcScorer) TokenLosses(inputs, targets []int32, B, T int) ([]float32, error) {
	return f(inputs, targets, B, T)
}

func TestEvaluateBPBOfAUniformScorer(t *testing.T) {
	home := t.TempDir()
	writePrepared(t, home, sampleDocs())
	p, _ := LookupProfile("smoke")
	e, err := OpenAt(home, p, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	const batch = 8
	got, err := e.EvaluateBPB(uniformScorer{p.VocabSize}, batch)
	if err != nil {
		t.Fatal(err)
	}
	// The same batches, counted here: targets with text, and their bytes.
	val, _ := e.ValLoader(batch, p.MaxSeqLen)
	defer val.Close()
	tb := e.Tokenizer.TokenBytes()
	var tokens, nbytes int64
	for range p.EvalTokens / (batch * p.MaxSeqLen) {
		for _, y := range val.Next().Targets {
			if tb[y] > 0 {
				tokens++
				nbytes += int64(tb[y])
			}
		}
	}
	perToken := float64(float32(math.Log(float64(p.VocabSize)))) / math.Ln2 // log2(V), as float32 losses carry it
	want := perToken * float64(tokens) / float64(nbytes)
	if math.Abs(got-want) > 1e-9*want {
		t.Fatalf("bpb %.12f, want log2(V) × tokens / bytes = %.12f", got, want)
	}
	if tokens == int64(p.EvalTokens) {
		t.Error("no BOS among the targets: the byte mask went untested")
	}
}

func TestEvaluateBPBErrors(t *testing.T) {
	home := t.TempDir()
	writePrepared(t, home, sampleDocs())
	p, _ := LookupProfile("smoke")
	e, _ := OpenAt(home, p, "cpu")
	if _, err := e.EvaluateBPB(uniformScorer{512}, 1000); err == nil || !strings.Contains(err.Error(), "at most 256") {
		t.Errorf("too large a batch: %v", err)
	}
	short := funcScorer(func(_, targets []int32, _, _ int) ([]float32, error) { return make([]float32, len(targets)-1), nil })
	if _, err := e.EvaluateBPB(short, 8); err == nil || !strings.Contains(err.Error(), "losses for 8×64") {
		t.Errorf("short losses: %v", err)
	}
	nan := funcScorer(func(_, targets []int32, _, _ int) ([]float32, error) {
		out := make([]float32, len(targets))
		out[3] = float32(math.NaN())
		return out, nil
	})
	if _, err := e.EvaluateBPB(nan, 8); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN loss: %v", err)
	}
	boom := errors.New("out of memory")
	failing := funcScorer(func(_, _ []int32, _, _ int) ([]float32, error) { return nil, boom })
	if _, err := e.EvaluateBPB(failing, 8); !errors.Is(err, boom) {
		t.Errorf("scorer error: %v", err)
	}
}
