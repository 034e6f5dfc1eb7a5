package harness

import (
	"autoresearch/internal/testfs"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The block printed by the original train.py on its H100 baseline.
const originalBlock = `---
val_bpb:          0.997900
training_seconds: 300.1
total_seconds:    325.9
peak_vram_mb:     45060.2
mfu_percent:      39.80
total_tokens_M:   499.6
num_steps:        953
num_params_M:     50.3
depth:            8
`

func TestSummaryPrintMatchesOriginal(t *testing.T) {
	s := Summary{ValBPB: 0.9979, TrainingSeconds: 300.12, TotalSeconds: 325.94, PeakVRAMMB: 45060.2,
		MFUPercent: 39.8, TotalTokensM: 499.6, NumSteps: 953, NumParamsM: 50.3, Depth: 8}
	var b strings.Builder
	if err := s.Print(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != originalBlock {
		t.Errorf("summary block differs:\n%s\nwant:\n%s", b.String(), originalBlock)
	}
	s.PeakRSSMB = 812.44
	b.Reset()
	s.Print(&b)
	if !strings.HasSuffix(b.String(), "depth:            8\npeak_rss_mb:      812.4\n") {
		t.Errorf("CPU block ends %q", b.String()[len(b.String())-40:])
	}
}

func TestSummaryReportWritesJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "result.json")
	t.Setenv(EnvResult, path)
	s := Summary{ValBPB: 1.25, NumSteps: 7, Depth: 2, PeakRSSMB: 3}
	var b strings.Builder
	if err := s.Report(&b); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]float64
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"val_bpb", "training_seconds", "total_seconds", "peak_vram_mb", "mfu_percent", "total_tokens_M", "num_steps", "num_params_M", "depth", "peak_rss_mb"} {
		if _, ok := m[key]; !ok {
			t.Errorf("JSON lacks key %s", key)
		}
		if !strings.Contains(b.String(), "\n"+key+":") {
			t.Errorf("printed block lacks key %s", key)
		}
	}
	if m["val_bpb"] != 1.25 || m["num_steps"] != 7 {
		t.Errorf("JSON values %v", m)
	}
}

func TestProfiles(t *testing.T) {
	t.Setenv(EnvProfile, "")
	p, err := CurrentProfile()
	if err != nil || p.Name != "smoke" {
		t.Fatalf("default profile %q, %v", p.Name, err)
	}
	g, _ := LookupProfile("gpu")
	if g.MaxSeqLen != 2048 || g.VocabSize != 8192 || g.TimeBudget != 300 || g.EvalTokens != 40*524288 {
		t.Errorf("gpu profile %+v differs from the original's constants", g)
	}
	t.Setenv(EnvProfile, "laptop")
	if _, err := CurrentProfile(); err == nil || !strings.Contains(err.Error(), "smoke, cpu, gpu") {
		t.Errorf("unknown profile error %v does not list the valid ones", err)
	}
}

func TestReadMetaNamesThePrepareCommand(t *testing.T) {
	home := t.TempDir()
	p, _ := LookupProfile("cpu")
	_, err := ReadMeta(home, p)
	if err == nil || !strings.Contains(err.Error(), `run "autoresearch prepare --profile cpu"`) {
		t.Fatalf("error %v does not name the prepare command", err)
	}
	dir := DataDir(home, p)
	testfs.MkdirAll(t, dir, 0o755)
	testfs.WriteFile(t, filepath.Join(dir, MetaFile), []byte(`{"profile":"cpu","vocab_size":2048}`), 0o644)
	if _, err := ReadMeta(home, p); err == nil || !strings.Contains(err.Error(), "lacks tokenizer.bin") {
		t.Fatalf("missing tokenizer not reported: %v", err)
	}
	for _, f := range []string{TokenizerFile, TrainFile, ValFile} {
		testfs.WriteFile(t, filepath.Join(dir, f), nil, 0o644)
	}
	if m, err := ReadMeta(home, p); err != nil || m.VocabSize != 2048 {
		t.Fatalf("complete data rejected: %v", err)
	}
	testfs.WriteFile(t, filepath.Join(dir, MetaFile), []byte(`{"profile":"smoke","vocab_size":512}`), 0o644)
	if _, err := ReadMeta(home, p); err == nil || !strings.Contains(err.Error(), "not cpu") {
		t.Fatalf("wrong profile's data accepted: %v", err)
	}
}

func TestSummaryCurveFollowsTheOriginalKeys(t *testing.T) {
	s := Summary{ValBPB: 0.9979, TrainingSeconds: 300.12, TotalSeconds: 325.94, PeakVRAMMB: 45060.2,
		MFUPercent: 39.8, TotalTokensM: 499.6, NumSteps: 953, NumParamsM: 50.3, Depth: 8,
		TokensPerSec: 1664321.4, Curve: []CurvePoint{{Progress: 0.1, Step: 95, Loss: 3.91234}, {Progress: 0.2, Step: 190, Loss: 3.5}}}
	var b strings.Builder
	if err := s.Print(&b); err != nil {
		t.Fatal(err)
	}
	want := originalBlock + "tokens_per_sec:   1664321\ncurve:            10% 3.912 @95, 20% 3.500 @190\n"
	if b.String() != want {
		t.Errorf("summary block:\n%s\nwant:\n%s", b.String(), want)
	}

	path := filepath.Join(t.TempDir(), "result.json")
	t.Setenv(EnvResult, path)
	if err := s.Report(io.Discard); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got Summary
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.TokensPerSec != s.TokensPerSec || len(got.Curve) != 2 || got.Curve[1] != s.Curve[1] {
		t.Errorf("JSON round trip: %+v", got)
	}
	if !strings.Contains(string(raw), `"curve": [`) || !strings.Contains(string(raw), `"progress": 0.1`) || !strings.Contains(string(raw), `"tokens_per_sec"`) {
		t.Errorf("JSON keys differ from the documented ones:\n%s", raw)
	}
}

func TestHardLimitScalesWithTheProfile(t *testing.T) {
	smoke, _ := LookupProfile("smoke")
	cpu, _ := LookupProfile("cpu")
	gpu, _ := LookupProfile("gpu")
	for _, c := range []struct {
		got, want time.Duration
	}{
		{smoke.HardLimit(DeviceCPU), 55 * time.Second},
		{cpu.HardLimit(DeviceCPU), 32 * time.Minute},
		{gpu.HardLimit(DeviceCUDA), 12 * time.Minute},
	} {
		if c.got != c.want {
			t.Errorf("hard limit %s, want %s", c.got, c.want)
		}
	}
}
