package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"autoresearch/internal/testfs"
)

const taskFile = `editable = ["score.sh"]
run = ["sh", "score.sh"]
budget = "10s"
program = "program.md"
[metric]
name = "score"
pattern = '^score: (\d+)'
direction = "higher"
`

// In a repository with a task file, doctor checks the task instead of the
// GPT's needs: no prepared data, no GPU, Go only when the task runs go.
func TestTaskRepository(t *testing.T) {
	m := healthy(t)
	m.prepared, m.gpu, m.goVersion = nil, "", ""
	m.files = map[string]string{"autoresearch.toml": taskFile, "score.sh": "echo score: 1\n", "program.md": "raise the score\n"}
	checks := m.run(t)
	if p := problems(checks); len(p) != 0 {
		t.Errorf("problems %v for a task that needs no data, GPU or Go: %v", p, checks)
	}
	expect(t, checks, "task", OK, "autoresearch.toml: score (higher is better), no build, run sh score.sh, budget 10s")
	expect(t, checks, "task program", OK, "sh: ")
	for _, name := range []string{"data smoke", "gpu", "go"} {
		if _, ok := checks[name]; ok {
			t.Errorf("a task repository has a %q check: %v", name, checks[name])
		}
	}

	// Go is checked when the task runs go; a missing program fails.
	m.files["autoresearch.toml"] = strings.Replace(taskFile, `run = ["sh", "score.sh"]`, `build = ["go", "vet", "."]`+"\n"+`run = ["no-such-program-here", "x"]`, 1)
	checks = m.run(t)
	expect(t, checks, "go", Problem, "no Go toolchain on PATH")
	expect(t, checks, "task program", Problem, "runs no-such-program-here, which is not on PATH")

	// A broken task file is a problem that names the line and the fix.
	m.files["autoresearch.toml"] = strings.Replace(taskFile, `direction = "higher"`, `direction = "up"`, 1)
	expect(t, m.run(t), "task", Problem, `line 8: metric.direction: "up" is not a direction`)

	// Without a program the llm agent is blocked, the sweep agent is not.
	m.files["autoresearch.toml"] = strings.Replace(taskFile, `program = "program.md"`, "", 1)
	expect(t, m.run(t), "task program.md", Problem, "names no program")
	m.agent = "sweep"
	expect(t, m.run(t), "task program.md", Note, "names no program")
}

// A task that runs python3 gets the interpreter PATH finds, resolved as a
// run's setup resolves it: doctor lists what the sandbox will allow.
func TestTaskPythonIsResolved(t *testing.T) {
	home := t.TempDir()
	env := filepath.Join(home, "miniconda3", "envs", "forecast")
	testfs.PythonPrefix(t, testfs.SystemPython(t), env, nil)
	t.Setenv("PATH", filepath.Join(env, "bin")+":"+os.Getenv("PATH"))
	m := healthy(t)
	m.files = map[string]string{"autoresearch.toml": strings.Replace(taskFile, `run = ["sh", "score.sh"]`, `run = ["python3", "score.py"]`, 1),
		"score.sh": "", "program.md": "raise the score\n"}
	checks := m.run(t)
	expect(t, checks, "task python", OK, "python3 is "+filepath.Join(env, "bin", "python3"))
	expect(t, checks, "sandbox allows", OK, "read "+env+": python3's installation (sys.prefix)")
	if c, ok := checks["task program"]; ok {
		t.Errorf("the resolved interpreter is checked as a program on PATH too: %v", c)
	}
}
