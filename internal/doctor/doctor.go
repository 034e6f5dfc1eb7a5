package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"autoresearch/harness"
	"autoresearch/internal/agent"
	"autoresearch/internal/gitops"
	"autoresearch/internal/sandbox"
)

// Level is how a check ended.
type Level int

const (
	OK Level = iota
	Note
	Problem
)

func (l Level) String() string {
	switch l {
	case OK:
		return "ok"
	case Note:
		return "note"
	}
	return "FAIL"
}

// Check is the result of one check.
type Check struct {
	Name  string
	Level Level
	Msg   string // what was found; for a problem, what is wrong and the fix
}

// Env is everything the checks look at.
type Env struct {
	Getenv    func(key string) string
	Run       func(ctx context.Context, name string, args ...string) ([]byte, error) // a command's stdout
	HTTP      *http.Client
	FreeBytes func(path string) (uint64, error) // free space of the file system holding path
	Home      string                            // prepared data root; default from AUTORESEARCH_HOME
	Dir       string                            // where to look for the repository
	Profile   string                            // the profile a run will use; default from AUTORESEARCH_PROFILE
	Agent     string                            // "llm" (default) or "sweep"
	Sandbox   func() sandbox.Support            // what the kernel offers the sandbox; nil skips the check
	// LookPath finds a task's programs; exec.LookPath when nil.
	LookPath func(file string) (string, error)
	// Executor is where a run's training runs ("slurm" is checked with a
	// real job); SlurmArgs are its sbatch arguments.
	Executor  string
	SlurmArgs []string
}

// System is the Env of this process: its environment, PATH and network.
func System() Env {
	return Env{
		Getenv:    os.Getenv,
		Run:       runCommand,
		HTTP:      &http.Client{Timeout: 10 * time.Second},
		FreeBytes: freeBytes,
		Dir:       ".",
		Sandbox:   sandbox.Probe,
	}
}

// runCommand runs a program found on PATH and returns its stdout; a failure
// carries its stderr.
func runCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return out, fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return out, err
}

// The thresholds and defaults the checks use.
const (
	MinGo          = "1.26" // go.mod's go line
	lowDisk        = 5 << 30
	tooLittleDisk  = 1 << 30
	commandTimeout = 15 * time.Second
)

// Run performs every check, in the order they are printed.
func Run(ctx context.Context, env Env) []Check {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	profileFrom := "--profile"
	if env.Profile == "" {
		env.Profile, profileFrom = env.Getenv(harness.EnvProfile), "$"+harness.EnvProfile
	}
	if env.Profile == "" {
		env.Profile = harness.DefaultProfile
	}
	if env.Home == "" {
		env.Home = env.Getenv(harness.EnvHome)
	}
	if env.Home == "" {
		env.Home = harness.Home()
	}
	if env.Agent == "" {
		env.Agent = "llm"
	}
	var checks []Check
	if tc, ok := checkTask(ctx, env); ok {
		checks = append(tc, checkDisk(env)...)
		checks = append(checks, checkSandbox(env)...)
		checks = append(checks, checkSlurm(ctx, env)...)
		return append(checks, checkLLM(ctx, env)...)
	}
	if _, err := harness.LookupProfile(env.Profile); err != nil {
		checks = append(checks, Check{"profile", Problem, profileFrom + ": " + err.Error()})
	}
	checks = append(checks, checkGo(ctx, env), checkGPU(ctx, env))
	checks = append(checks, checkData(env)...)
	checks = append(checks, checkDisk(env)...)
	checks = append(checks, checkSandbox(env)...)
	checks = append(checks, checkSlurm(ctx, env)...)
	checks = append(checks, checkLLM(ctx, env)...)
	return checks
}

// Write prints the checks, one a line, and returns the number of problems.
func Write(w io.Writer, checks []Check) (problems int, err error) {
	width := 0
	for _, c := range checks {
		width = max(width, len(c.Name))
	}
	for _, c := range checks {
		if c.Level == Problem {
			problems++
		}
		if _, err := fmt.Fprintf(w, "%-4s  %-*s  %s\n", c.Level, width, c.Name, c.Msg); err != nil {
			return problems, err
		}
	}
	return problems, nil
}

