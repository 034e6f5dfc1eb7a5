package agent

import (
	"context"
	"errors"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"

	"autoresearch/internal/results"
	"autoresearch/internal/task"
	"autoresearch/internal/testfs"
)

func sweepWorktree(t *testing.T) (dir string, orig []byte) {
	t.Helper()
	orig, err := os.ReadFile("testdata/train.go")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "gpt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gpt", "train.go"), orig, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, orig
}

func sweepReq(dir string, n int, rows []results.Row) Request {
	return Request{N: n, Worktree: dir, Task: task.Task{Editable: []string{"gpt/train.go"}}, Results: rows}
}

func TestConstantsAndNeighbours(t *testing.T) {
	src := testfs.ReadFile(t, "testdata/train.go")
	cs, err := Constants(src)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name+"="+c.Value)
		got[c.Name] = c.Neighbours()
	}
	wantNames := []string{"DEPTH=8", `WINDOW_PATTERN="SSSL"`, "ASPECT_RATIO=64", "MATRIX_LR=0.04",
		"EMBEDDING_LR=6e-1", "TOTAL_BATCH_SIZE=1 << 19", "USE_BIAS=false"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("constants %v\nwant      %v", names, wantNames)
	}
	want := map[string][]string{
		"DEPTH":            {"7", "9", "16", "4"},
		"WINDOW_PATTERN":   {`"LSSL"`, `"SLSL"`, `"SSLL"`, `"SSSS"`, `"SSSLL"`, `"SSS"`},
		"ASPECT_RATIO":     {"128", "32"},
		"MATRIX_LR":        {"0.02", "0.08"},
		"EMBEDDING_LR":     {"0.3", "1.2"},
		"TOTAL_BATCH_SIZE": {"1 << 18", "1 << 20"},
		"USE_BIAS":         {"true"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("neighbours %v\nwant       %v", got, want)
	}
	one := Constant{Name: "N", Value: "1", Kind: "int"}
	if n := one.Neighbours(); !reflect.DeepEqual(n, []string{"2"}) {
		t.Errorf("neighbours of 1: %v (a size never reaches 0)", n)
	}
	aligned := Constant{Name: "HEAD_DIM", Value: "128", Kind: "int"}
	if n := aligned.Neighbours(); !reflect.DeepEqual(n, []string{"256", "64"}) {
		t.Errorf("neighbours of 128: %v (an aligned size only halves or doubles)", n)
	}
	two := Constant{Name: "X", Value: "2.0", Kind: "float"}
	if n := two.Neighbours(); !reflect.DeepEqual(n, []string{"1.0", "4.0"}) {
		t.Errorf("neighbours of 2.0: %v (must stay floats)", n)
	}
}

func TestNeighboursKeepDecayFactorsAndFractionsInRange(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []string
	}{
		{"ADAM_BETA2", "0.95", []string{"0.975", "0.9"}},
		{"ADAM_BETA1", "0.8", []string{"0.9", "0.6"}},
		{"ADAM_BETA1", "0.4", []string{"0.7"}}, // twice as far from 1 would be below 0
		{"MOMENTUM", "0.99", []string{"0.995", "0.98"}},
		{"WARMDOWN_RATIO", "0.5", []string{"0.25", "1.0"}},
		{"WARMDOWN_RATIO", "0.75", []string{"0.375"}},
		{"FINAL_LR_FRAC", "0.1", []string{"0.05", "0.2"}},
		{"WARMUP_RATIO", "0.0", []string{"0.05", "0.1"}}, // 0 halved or doubled stays 0
		{"FINAL_LR_FRAC", "0.0", []string{"0.05", "0.1"}},
		{"WEIGHT_DECAY", "0.0", []string{"0.01", "0.1"}},
		{"ASPECT_RATIO", "64.0", []string{"32.0", "128.0"}}, // not a fraction: an ordinary float
		{"WEIGHT_DECAY", "0.8", []string{"0.4", "1.6"}},
	} {
		c := Constant{Name: tc.name, Value: tc.value, Kind: "float"}
		if got := c.Neighbours(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("neighbours of %s = %s: %v, want %v", tc.name, tc.value, got, tc.want)
		}
	}
}

