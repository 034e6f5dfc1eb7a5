//go:build slurm

// A real job on a real cluster: `make test-slurm` starts one.

package doctor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"autoresearch/internal/gitops/gittest"
)

func TestSlurmSharedFilesCheckedByAJob(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "README"), []byte("a project\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := gittest.CommitTree(t, src, "a project")
	for _, c := range []struct {
		home string
		want Level
	}{{t.TempDir(), OK}, {"/nonexistent/autoresearch-home", Problem}} {
		env := System()
		env.Dir, env.Home, env.Executor = repo, c.home, "slurm"
		checks := checkSlurm(context.Background(), env)
		if len(checks) != 2 || checks[0].Level != OK || checks[1].Level != c.want {
			t.Errorf("home %s: %+v, want sinfo ok and the shared files %v", c.home, checks, c.want)
		}
	}
}
