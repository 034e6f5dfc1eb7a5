package experiment

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"autoresearch/internal/agent"
	"autoresearch/internal/sandbox"
	"autoresearch/internal/testfs"
)

// edit replaces old with new in the worktree's gpt/train.go.
func edit(t testing.TB, old, new string) func(agent.Request) {
	return func(req agent.Request) {
		p := filepath.Join(req.Worktree, "gpt", "train.go")
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), old) {
			t.Fatalf("gpt/train.go lacks %q (%v)", old, err)
		}
		testfs.WriteFile(t, p, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
	}
}

// An import outside the baseline's and the allowlist goes back to the agent
// like a compile error: its check tool says so, nothing is built, and a fix
// that drops it runs.
func TestImportOutsideTheAllowlistGoesBackToTheAgent(t *testing.T) {
	t.Parallel()
	r, err := Setup(toyConfig(newUserRepo(t), "imp"), &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var checked string
	addExec := func(req agent.Request) {
		edit(t, "\t\"os\"\n", "\t\"os\"\n\t\"os/exec\"\n")(req)
		edit(t, "func main() {", "var _ = exec.Command\n\nfunc main() {")(req)
		checked, _ = req.Check(context.Background())
	}
	dropExec := func(req agent.Request) {
		edit(t, "\t\"os/exec\"\n", "")(req)
		edit(t, "var _ = exec.Command\n", "")(req)
		set(t, "VALUE", "0.5")(req)
	}
	p := newScripted(t, idea{desc: "shell out", edit: addExec, fixes: []func(agent.Request){dropExec}})
	if _, err := r.Loop(context.Background(), Options{Proposer: p, FixAttempts: 2}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(checked, `gpt/train.go imports "os/exec"`) {
		t.Errorf("the check tool said %q", checked)
	}
	f := p.failures[1]
	if len(f) != 1 || f[0].Kind != "build" || !strings.Contains(f[0].Output, `imports "os/exec"`) || !strings.Contains(f[0].Output, "Remove the import") {
		t.Fatalf("the repair saw %+v", f)
	}
	if rows := r.Rows(); len(rows) != 2 || rows[1].Status != "keep" || rows[1].Value != 0.5 {
		t.Errorf("rows %+v, want the fixed change kept", rows)
	}
}

// A program that rewrites the harness: confined, its write fails and the
// experiment counts; unconfined, the check after the run makes it a crash
// with that reason, and the harness is restored.
func TestProgramThatChangesTheWorktreeIsACrash(t *testing.T) {
	t.Parallel()
	scribble := edit(t, "func main() {", `func init() {
	f, err := os.OpenFile("harness/harness.go", os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		f.WriteString("\nvar Cheat = true\n")
		f.Close()
	}
}

func main() {`)
	for _, mode := range []sandbox.Mode{sandbox.Auto, sandbox.Off} {
		t.Run(string(mode), func(t *testing.T) {
			if mode == sandbox.Auto && sandbox.Probe().Landlock == 0 {
				t.Skip("this kernel has no Landlock")
			}
			r, err := Setup(toyConfig(newUserRepo(t), "scribble"), &recorder{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			r.Sandbox = mode
			harnessFile := filepath.Join(r.Worktree(), "harness", "harness.go")
			before := testfs.ReadFile(t, harnessFile)
			p := newScripted(t, idea{desc: "rewrite the harness", edit: func(req agent.Request) { scribble(req); set(t, "VALUE", "0.5")(req) }})
			if _, err := r.Loop(context.Background(), Options{Proposer: p}); err != nil {
				t.Fatal(err)
			}
			recs, err := ReadRecords(filepath.Join(r.Dir, RecordsFile))
			if err != nil {
				t.Fatal(err)
			}
			last := recs[len(recs)-1]
			switch mode {
			case sandbox.Auto:
				if last.Status != "keep" {
					t.Errorf("confined: %s (%s), want keep: the write should have failed harmlessly", last.Status, last.Reason)
				}
			case sandbox.Off:
				if last.Status != "crash" || last.Crash != "runtime" || !strings.Contains(last.Reason, "changed files outside its scratch folder: harness/harness.go") {
					t.Errorf("unconfined: %s/%s (%s), want a runtime crash naming harness/harness.go", last.Status, last.Crash, last.Reason)
				}
			}
			if after := testfs.ReadFile(t, harnessFile); string(after) != string(before) {
				t.Errorf("the harness was left changed:\n%s", after)
			}
		})
	}
}
