package runner

import (
	"context"
	"fmt"
	"strings"
)

// Executor runs a built training program once and waits for its end: on this
// machine (Local) or as a job of a cluster (Slurm). Every executor honours
// the Spec the same way: the environment, the hard limit (counted from the
// program's start, not from a queue), the output streamed to Spec.Output and
// parsed for progress and figures, and ctx's end stopping the program.
//
// Another executor plugs in by implementing Run: submit, report the job's id
// through Spec.Job, stream the job's output into the same parser, end the job
// at the hard limit, and turn an ending the executor decided (a node lost, a
// preemption) into a ClusterCrash with its reason.
type Executor interface {
	// Name is how run.json and the records name it: local or slurm.
	Name() string
	Run(ctx context.Context, s Spec) (*Result, error)
}

// Local runs the program as a child process of this one (Run).
type Local struct{}

func (Local) Name() string { return "local" }

func (Local) Run(ctx context.Context, s Spec) (*Result, error) { return Run(ctx, s) }

// The executors' names, as --executor takes them.
const (
	LocalExecutor = "local"
	SlurmExecutor = "slurm"
)

// NewExecutor returns the executor name names; args are its own arguments
// (sbatch's for slurm), refused for local.
func NewExecutor(name string, args []string) (Executor, error) {
	switch name {
	case "", LocalExecutor:
		if len(args) > 0 {
			return nil, fmt.Errorf("the local executor takes no arguments (got %q): --slurm-args is for --executor slurm", strings.Join(args, " "))
		}
		return Local{}, nil
	case SlurmExecutor:
		return &Slurm{Args: args}, nil
	}
	return nil, fmt.Errorf("unknown executor %q: use local or slurm", name)
}
