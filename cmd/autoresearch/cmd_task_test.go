package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"autoresearch/internal/experiment"
	"autoresearch/internal/gitops/gittest"
	"autoresearch/internal/results"
	"autoresearch/internal/task"
	"autoresearch/internal/testfs"
)

// exampleRepo commits a copy of a bundled example into a new repository, with
// the task file's budget replaced, and changes into it.
func exampleRepo(t *testing.T, name, budget string) string {
	t.Helper()
	src := filepath.Join("..", "..", "programs", "examples", name)
	tmp := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == task.File {
			b = regexp.MustCompile(`(?m)^budget = "[^"]*"`).ReplaceAll(b, []byte(`budget = "`+budget+`"`))
		}
		if err := os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo := gittest.CommitTree(t, tmp, name+" task")
	t.Chdir(repo)
	return repo
}

// The bundled examples run end to end with the sweep agent: a baseline, a
// few experiments that each change one knob of the editable file, keeps only
// in the metric's direction, and results, report and the summary that say
// which direction is better.
func TestExamplesWithTheSweepAgent(t *testing.T) {
	for _, ex := range []struct {
		name, budget, repeat, metric, knob string
		lower, memory                      bool
	}{
		{"backtest", "30s", "1", "sharpe", `^(FAST_WINDOW|SLOW_WINDOW|ENTRY_THRESHOLD|VOL_WINDOW|TARGET_VOL|MAX_LEVERAGE) \S+ -> \S+$`, false, true},
		{"gofast", "0.2s", "2", "cpu_ns_per_op", `^(InsertionCutoff|PivotSamples|ThreeWay|BinaryInsertion) \S+ -> \S+$`, true, false},
	} {
		t.Run(ex.name, func(t *testing.T) {
			if ex.name == "backtest" {
				if _, err := exec.LookPath("python3"); err != nil {
					t.Skip("python3 is not on PATH")
				}
				// The sandbox runs a system python3, not one from a
				// version manager in the home folder.
				if _, err := os.Stat("/usr/bin/python3"); err == nil {
					t.Setenv("PATH", "/usr/bin:"+os.Getenv("PATH"))
				}
			}
			repo := exampleRepo(t, ex.name, ex.budget)
			// The backtest is deterministic: one baseline run measures it.
			out, err := runCLI(t, "baseline", "--tag", "ex", "--repeat", ex.repeat)
			if err != nil {
				t.Fatalf("baseline: %v\n%s", err, out)
			}
			if !strings.Contains(out, "baseline "+ex.metric+" ") {
				t.Errorf("baseline said:\n%s", out)
			}
			out, err = runCLI(t, "run", "--tag", "ex", "--agent", "sweep", "--max-experiments", "3", "--seed", "2")
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out)
			}
			f, err := results.ReadFile(filepath.Join(repo, ".autoresearch", "ex", "results.tsv"))
			if err != nil {
				t.Fatal(err)
			}
			if f.Metric != ex.metric || len(f.Rows) != 4 {
				t.Fatalf("results.tsv has metric %q and %d rows, want %s and 4", f.Metric, len(f.Rows), ex.metric)
			}
			best := f.Rows[0].Value
			if f.Rows[0].Status != results.Keep {
				t.Errorf("baseline row %+v", f.Rows[0])
			}
			recs, err := experiment.ReadRecords(filepath.Join(repo, ".autoresearch", "ex", "experiments.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			if mb := recs[0].Figures[task.MemoryFigure]; ex.memory && mb <= 0 {
				t.Errorf("the baseline's memory was not read by the pattern: figures %v", recs[0].Figures)
			}
			knob := regexp.MustCompile(ex.knob)
			for _, r := range f.Rows[1:] {
				if !knob.MatchString(r.Description) {
					t.Errorf("row %q does not change one knob", r.Description)
				}
				better := r.Value > best
				if ex.lower {
					better = r.Value < best
				}
				// A keep beats the best in the metric's direction (a
				// discard may too, by less than the noise threshold).
				if r.Status == results.Keep && !better {
					t.Errorf("kept %q at %v though the best was %v (lower is better: %v)", r.Description, r.Value, best, ex.lower)
				}
				if r.Status == results.Keep {
					best = r.Value
				}
			}
			direction := "higher is better"
			if ex.lower {
				direction = "lower is better"
			}
			out, err = runCLI(t, "results")
			if err != nil || !strings.Contains(out, ex.metric) || !strings.Contains(out, "("+direction+")") {
				t.Errorf("results (%v):\n%s", err, out)
			}
			out, err = runCLI(t, "show", "1")
			if err != nil || !strings.Contains(out, f.Rows[1].Description) || !strings.Contains(out, ex.metric) {
				t.Errorf("show 1 (%v):\n%s", err, out)
			}
			out, err = runCLI(t, "report", "-o", filepath.Join(t.TempDir(), "progress.png"))
			if err != nil || !strings.Contains(out, "| metric | "+ex.metric+" ("+direction+") |") {
				t.Errorf("report (%v):\n%s", err, out)
			}
		})
	}
}

