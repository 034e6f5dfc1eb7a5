package doctor

import (
	"context"
	"fmt"
	"strings"

	"autoresearch/internal/gitops"
	"autoresearch/internal/task"
)

// checkTask checks the task file of the repository holding env.Dir, when it
// has one: that it loads, that the programs it runs are on PATH, and that the
// LLM agent has its instructions. ok is false without a task file: the run
// is the GPT's. A task needs neither prepared data nor a GPU of its own, and
// Go only when it runs go.
func checkTask(ctx context.Context, env Env) (checks []Check, ok bool) {
	root, err := gitops.Root(env.Dir)
	if err != nil || !task.Exists(root) {
		return nil, false
	}
	t, err := task.Load(root, task.Options{})
	if err != nil {
		return []Check{{"task", Problem, err.Error()}}, true
	}
	build := "no build"
	if len(t.Build.Argv) > 0 {
		build = "build " + strings.Join(t.Build.Argv, " ")
	}
	checks = append(checks, Check{"task", OK, fmt.Sprintf("%s: %s (%s), %s, run %s, budget %s",
		task.File, t.Metric.Name, t.Metric.Direction(), build, strings.Join(t.Run.Argv, " "), t.Budget())})
	usesGo := false
	for _, tl := range t.Tools(env.LookPath) {
		usesGo = usesGo || tl.Name == "go"
		switch {
		case tl.Err != nil:
			checks = append(checks, Check{"task program", Problem, fmt.Sprintf("%s runs %s, which is not on PATH: install it, or change %s", task.File, tl.Name, task.File)})
		case tl.InHome:
			checks = append(checks, Check{"task program", Note, fmt.Sprintf("%s is %s, in your home folder, where the sandbox lets the program read nothing: put a system %s first on PATH, or run with --sandbox off", tl.Name, tl.Path, tl.Name)})
		default:
			checks = append(checks, Check{"task program", OK, tl.Name + ": " + tl.Path})
		}
	}
	if usesGo {
		checks = append(checks, checkGo(ctx, env))
	}
	if t.Program == "" {
		level := Problem
		if env.Agent == "sweep" {
			level = Note
		}
		checks = append(checks, Check{"task program.md", level, fmt.Sprintf("%s names no program for the LLM agent: add program = \"program.md\" (autoresearch init writes a skeleton), or pass run --program FILE", task.File)})
	}
	return checks, true
}
