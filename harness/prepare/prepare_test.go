package prepare

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"autoresearch/harness"
	"autoresearch/internal/testfs"
)

func smoke(t testing.TB) harness.Profile {
	t.Helper()
	p, err := harness.LookupProfile("smoke")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// readDocs decodes a token file back into its documents' texts.
func readDocs(t testing.TB, env *harness.Env, name string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(harness.DataDir(env.Home, env.Profile), name))
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	var cur []int32
	flush := func() {
		if cur != nil {
			docs = append(docs, env.Tokenizer.Decode(cur))
		}
	}
	for i := 0; i < len(raw); i += 2 {
		id := int32(binary.LittleEndian.Uint16(raw[i:]))
		if id == env.Tokenizer.BOS() {
			flush()
			cur = []int32{}
			continue
		}
		cur = append(cur, id)
	}
	flush()
	return docs
}

// squash removes all white space: documents are cut at white space and
// trimmed, so this is what must survive preparation unchanged.
func squash(docs []string) string { return strings.Join(strings.Fields(strings.Join(docs, " ")), "") }

// checkDocs checks that a token file holds exactly want's text, in order,
// in documents of at most maxTokens ids after BOS (0: any length).
func checkDocs(t testing.TB, env *harness.Env, file string, want []string, maxTokens int) []string {
	t.Helper()
	got := readDocs(t, env, file)
	if squash(got) != squash(want) {
		t.Fatalf("%s does not hold the split's text (%d documents, from %d)", file, len(got), len(want))
	}
	for _, d := range got {
		if n := len(env.Tokenizer.Encode(d)); maxTokens > 0 && n > maxTokens {
			t.Fatalf("%s: a document of %d tokens, more than %d", file, n, maxTokens)
		}
	}
	return got
}

