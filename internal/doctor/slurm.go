package doctor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"autoresearch/internal/gitops"
	"autoresearch/internal/runner"
)

// slurmJobTimeout bounds the test job of checkSlurm: queueing included.
const slurmJobTimeout = 2 * time.Minute

// checkSlurm checks what --executor slurm needs: Slurm's commands, a
// controller that answers, and, with a real job, that a node sees the
// repository and the data home at the same paths and can write there (the
// job runs the program built here, in the run's folder, on the data).
func checkSlurm(ctx context.Context, env Env) []Check {
	if env.Executor != "slurm" {
		return nil
	}
	out, err := env.Run(ctx, "sinfo", "-h", "-o", "%P %a %D %t")
	if err != nil {
		if e := runner.NoSlurmConfig("sinfo", []byte(err.Error())); e != nil {
			return []Check{{"slurm", Problem, e.Error()}}
		}
		return []Check{{"slurm", Problem, fmt.Sprintf("sinfo: %v: install Slurm's client commands and check that the controller answers (SLURM_CONF), or use --executor local", err)}}
	}
	checks := []Check{{"slurm", OK, "partitions: " + strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", "; ")), " ")}}
	root, err := gitops.Root(env.Dir)
	if err != nil {
		return append(checks, Check{"slurm shared files", Problem, err.Error()})
	}
	dir := filepath.Join(root, ".autoresearch")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return append(checks, Check{"slurm shared files", Problem, err.Error()})
	}
	mark := filepath.Join(dir, fmt.Sprintf("doctor-%d.out", os.Getpid()))
	defer os.Remove(mark)
	script := fmt.Sprintf("test -d %s && test -d %s && echo shared", shellQuote(root), shellQuote(env.Home))
	args := append([]string{"--wait", "--quiet", "--export=ALL", "--job-name=autoresearch-doctor", "--output=" + mark}, env.SlurmArgs...)
	jctx, cancel := context.WithTimeout(ctx, slurmJobTimeout)
	defer cancel()
	_, err = env.Run(jctx, "sbatch", append(args, "--wrap", script)...)
	b, _ := os.ReadFile(mark)
	switch {
	case strings.TrimSpace(string(b)) == "shared":
		return append(checks, Check{"slurm shared files", OK, fmt.Sprintf("a job on a node saw %s and %s and wrote in %s", root, env.Home, dir)})
	case jctx.Err() != nil:
		return append(checks, Check{"slurm shared files", Note, fmt.Sprintf("the test job did not end within %s (a busy queue?): check by hand that the nodes see %s and %s", slurmJobTimeout, root, env.Home)})
	}
	return append(checks, Check{"slurm shared files", Problem, fmt.Sprintf("a job on a node does not see %s and %s, or cannot write there (%v): put the repository and $AUTORESEARCH_HOME on a filesystem the nodes share, at the same paths", root, env.Home, err)})
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
