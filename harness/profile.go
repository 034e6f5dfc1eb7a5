package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"autoresearch/internal/contract"
)

// The environment variables through which the runner talks to a training
// program. They are the whole interface: the program reads them, nothing else.
// EnvHome and EnvResult are the program-to-loop contract's, shared by every
// task; the profile and the device are the GPT task's own.
const (
	EnvProfile = "AUTORESEARCH_PROFILE" // profile name; default smoke
	EnvHome    = contract.EnvHome       // prepared data root; default ~/.cache/autoresearch
	EnvDevice  = "AUTORESEARCH_DEVICE"  // cpu or cuda; default cpu
	EnvResult  = contract.EnvResult     // where to write the summary as JSON; optional
)

// Profile holds the harness constants. They are fixed for a whole research run
// (results are comparable only within one profile) and the training program
// can read them but never change them.
type Profile struct {
	Name           string
	MaxSeqLen      int     // context length T of training and evaluation
	VocabSize      int     // tokenizer vocabulary, special tokens included
	TimeBudget     float64 // training seconds, warm-up steps excluded
	EvalTokens     int     // validation tokens scored by EvaluateBPB
	DefaultDataset string  // what prepare uses without --dataset
	Allowance      float64 // wall-clock seconds for start-up and evaluation (see HardLimit)
}

var profiles = []Profile{
	{Name: "smoke", MaxSeqLen: 64, VocabSize: 512, TimeBudget: 5, EvalTokens: 1 << 14, DefaultDataset: "synthetic", Allowance: 25},
	{Name: "cpu", MaxSeqLen: 256, VocabSize: 2048, TimeBudget: 300, EvalTokens: 1 << 18, DefaultDataset: "sotu", Allowance: 120},
	{Name: "gpu", MaxSeqLen: 2048, VocabSize: 8192, TimeBudget: 300, EvalTokens: 40 * (1 << 19), DefaultDataset: "climbmix", Allowance: 120},
}

// HardLimit is the wall-clock time after which a runner kills a run with a
// budget of budget seconds on device, allowing allowance seconds for
// start-up and evaluation. Its steps end within MaxStretch budgets on the CPU
// (the budget clock counts CPU time, which a busy machine stretches) and
// within 1 + WarmupShare budgets on a GPU; one budget more, and the
// allowance, are for the evaluation and the summary.
func HardLimit(budget, allowance float64, device string) time.Duration {
	budgets := 2.0
	if device == DeviceCPU {
		budgets = MaxStretch + 1
	}
	return time.Duration((budgets*budget + allowance) * float64(time.Second))
}

// HardLimit is the profile's hard limit on device with the profile's own
// allowance: on the CPU 55 s for smoke's 5 s budget, 32 minutes for cpu's 5
// minutes; 12 minutes for gpu on a GPU.
func (p Profile) HardLimit(device string) time.Duration {
	return HardLimit(p.TimeBudget, p.Allowance, device)
}

// DefaultProfile is used when AUTORESEARCH_PROFILE is unset.
const DefaultProfile = "smoke"

// Profiles returns every profile, smallest first.
func Profiles() []Profile { return append([]Profile(nil), profiles...) }

// LookupProfile returns the profile called name.
func LookupProfile(name string) (Profile, error) {
	names := make([]string, len(profiles))
	for i, p := range profiles {
		if p.Name == name {
			return p, nil
		}
		names[i] = p.Name
	}
	return Profile{}, fmt.Errorf("unknown profile %q: use one of %s", name, strings.Join(names, ", "))
}

// CurrentProfile returns the profile named by AUTORESEARCH_PROFILE (default smoke).
func CurrentProfile() (Profile, error) {
	name := os.Getenv(EnvProfile)
	if name == "" {
		name = DefaultProfile
	}
	return LookupProfile(name)
}

// Home returns the root of prepared data: $AUTORESEARCH_HOME, else
// ~/.cache/autoresearch.
func Home() string { return contract.DataHome() }

// DataDir is where a profile's prepared data lives under home.
func DataDir(home string, p Profile) string { return filepath.Join(home, p.Name) }