// collect runs a walker to the end.
func collect(t testing.TB, w walker) []string {
	t.Helper()
	var out []string
	if err := w(context.Background(), func(d string) error { out = append(out, d); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// noTempFiles fails if a temporary or partial file is left under dir.
func noTempFiles(t testing.TB, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.Contains(d.Name(), ".tmp") || strings.HasSuffix(d.Name(), ".part") || strings.HasPrefix(d.Name(), ".pack-")) {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

func TestSmokePrepareEndToEnd(t *testing.T) {
	home := t.TempDir()
	p := smoke(t)
	rep, err := Run(context.Background(), Options{Profile: p, Home: home})
	if err != nil {
		t.Fatal(err)
	}
	if rep.AlreadyPrepared || rep.Meta.Dataset != Synthetic || rep.BytesPerToken < 2 {
		t.Errorf("report %+v", rep)
	}
	env, err := harness.OpenAt(home, p, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	// The token files hold exactly the split's documents, in order.
	c := syntheticCorpus(p, 3*p.MaxSeqLen)
	for _, s := range []struct {
		file string
		docs walker
		n    int64
	}{{harness.TrainFile, c.train, env.Meta.TrainDocs}, {harness.ValFile, c.val, env.Meta.ValDocs}} {
		got := checkDocs(t, env, s.file, collect(t, s.docs), p.MaxSeqLen)
		if int64(len(got)) != s.n {
			t.Errorf("%s: meta says %d documents, file has %d", s.file, s.n, len(got))
		}
	}
	if env.Meta.ValTokens < int64(p.EvalTokens) {
		t.Errorf("validation has %d tokens, fewer than EVAL_TOKENS", env.Meta.ValTokens)
	}
	// A second run finds the data and does nothing; a forced one makes the
	// same bytes again.
	again, err := Run(context.Background(), Options{Profile: p, Home: home})
	if err != nil || !again.AlreadyPrepared {
		t.Fatalf("second run: %+v, %v", again, err)
	}
	forced, err := Run(context.Background(), Options{Profile: p, Home: home, Force: true, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	for name, sum := range rep.Meta.SHA256 {
		if forced.Meta.SHA256[name] != sum {
			t.Errorf("%s differs between two prepares of the same data", name)
		}
	}
	noTempFiles(t, home)
}

func TestInterruptedPrepareLeavesNothingTrusted(t *testing.T) {
	home := t.TempDir()
	p := smoke(t)
	if _, err := Run(context.Background(), Options{Profile: p, Home: home}); err != nil {
		t.Fatal(err)
	}
	// Prepare again and stop while the training tokens are being written.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prog := &cancelAt{label: "tokenizing train.bin", cancel: cancel}
	_, err := Run(ctx, Options{Profile: p, Home: home, Force: true, Progress: prog})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run returned %v", err)
	}
	if !prog.hit {
		t.Fatal("the run never reached the training tokens")
	}
	if harness.Prepared(home, p) {
		t.Fatal("an interrupted prepare left data that counts as prepared")
	}
	noTempFiles(t, home)
	if _, err := Run(context.Background(), Options{Profile: p, Home: home}); err != nil || !harness.Prepared(home, p) {
		t.Fatalf("prepare after an interruption: %v", err)
	}
}

// cancelAt cancels the run when the step with the given label starts.
type cancelAt struct {
	label  string
	cancel func()
	hit    bool
}

func (c *cancelAt) Start(label string, _ int64) Bar {
	if label == c.label {
		c.hit = true
		c.cancel()
	}
	return nopBar{}
}

func TestSyntheticStories(t *testing.T) {
	if Story(7) != Story(7) {
		t.Fatal("story 7 differs between two calls")
	}
	seen := map[string]bool{}
	words := map[string]bool{}
	for i := range uint64(500) {
		s := Story(i)
		seen[s] = true
		for _, w := range strings.Fields(s) {
			words[strings.Trim(w, `.,!?"`)] = true
		}
		if !strings.HasSuffix(s, "The end.") {
			t.Fatalf("story %d does not end: %q", i, s)
		}
	}
	if len(seen) < 500 {
		t.Errorf("only %d distinct stories of 500", len(seen))
	}
	if len(words) < 300 {
		t.Errorf("only %d distinct words in 500 stories", len(words))
	}
}

func TestEncoderCutsLongDocuments(t *testing.T) {
	counts := harness.ChunkCounts{}
	counts.Add(storyText(0, 300))
	tok, err := harness.TrainBPE(counts, 512, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := storyText(0, 3)
	e := &encoder{tok: tok, maxTokens: 40}
	var out encoded
	e.add(&out, doc)
	var records [][]int32
	for i := 0; i < len(out.buf); i += 2 {
		id := int32(binary.LittleEndian.Uint16(out.buf[i:]))
		if id == tok.BOS() {
			records = append(records, nil)
			continue
		}
		records[len(records)-1] = append(records[len(records)-1], id)
	}
	if int64(len(records)) != out.docs || len(records) < len(tok.Encode(doc))/40 {
		t.Fatalf("%d records, %d counted, for a document of %d tokens", len(records), out.docs, len(tok.Encode(doc)))
	}
	var texts []string
	for _, r := range records {
		if len(r) > 40 || len(r) == 0 {
			t.Fatalf("a record of %d tokens", len(r))
		}
		texts = append(texts, tok.Decode(r))
	}
	if squash(texts) != squash([]string{doc}) {
		t.Fatal("cutting changed the text")
	}
	// Whole documents (climbmix) stay whole.
	out = encoded{}
	(&encoder{tok: tok}).add(&out, doc)
	if out.docs != 1 {
		t.Fatalf("%d records without a limit", out.docs)
	}
}

func TestCutAndNormalize(t *testing.T) {
	var got []string
	text := "First paragraph is here.\n\nSecond one. It has two sentences. " + strings.Repeat("word ", 30) + "\n" + strings.Repeat("x", 100)
	cut(text, 60, func(s string) error { got = append(got, s); return nil })
	noSpace := func(s string) string { return strings.Join(strings.Fields(s), "") }
	if noSpace(strings.Join(got, "")) != noSpace(text) {
		t.Fatalf("cutting lost text: %q", got)
	}
	if got[0] != "First paragraph is here." || got[1] != "Second one. It has two sentences." {
		t.Errorf("pieces do not end at the strongest boundary: %q", got[:2])
	}
	for _, g := range got {
		if len(g) > 60 || g != strings.TrimSpace(g) || g == "" {
			t.Errorf("piece %q", g)
		}
	}
	got = nil
	cut("日本語のテキスト", 5, func(s string) error { got = append(got, s); return nil })
	if strings.Join(got, "") != "日本語のテキスト" || len(got[0]) != 3 {
		t.Errorf("cut inside a character: %q", got)
	}
	if s := normalize([]byte("\uFEFFa\r\nb\rc caf\xe9")); s != "a\nb\nc café" {
		t.Errorf("normalize gave %q", s)
	}
}

func TestUnknownDataset(t *testing.T) {
	_, err := Run(context.Background(), Options{Profile: smoke(t), Home: t.TempDir(), Dataset: "wikipedia"})
	if err == nil || !strings.Contains(err.Error(), `unknown dataset "wikipedia"`) || !strings.Contains(err.Error(), "text:PATH") {
		t.Fatalf("error %v", err)
	}
	if err := ValidDataset("text:"); err == nil || !strings.Contains(err.Error(), "names no path") {
		t.Fatalf("error %v", err)
	}
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func TestFailedPrepareKeepsThePreparedData(t *testing.T) {
	home, p := t.TempDir(), smoke(t)
	if _, err := Run(context.Background(), Options{Profile: p, Home: home}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(harness.DataDir(home, p), harness.MetaFile))
	if err != nil {
		t.Fatal(err)
	}
	empty, tiny := t.TempDir(), t.TempDir()
	testfs.WriteFile(t, filepath.Join(empty, "notes.txt"), []byte(" \n"), 0o644)
	testfs.WriteFile(t, filepath.Join(tiny, "t.txt"), []byte(strings.Repeat("ab ", 50)), 0o644)
	for _, dataset := range []string{"text:" + empty, "text:" + tiny, "text:" + filepath.Join(empty, "missing")} {
		if _, err := Run(context.Background(), Options{Profile: p, Home: home, Dataset: dataset}); err == nil {
			t.Fatalf("%s: prepared", dataset)
		}
	}
	// An interruption before any file is replaced.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prog := &cancelAt{label: fmt.Sprintf("training the tokenizer (%d merges)", p.VocabSize-256-len(harness.SpecialTokens)), cancel: cancel}
	if _, err := Run(ctx, Options{Profile: p, Home: home, Force: true, Progress: prog}); !errors.Is(err, context.Canceled) || !prog.hit {
		t.Fatalf("interrupted prepare: %v (reached the tokenizer: %v)", err, prog.hit)
	}
	after, err := os.ReadFile(filepath.Join(harness.DataDir(home, p), harness.MetaFile))
	if err != nil || !bytes.Equal(after, before) || !harness.Prepared(home, p) {
		t.Fatalf("failed prepares of another dataset lost the prepared data (%v):\n%s", err, after)
	}
	noTempFiles(t, home)
}

func TestProgressSaysHowAStepEnded(t *testing.T) {
	var out strings.Builder
	lines := NewLines(&out)
	lines.Start("fetching", 0).Finish(nil)
	lines.Start("counting", 0).Finish(fmt.Errorf("reading: %w", context.Canceled))
	lines.Start("downloading", 0).Finish(errors.New("server answered 404"))
	for _, want := range []string{"fetching: done in", "counting: stopped after", "downloading: failed after"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}

	// A prepare that fails in its download says so, not "done".
	climbmixServer(t)
	out.Reset()
	_, err := Run(context.Background(), Options{Profile: smoke(t), Home: t.TempDir(), Dataset: Climbmix, NumShards: 3,
		Backoff: time.Millisecond, Progress: NewLines(&out)})
	if err == nil || !strings.Contains(out.String(), "climbmix shards: failed after") || strings.Contains(out.String(), "done") {
		t.Errorf("a failed download (%v) reported:\n%s", err, out.String())
	}
}
