package doctor

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// sinfo without a configuration: doctor says what Slurm lacks and how to
// give it one, not Slurm's own fatal line alone.
func TestSlurmWithoutConfiguration(t *testing.T) {
	env := Env{Executor: "slurm", Run: func(_ context.Context, name string, _ ...string) ([]byte, error) {
		return nil, fmt.Errorf("exit status 1: %s: error: fetch_config: DNS SRV lookup failed\n%s: fatal: Could not establish a configuration source", name, name)
	}}
	checks := checkSlurm(context.Background(), env)
	if len(checks) != 1 || checks[0].Level != Problem || !strings.Contains(checks[0].Msg, "Slurm has no configuration") || !strings.Contains(checks[0].Msg, "SLURM_CONF") {
		t.Errorf("checks %+v", checks)
	}
}
