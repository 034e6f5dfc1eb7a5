package doctor

import (
	"context"
	"fmt"
	"strings"

	"autoresearch/internal/gitops"
	"autoresearch/internal/runner"
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
	checks = append(checks, checkPython(ctx, root, t, env)...)
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

// checkPython resolves a Python run command as a run's setup does
// (task.AllowPython) and lists what the sandbox will let the program use,
// and why. t's run command then names the interpreter, so that the tools'
// check skips it.
func checkPython(ctx context.Context, root string, t *task.Task, env Env) []Check {
	name := ""
	if len(t.Run.Argv) > 0 {
		name = t.Run.Argv[0]
	}
	py, err := t.AllowPython(ctx, root, runner.RunEnv(t.Run.Env...), env.LookPath)
	switch {
	case err != nil:
		return []Check{{"task python", Problem, fmt.Sprintf("%v: the sandbox cannot be told what %s needs; fix the interpreter, or run with --sandbox off", err, name)}}
	case !py:
		return nil
	}
	checks := []Check{{"task python", OK, fmt.Sprintf("%s is %s; runs start it directly, its folder first on PATH", name, t.Run.Argv[0])}}
	for _, a := range t.Allowed {
		verb := "read"
		if a.Exec {
			verb = "execute"
		}
		checks = append(checks, Check{"sandbox allows", OK, fmt.Sprintf("%s %s: %s", verb, a.Path, a.Why)})
	}
	return checks
}
