package runner

import (
	"strings"
	"testing"
)

// Slurm's commands without a configuration end with a fatal line that does
// not say what to do; autoresearch says it. Other failures are left alone.
func TestNoSlurmConfigSaysWhatToDo(t *testing.T) {
	// What sbatch 22.05 prints on a machine with no slurm.conf and no
	// controller in DNS.
	out := []byte(`sbatch: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host
sbatch: error: fetch_config: DNS SRV lookup failed
sbatch: error: _establish_config_source: failed to fetch config
sbatch: fatal: Could not establish a configuration source
`)
	err := NoSlurmConfig("sbatch", out)
	if err == nil {
		t.Fatal("no error for a missing configuration")
	}
	for _, want := range []string{"Slurm has no configuration on this machine", "SLURM_CONF", "a node of the cluster",
		"scripts/slurm-local.sh start", `eval "$(scripts/slurm-local.sh env)"`, "--executor local"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the message lacks %q: %v", want, err)
		}
	}
	if err := NoSlurmConfig("sbatch", []byte("sbatch: error: invalid partition specified: gpu\n")); err != nil {
		t.Errorf("another failure read as a missing configuration: %v", err)
	}
}