var goVersion = regexp.MustCompile(`go(\d+)\.(\d+)(\S*)`)

func checkGo(ctx context.Context, env Env) Check {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	out, err := env.Run(ctx, "go", "version")
	if errors.Is(err, exec.ErrNotFound) {
		return Check{"go", Problem, "no Go toolchain on PATH: install Go " + MinGo + " or newer (every experiment builds gpt/train.go)"}
	}
	if err != nil {
		return Check{"go", Problem, fmt.Sprintf("\"go version\" failed (%v): repair the Go installation", err)}
	}
	text := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "go version "))
	m := goVersion.FindStringSubmatch(text)
	if m == nil {
		return Check{"go", Problem, fmt.Sprintf("cannot read the Go version from %q: install Go %s or newer", text, MinGo)}
	}
	if !atLeast(m[1]+"."+m[2], MinGo) {
		return Check{"go", Problem, fmt.Sprintf("%s is older than the go%s the project needs: install Go %s or newer", m[0], MinGo, MinGo)}
	}
	return Check{"go", OK, text}
}

// atLeast compares major.minor versions.
func atLeast(have, want string) bool {
	parse := func(v string) (int, int) {
		a, b, _ := strings.Cut(v, ".")
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x, y
	}
	h1, h2 := parse(have)
	w1, w2 := parse(want)
	return h1 > w1 || (h1 == w1 && h2 >= w2)
}

func checkGPU(ctx context.Context, env Env) Check {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	missing := Note
	if env.Profile == "gpu" {
		missing = Problem
	}
	out, err := env.Run(ctx, "nvidia-smi", "--query-gpu=name,driver_version,memory.total,memory.used", "--format=csv,noheader,nounits")
	if errors.Is(err, exec.ErrNotFound) {
		msg := "no NVIDIA GPU (nvidia-smi not on PATH): training runs on the CPU, where the smoke and cpu profiles fit"
		if missing == Problem {
			msg = "profile gpu needs an NVIDIA GPU and none was found (nvidia-smi not on PATH): run on a GPU machine, or use the cpu profile"
		}
		return Check{"gpu", missing, msg}
	}
	if err != nil {
		return Check{"gpu", missing, fmt.Sprintf("nvidia-smi failed (%v): check the NVIDIA driver", err)}
	}
	var gpus []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, ",")
		if len(f) != 4 {
			continue
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		total, err1 := strconv.ParseFloat(f[2], 64)
		used, err2 := strconv.ParseFloat(f[3], 64)
		if err1 != nil || err2 != nil {
			gpus = append(gpus, fmt.Sprintf("%s, driver %s", f[0], f[1]))
			continue
		}
		gpus = append(gpus, fmt.Sprintf("%s, driver %s, %.1f GiB (%.1f GiB in use)", f[0], f[1], total/1024, used/1024))
	}
	if len(gpus) == 0 {
		return Check{"gpu", missing, fmt.Sprintf("nvidia-smi listed no GPU (%q): check the NVIDIA driver", strings.TrimSpace(string(out)))}
	}
	return Check{"gpu", OK, strings.Join(gpus, "; ")}
}

func checkData(env Env) []Check {
	var checks []Check
	for _, p := range harness.Profiles() {
		name := "data " + p.Name
		m, err := harness.ReadMeta(env.Home, p)
		if err != nil {
			level := Note
			if p.Name == env.Profile {
				level = Problem
			}
			checks = append(checks, Check{name, level, err.Error()})
			continue
		}
		checks = append(checks, Check{name, OK, fmt.Sprintf("%s: %s train and %s val tokens, vocab %d",
			m.Dataset, count(m.TrainTokens), count(m.ValTokens), m.VocabSize)})
	}
	return checks
}

func count(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f G", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f M", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f k", float64(n)/1e3)
	}
	return strconv.FormatInt(n, 10)
}

func checkDisk(env Env) []Check {
	var checks []Check
	checks = append(checks, diskCheck(env, "disk home", env.Home))
	root, err := gitops.Root(env.Dir)
	if err != nil {
		checks = append(checks, Check{"repo", Note, "not inside a git repository: run baseline and run from your project's checkout, or give them --repo DIR"})
		if root, err = filepath.Abs(env.Dir); err != nil {
			root = env.Dir
		}
	} else {
		checks = append(checks, Check{"repo", OK, root})
	}
	return append(checks, diskCheck(env, "disk repo", root))
}

