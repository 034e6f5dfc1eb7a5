package gpttask

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"autoresearch/harness"
	"autoresearch/internal/experiment"
	"autoresearch/internal/gitops/gittest"
	"autoresearch/internal/task"
)

// runJSON sets up a run of t in repo and returns its run.json as JSON values.
func runJSON(t *testing.T, repo, tag string, tk task.Task) map[string]any {
	t.Helper()
	r, err := experiment.Setup(experiment.Config{Tag: tag, Repo: repo, Task: tk}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := os.ReadFile(filepath.Join(r.Dir, experiment.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The task file of programs/examples/gpt describes the built-in GPT task
// exactly: a run of each in the same repository has the same task in its
// run.json, field by field.
func TestTheGPTTaskFileIsTheBuiltInTask(t *testing.T) {
	home := t.TempDir()
	t.Setenv(harness.EnvHome, home)
	example, err := os.ReadFile(filepath.Join("..", "..", "..", "programs", "examples", "gpt", task.File))
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	for name, content := range map[string]string{
		"gpt/train.go": "package main\n\nfunc main() {}\n", "programs/program.md": "# program\n", "go.mod": "module autoresearch\n",
	} {
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo := gittest.CommitTree(t, src, "the GPT")
	fromFile, err := task.Parse(example, task.File, func(p string) bool {
		_, err := os.Stat(filepath.Join(repo, p))
		return err == nil
	}, task.Options{})
	if err != nil {
		t.Fatal(err)
	}
	smoke, err := harness.LookupProfile("smoke")
	if err != nil {
		t.Fatal(err)
	}
	builtin := runJSON(t, repo, "builtin", New(Options{Profile: smoke, Home: home, Device: "cpu"}))
	file := runJSON(t, repo, "file", *fromFile)

	// Fields of the run, not of the task, that differ between two runs by
	// construction: their names, branches and the time they were set up.
	// (base_commit is the same repository's HEAD; noise comes with a
	// baseline, which neither has run.)
	ignoredRun := []string{"tag", "branch", "created"}
	for k := range builtin {
		if k == "task" || slices.Contains(ignoredRun, k) {
			continue
		}
		if !reflect.DeepEqual(builtin[k], file[k]) {
			t.Errorf("run.json %s: built-in %v, task file %v", k, builtin[k], file[k])
		}
	}
	// Of the task: source says which of the two made it, and profile is the
	// built-in task's label for the reader (a task file's program reads its
	// profile from env, as this one does).
	ignoredTask := []string{"source", "profile"}
	bt, ft := builtin["task"].(map[string]any), file["task"].(map[string]any)
	keys := map[string]bool{}
	for k := range bt {
		keys[k] = true
	}
	for k := range ft {
		keys[k] = true
	}
	compared := 0
	for k := range keys {
		if slices.Contains(ignoredTask, k) {
			continue
		}
		compared++
		if !reflect.DeepEqual(bt[k], ft[k]) {
			t.Errorf("task.%s:\n built-in  %v\n task file %v", k, bt[k], ft[k])
		}
	}
	// Every field the acceptance names is there to compare.
	for _, k := range []string{"editable", "shared", "build", "run", "device", "budget_seconds", "hard_limit_seconds",
		"limits", "readable", "metric", "memory", "progress", "warmup", "fail_line", "prompt", "program", "requires"} {
		if _, ok := bt[k]; !ok {
			t.Errorf("the built-in task's run.json has no %s", k)
		}
	}
	t.Logf("compared %d fields of the task; ignored %v of the task and %v of the run", compared, ignoredTask, ignoredRun)
}