// A task file with a wrong key is refused before anything is set up, naming
// the line, the key and the fix.
func TestABadTaskFileIsRefusedBeforeAnythingRuns(t *testing.T) {
	tmp := t.TempDir()
	testfs.WriteFile(t, filepath.Join(tmp, "score.sh"), []byte("echo score: 1\n"), 0o644)
	testfs.WriteFile(t, filepath.Join(tmp, task.File), []byte("editable = [\"score.sh\"]\nrun = [\"sh\", \"score.sh\"]\nbudget = \"5s\"\n[metric]\nname = \"score\"\npattern = '^score: (\\d+)'\ndirection = \"up\"\n"), 0o644)
	repo := gittest.CommitTree(t, tmp, "task")
	t.Chdir(repo)
	_, err := runCLI(t, "baseline", "--tag", "x")
	if err == nil || !strings.Contains(err.Error(), `line 7: metric.direction: "up" is not a direction: write direction = "lower"`) {
		t.Errorf("baseline with direction = \"up\": %v", err)
	}
	if _, err := os.Stat(filepath.Join(repo, ".autoresearch")); !os.IsNotExist(err) {
		t.Errorf("the refused task set something up: %v", err)
	}
}

// A task whose program prints no line the pattern matches: the baseline is a
// crash that says so; a later fix of the file lets it run.
func TestATaskWithoutAMatchCrashesSayingSo(t *testing.T) {
	tmp := t.TempDir()
	testfs.WriteFile(t, filepath.Join(tmp, "score.sh"), []byte("LEVEL=3\necho \"score is $LEVEL\"\n"), 0o644)
	testfs.WriteFile(t, filepath.Join(tmp, task.File), []byte("editable = [\"score.sh\"]\nrun = [\"sh\", \"score.sh\"]\nbudget = \"5s\"\n[metric]\nname = \"score\"\npattern = '^score: (\\d+)'\ndirection = \"higher\"\n"), 0o644)
	repo := gittest.CommitTree(t, tmp, "task")
	t.Chdir(repo)
	_, err := runCLI(t, "baseline", "--tag", "x")
	if err == nil || !strings.Contains(err.Error(), "no line of the log matches the score pattern ^score: (\\d+)") {
		t.Errorf("baseline of a program that prints no match: %v", err)
	}
}

func TestInitWritesTheTemplatesAndNeverReplacesAFile(t *testing.T) {
	tmp := t.TempDir()
	testfs.WriteFile(t, filepath.Join(tmp, "README.md"), []byte("a project\n"), 0o644)
	repo := gittest.CommitTree(t, tmp, "a project")
	t.Chdir(repo)
	testfs.WriteFile(t, filepath.Join(repo, task.ProgramFile), []byte("mine\n"), 0o644)
	out, err := runCLI(t, "init")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "wrote autoresearch.toml in") || !strings.Contains(out, "kept program.md: it exists already") ||
		!strings.Contains(out, "fill in autoresearch.toml") {
		t.Errorf("init said:\n%s", out)
	}
	if b := testfs.ReadFile(t, filepath.Join(repo, task.ProgramFile)); string(b) != "mine\n" {
		t.Errorf("init replaced program.md: %q", b)
	}
	if b := testfs.ReadFile(t, filepath.Join(repo, task.File)); string(b) != task.Template {
		t.Errorf("autoresearch.toml is not the template")
	}
	// As written, the template names what to fill in before anything runs.
	if _, err := runCLI(t, "baseline", "--tag", "x"); err == nil || !strings.Contains(err.Error(), "strategy.py does not exist in the repository") {
		t.Errorf("baseline of the unfilled template: %v", err)
	}
	out, err = runCLI(t, "init")
	if err != nil || !strings.Contains(out, "kept autoresearch.toml and program.md: they exist already") || !strings.Contains(out, "nothing written") {
		t.Errorf("a second init (%v):\n%s", err, out)
	}
	if _, err := runCLI(t, "init", "--repo", t.TempDir()); err == nil || !strings.Contains(err.Error(), `run "git init" there first`) {
		t.Errorf("init outside a repository: %v", err)
	}
}