func TestSweepDoesNotUndoAKeptChange(t *testing.T) {
	dir, _ := sweepWorktree(t)
	src := []byte("package main\n\nconst LR = 0.008\n\nfunc main() { _ = LR }\n")
	if err := os.WriteFile(filepath.Join(dir, "gpt", "train.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	rows := []results.Row{
		{Commit: "a", Status: results.Keep, Description: "baseline"},
		{Commit: "b", Status: results.Keep, Description: "LR 0.004 -> 0.008"},
	}
	for n := 2; n < 6; n++ {
		p, err := NewSweep(int64(n)).Propose(context.Background(), sweepReq(dir, n, rows))
		if err != nil {
			t.Fatal(err)
		}
		if p.Description != "LR 0.008 -> 0.016" {
			t.Errorf("seed %d proposed %q: 0.004 is the kept change's parent, measured already", n, p.Description)
		}
		if err := os.WriteFile(filepath.Join(dir, "gpt", "train.go"), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var descRE = regexp.MustCompile(`^([A-Z_]+) (.+) -> (.+)$`)

func TestSweepEditsOneConstantGofmtedAndDescribed(t *testing.T) {
	dir, orig := sweepWorktree(t)
	s := NewSweep(7)
	p, err := s.Propose(context.Background(), sweepReq(dir, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	out := testfs.ReadFile(t, filepath.Join(dir, "gpt", "train.go"))
	if f, _ := format.Source(out); string(f) != string(out) {
		t.Error("the edited file is not gofmt'ed")
	}
	m := descRE.FindStringSubmatch(p.Description)
	if m == nil {
		t.Fatalf("description %q is not NAME old -> new", p.Description)
	}
	before, _ := Constants(orig)
	after, err := Constants(out)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for i := range before {
		if before[i].Value != after[i].Value {
			changed++
			if before[i].Name != m[1] || before[i].Value != m[2] || after[i].Value != m[3] {
				t.Errorf("changed %s %s -> %s, described %q", before[i].Name, before[i].Value, after[i].Value, p.Description)
			}
		}
	}
	if changed != 1 {
		t.Errorf("%d constants changed, want 1", changed)
	}
	if _, err := s.Repair(context.Background(), sweepReq(dir, 1, nil), Failure{Kind: "build"}); !errors.Is(err, ErrGaveUp) {
		t.Errorf("Repair: %v, want ErrGaveUp", err)
	}
}

func TestSweepIsDeterministicForASeed(t *testing.T) {
	propose := func(seed int64, n int) (string, string) {
		dir, _ := sweepWorktree(t)
		p, err := NewSweep(seed).Propose(context.Background(), sweepReq(dir, n, nil))
		if err != nil {
			t.Fatal(err)
		}
		b := testfs.ReadFile(t, filepath.Join(dir, "gpt", "train.go"))
		return p.Description, string(b)
	}
	descs := map[string]bool{}
	for n := 1; n <= 6; n++ {
		d1, f1 := propose(42, n)
		d2, f2 := propose(42, n)
		if d1 != d2 || f1 != f2 {
			t.Errorf("seed 42, experiment %d: %q then %q", n, d1, d2)
		}
		descs[d1] = true
	}
	if len(descs) < 3 {
		t.Errorf("six experiments drew only %v", descs)
	}
	var other []string
	for seed := int64(1); seed <= 5; seed++ {
		d, _ := propose(seed, 1)
		other = append(other, d)
	}
	same := true
	for _, d := range other[1:] {
		same = same && d == other[0]
	}
	if same {
		t.Errorf("five seeds all proposed %q", other[0])
	}
}

func TestSweepNeverRepeatsAndEnds(t *testing.T) {
	dir, orig := sweepWorktree(t)
	cs, _ := Constants(orig)
	total := 0
	for _, c := range cs {
		total += len(c.Neighbours())
	}
	s := NewSweep(3)
	var rows []results.Row
	seen := map[string]bool{}
	for n := 1; ; n++ {
		// Every change is discarded: the file goes back to the original.
		if err := os.WriteFile(filepath.Join(dir, "gpt", "train.go"), orig, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := s.Propose(context.Background(), sweepReq(dir, n, rows))
		if errors.Is(err, ErrExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		m := descRE.FindStringSubmatch(p.Description)
		if m == nil || seen[m[1]+"="+m[3]] {
			t.Fatalf("experiment %d repeats or is malformed: %q", n, p.Description)
		}
		seen[m[1]+"="+m[3]] = true
		rows = append(rows, results.Row{Commit: fmt.Sprintf("%07d", n), Value: 1, Status: results.Discard, Description: p.Description})
		if n > total {
			t.Fatalf("more than %d proposals", total)
		}
	}
	if len(seen) != total {
		t.Errorf("tried %d pairs before the end, want all %d", len(seen), total)
	}
}

func TestSweepTreatsEqualNumbersAsTheSameTry(t *testing.T) {
	dir, _ := sweepWorktree(t)
	src := []byte("package main\n\nconst LR = 0.0006\n\nfunc main() { _ = LR }\n")
	if err := os.WriteFile(filepath.Join(dir, "gpt", "train.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	rows := []results.Row{{Commit: "a", Status: results.Keep, Description: "LR 6e-4 -> 3e-4"}}
	p, err := NewSweep(1).Propose(context.Background(), sweepReq(dir, 2, rows))
	if err != nil {
		t.Fatal(err)
	}
	if p.Description != "LR 0.0006 -> 0.0012" {
		t.Errorf("proposed %q: 0.0003 was tried as 3e-4 already", p.Description)
	}
}

// textFiles hold numeric assignments of upper-case names as Python, shell,
// TOML and YAML write them, among lines the sweep must leave alone.
var textFiles = map[string]string{
	"strategy.py": `"""A strategy."""
FAST_WINDOW = 10  # days
SLOW_WINDOW: int = 40
THRESHOLD = 0.5
lower_case = 3
NAME = "text"
SCALE = 2 * FAST_WINDOW
    INNER = 7

def f():
    return 1
`,
	"run.sh":    "#!/bin/sh\nexport THREADS=4\nSTEPS=100\necho $STEPS\n",
	"conf.toml": "LR = 3e-4\n[model]\nDEPTH = 6\nname = \"x\"\n",
	"conf.yaml": "model:\n  WIDTH: 256\n  dropout: 0.1\nDECAY: .95\n",
}

func TestTextConstants(t *testing.T) {
	want := map[string][]string{
		"strategy.py": {"FAST_WINDOW=10 int", "SLOW_WINDOW=40 int", "THRESHOLD=0.5 float", "INNER=7 int"},
		"run.sh":      {"THREADS=4 int", "STEPS=100 int"},
		"conf.toml":   {"LR=3e-4 float", "DEPTH=6 int"},
		"conf.yaml":   {"WIDTH=256 int", "DECAY=.95 float"},
	}
	for name, src := range textFiles {
		var got []string
		for _, c := range TextConstants([]byte(src)) {
			got = append(got, c.Name+"="+c.Value+" "+c.Kind)
			if src[c.start:c.end] != c.Value {
				t.Errorf("%s: %s's offsets hold %q", name, c.Name, src[c.start:c.end])
			}
		}
		if !reflect.DeepEqual(got, want[name]) {
			t.Errorf("%s: %v, want %v", name, got, want[name])
		}
	}
}

// The sweep on text files follows the Go rules: one value changed per
// proposal, described NAME old -> new, deterministic, never repeated, and it
// ends when every neighbour was tried.
func TestSweepOnTextFiles(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for name, src := range textFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, name)
	}
	total := 0
	for _, src := range textFiles {
		for _, c := range TextConstants([]byte(src)) {
			total += len(c.Neighbours())
		}
	}
	var rows []results.Row
	seen := map[string]bool{}
	for n := 1; ; n++ {
		req := Request{N: n, Worktree: dir, Task: task.Task{Editable: paths}, Results: rows}
		p, err := NewSweep(5).Propose(context.Background(), req)
		if errors.Is(err, ErrExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		m := descRE.FindStringSubmatch(p.Description)
		if m == nil || seen[m[1]+"="+m[3]] {
			t.Fatalf("experiment %d repeats or is malformed: %q", n, p.Description)
		}
		seen[m[1]+"="+m[3]] = true
		// Exactly one line of one file changed, to the described value.
		changed := 0
		for name, src := range textFiles {
			b := testfs.ReadFile(t, filepath.Join(dir, name))
			if string(b) == src {
				continue
			}
			changed++
			after := TextConstants(b)
			for i, c := range TextConstants([]byte(src)) {
				if c.Value != after[i].Value && (c.Name != m[1] || c.Value != m[2] || after[i].Value != m[3]) {
					t.Errorf("%s: %s %s -> %s, described %q", name, c.Name, c.Value, after[i].Value, p.Description)
				}
			}
			os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644) // discarded
		}
		if changed != 1 {
			t.Fatalf("%q changed %d files", p.Description, changed)
		}
		rows = append(rows, results.Row{Commit: fmt.Sprintf("%07d", n), Value: 1, Status: results.Discard, Description: p.Description})
		if n > total {
			t.Fatalf("more than %d proposals", total)
		}
	}
	if len(seen) != total {
		t.Errorf("tried %d changes before the end, want all %d", len(seen), total)
	}
	// The same seed and number give the same change.
	a, _ := NewSweep(9).Propose(context.Background(), Request{N: 3, Worktree: dir, Task: task.Task{Editable: paths}})
	for name, src := range textFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := NewSweep(9).Propose(context.Background(), Request{N: 3, Worktree: dir, Task: task.Task{Editable: paths}})
	if a.Description != b.Description {
		t.Errorf("seed 9, experiment 3: %q then %q", a.Description, b.Description)
	}
}

func TestSweepSaysWhatItCanChange(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prompt.txt"), []byte("Answer briefly.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := NewSweep(1).Propose(context.Background(), Request{Worktree: dir, Task: task.Task{Editable: []string{"prompt.txt"}}})
	if err == nil || !regexp.MustCompile(`prompt.txt has no value the sweep can change: .*LR = 0.01`).MatchString(err.Error()) {
		t.Errorf("error %v", err)
	}
}

// A change in flight on another worker is not proposed again: with every
// move but one tried or in flight, the sweep proposes that one, and with it
// in flight too, it has nothing left.
func TestSweepSkipsChangesInFlight(t *testing.T) {
	dir, orig := sweepWorktree(t)
	cs, err := Constants(orig)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, c := range cs {
		for _, v := range c.Neighbours() {
			all = append(all, fmt.Sprintf("%s %s -> %s", c.Name, c.Value, v))
		}
	}
	last := all[len(all)-1]
	req := sweepReq(dir, 1, nil)
	req.InFlight = all[:len(all)-1]
	p, err := NewSweep(1).Propose(context.Background(), req)
	if err != nil || p.Description != last {
		t.Fatalf("proposed %q, %v; want the one move not in flight, %q", p.Description, err, last)
	}
	if err := os.WriteFile(filepath.Join(dir, "gpt", "train.go"), orig, 0o644); err != nil {
		t.Fatal(err)
	}
	req.InFlight = all
	if _, err := NewSweep(1).Propose(context.Background(), req); !errors.Is(err, ErrExhausted) {
		t.Fatalf("with every move in flight: %v, want ErrExhausted", err)
	}
}