func diskCheck(env Env, name, path string) Check {
	// The home folder may not exist before the first prepare: measure the
	// nearest folder that does.
	probe, _ := filepath.Abs(path)
	for {
		if _, err := os.Stat(probe); err == nil || filepath.Dir(probe) == probe {
			break
		}
		probe = filepath.Dir(probe)
	}
	free, err := env.FreeBytes(probe)
	if err != nil {
		return Check{name, Note, fmt.Sprintf("cannot tell the free space of %s: %v", path, err)}
	}
	msg := fmt.Sprintf("%s free in %s", gib(free), path)
	switch {
	case free < tooLittleDisk:
		return Check{name, Problem, msg + ": free some space (a run writes builds, logs and transcripts; prepared data needs more)"}
	case free < lowDisk:
		return Check{name, Note, msg + ": low, a long run or a larger dataset may fill it"}
	}
	return Check{name, OK, msg}
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

func checkLLM(ctx context.Context, env Env) []Check {
	// With the sweep agent no LLM is called: what would block the llm agent
	// is only worth a note.
	blocker := Problem
	if env.Agent == "sweep" {
		blocker = Note
	}
	// The agent's own resolution: the same default URL and "on this
	// machine" rule as a run.
	ep, err := agent.ResolveEndpoint("", "", env.Getenv)
	if err != nil {
		return []Check{{"llm endpoint", blocker, err.Error()}}
	}
	base, key := ep.BaseURL, ep.APIKey
	u, _ := url.Parse(base)
	var keyCheck Check
	switch {
	case key != "":
		keyCheck = Check{"llm key", OK, fmt.Sprintf("OPENAI_API_KEY is set (%d characters)", len(key))}
	case ep.Local:
		keyCheck = Check{"llm key", Note, "OPENAI_API_KEY is not set; a server on this machine often needs none"}
	default:
		keyCheck = Check{"llm key", blocker, fmt.Sprintf("OPENAI_API_KEY is not set: export OPENAI_API_KEY=<your key for %s>%s", u.Host, sweepHint(env))}
	}
	return []Check{checkEndpoint(ctx, env, base, key, blocker), keyCheck}
}

func sweepHint(env Env) string {
	if env.Agent == "sweep" {
		return ""
	}
	return ", or run with --agent sweep, which needs no LLM"
}

// checkEndpoint lists the models of an OpenAI-compatible server.
func checkEndpoint(ctx context.Context, env Env, base, key string, blocker Level) Check {
	const name = "llm endpoint"
	client := env.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/models", nil)
	if err != nil {
		return Check{name, blocker, err.Error()}
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Check{name, blocker, fmt.Sprintf("cannot reach %s (%v): check OPENAI_BASE_URL and that the server is up%s", base, shortNetError(err), sweepHint(env))}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return Check{name, blocker, fmt.Sprintf("%s refused the key (HTTP %d): check OPENAI_API_KEY", base, resp.StatusCode)}
	case resp.StatusCode == http.StatusNotFound:
		return Check{name, blocker, fmt.Sprintf("%s/models not found (HTTP 404): OPENAI_BASE_URL should be the API root, usually ending in /v1", base)}
	case resp.StatusCode != http.StatusOK:
		return Check{name, blocker, fmt.Sprintf("%s/models answered HTTP %d: check the server and OPENAI_BASE_URL", base, resp.StatusCode)}
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return Check{name, blocker, fmt.Sprintf("%s/models did not answer with a model list (%v): is OPENAI_BASE_URL an OpenAI-compatible API root?", base, err)}
	}
	ids := make([]string, 0, 3)
	for _, m := range list.Data {
		if len(ids) == cap(ids) {
			break
		}
		ids = append(ids, m.ID)
	}
	msg := fmt.Sprintf("%s lists %d models", base, len(list.Data))
	if len(ids) > 0 {
		msg += " (" + strings.Join(ids, ", ")
		if len(list.Data) > len(ids) {
			msg += ", …"
		}
		msg += ")"
	}
	return Check{name, OK, msg}
}

// shortNetError drops the request description a url.Error repeats.
func shortNetError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
