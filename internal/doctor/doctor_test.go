package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"

	"autoresearch/harness"
	"autoresearch/internal/agent"
	"autoresearch/internal/testfs"
)

// machine describes a machine for the checks; each test changes one part.
type machine struct {
	goVersion string // "" when go is not installed
	gpu       string // nvidia-smi's CSV output; "" when not installed
	prepared  []string
	free      uint64
	env       map[string]string
	agent     string
	profile   string
	files     map[string]string // written into the repository (a task file)
	client    *http.Client      // nil: a plain one
}

// healthy is a machine where nothing blocks a run.
func healthy(t *testing.T) *machine {
	srv := modelServer(t, "sk-test")
	return &machine{
		goVersion: "go version go1.26.8 linux/amd64",
		gpu:       "NVIDIA H100 80GB HBM3, 580.159.04, 81559, 1024\n",
		prepared:  []string{"smoke", "cpu", "gpu"},
		free:      100 << 30,
		env:       map[string]string{"OPENAI_BASE_URL": srv.URL + "/v1", "OPENAI_API_KEY": "sk-test"},
	}
}

// modelServer is an OpenAI-compatible /v1/models endpoint that wants key.
func modelServer(t *testing.T, key string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": []map[string]string{{"id": "gpt-5"}, {"id": "gpt-5-mini"}, {"id": "o4"}, {"id": "gpt-4.1"}}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// prepare writes the files ReadMeta accepts for a profile.
func prepare(t *testing.T, home string, p harness.Profile) {
	t.Helper()
	dir := harness.DataDir(home, p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(harness.Meta{Profile: p.Name, Dataset: p.DefaultDataset, VocabSize: p.VocabSize, TrainTokens: 2_500_000, ValTokens: 16384})
	if err := os.WriteFile(filepath.Join(dir, harness.MetaFile), meta, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{harness.TokenizerFile, harness.TrainFile, harness.ValFile} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (m *machine) run(t *testing.T) map[string]Check {
	t.Helper()
	home := t.TempDir()
	for _, name := range m.prepared {
		p, _ := harness.LookupProfile(name)
		prepare(t, home, p)
	}
	repo := t.TempDir()
	if _, err := git.PlainInit(repo, false); err != nil {
		t.Fatal(err)
	}
	for name, content := range m.files {
		if err := os.WriteFile(filepath.Join(repo, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := Env{
		Getenv: func(k string) string { return m.env[k] },
		Run: func(_ context.Context, name string, args ...string) ([]byte, error) {
			switch {
			case name == "go" && m.goVersion != "":
				return []byte(m.goVersion + "\n"), nil
			case name == "nvidia-smi" && m.gpu != "":
				return []byte(m.gpu), nil
			}
			return nil, &exec.Error{Name: name, Err: exec.ErrNotFound}
		},
		FreeBytes: func(string) (uint64, error) { return m.free, nil },
		Home:      home,
		Dir:       repo,
		Agent:     m.agent,
		Profile:   m.profile,
		HTTP:      m.client,
	}
	out := map[string]Check{}
	for _, c := range Run(context.Background(), env) {
		out[c.Name] = c
	}
	return out
}

func problems(checks map[string]Check) []string {
	var p []string
	for name, c := range checks {
		if c.Level == Problem {
			p = append(p, name)
		}
	}
	return p
}

func expect(t *testing.T, checks map[string]Check, name string, level Level, msg string) {
	t.Helper()
	c, ok := checks[name]
	if !ok {
		t.Fatalf("no %q check in %v", name, checks)
	}
	if c.Level != level || !strings.Contains(c.Msg, msg) {
		t.Errorf("%s: %s %q, want %s mentioning %q", name, c.Level, c.Msg, level, msg)
	}
}

func TestHealthyMachine(t *testing.T) {
	checks := healthy(t).run(t)
	if p := problems(checks); len(p) != 0 {
		t.Errorf("problems %v on a healthy machine: %v", p, checks)
	}
	expect(t, checks, "go", OK, "go1.26.8")
	expect(t, checks, "gpu", OK, "NVIDIA H100 80GB HBM3, driver 580.159.04, 79.6 GiB (1.0 GiB in use)")
	expect(t, checks, "data smoke", OK, "synthetic: 2.5 M train and 16.4 k val tokens, vocab 512")
	expect(t, checks, "disk home", OK, "100.0 GiB free")
	expect(t, checks, "disk repo", OK, "100.0 GiB free")
	expect(t, checks, "llm endpoint", OK, "lists 4 models (gpt-5, gpt-5-mini, o4, …)")
	expect(t, checks, "llm key", OK, "OPENAI_API_KEY is set")
}

func TestGo(t *testing.T) {
	m := healthy(t)
	m.goVersion = ""
	expect(t, m.run(t), "go", Problem, "install Go 1.26 or newer")
	m.goVersion = "go version go1.22.5 linux/amd64"
	expect(t, m.run(t), "go", Problem, "go1.22.5 is older than the go1.26")
	m.goVersion = "go version go1.27rc1 darwin/arm64"
	expect(t, m.run(t), "go", OK, "go1.27rc1")
}

func TestGPU(t *testing.T) {
	m := healthy(t)
	m.gpu = ""
	checks := m.run(t)
	expect(t, checks, "gpu", Note, "no NVIDIA GPU")
	if p := problems(checks); len(p) != 0 {
		t.Errorf("a missing GPU blocks the smoke profile: %v", p)
	}
	m.profile = "gpu"
	expect(t, m.run(t), "gpu", Problem, "profile gpu needs an NVIDIA GPU")
	m.gpu = "NVIDIA H200, 580.159.04, 143771, 0\nNVIDIA H200, 580.159.04, 143771, 70000\n"
	expect(t, m.run(t), "gpu", OK, "140.4 GiB (0.0 GiB in use); NVIDIA H200, driver 580.159.04, 140.4 GiB (68.4 GiB in use)")
}

func TestData(t *testing.T) {
	m := healthy(t)
	m.prepared = []string{"smoke"}
	checks := m.run(t)
	expect(t, checks, "data smoke", OK, "synthetic")
	expect(t, checks, "data cpu", Note, `run "autoresearch prepare --profile cpu"`)
	expect(t, checks, "data gpu", Note, `run "autoresearch prepare --profile gpu"`)
	if p := problems(checks); len(p) != 0 {
		t.Errorf("missing cpu/gpu data blocks a smoke run: %v", p)
	}
	m.prepared = []string{"cpu"}
	expect(t, m.run(t), "data smoke", Problem, `run "autoresearch prepare --profile smoke"`)
	m.env["AUTORESEARCH_PROFILE"] = "cpu"
	checks = m.run(t)
	expect(t, checks, "data cpu", OK, "sotu")
	expect(t, checks, "data smoke", Note, "prepare --profile smoke")
	m.env["AUTORESEARCH_PROFILE"] = "laptop"
	expect(t, m.run(t), "profile", Problem, "$AUTORESEARCH_PROFILE: unknown profile \"laptop\"")
}

func TestDisk(t *testing.T) {
	m := healthy(t)
	m.free = 3 << 30
	expect(t, m.run(t), "disk home", Note, "3.0 GiB free")
	m.free = 200 << 20
	checks := m.run(t)
	expect(t, checks, "disk home", Problem, "free some space")
	expect(t, checks, "disk repo", Problem, "free some space")
}

func TestLLM(t *testing.T) {
	m := healthy(t)
	m.env["OPENAI_API_KEY"] = "sk-wrong"
	expect(t, m.run(t), "llm endpoint", Problem, "refused the key (HTTP 401): check OPENAI_API_KEY")

	m = healthy(t)
	delete(m.env, "OPENAI_API_KEY")
	checks := m.run(t)
	// The test server is on loopback: a local server often needs no key.
	expect(t, checks, "llm key", Note, "often needs none")

	m = healthy(t)
	delete(m.env, "OPENAI_API_KEY")
	m.env["OPENAI_BASE_URL"] = "https://llm.example.invalid/v1"
	expect(t, m.run(t), "llm key", Problem, "export OPENAI_API_KEY")

	m = healthy(t)
	m.env["OPENAI_BASE_URL"] = strings.TrimSuffix(m.env["OPENAI_BASE_URL"], "/v1")
	expect(t, m.run(t), "llm endpoint", Problem, "usually ending in /v1")

	m = healthy(t)
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	m.env["OPENAI_BASE_URL"] = srv.URL + "/v1"
	srv.Close() // nothing listens there now
	checks = m.run(t)
	expect(t, checks, "llm endpoint", Problem, "cannot reach")
	m.agent = "sweep"
	checks = m.run(t)
	expect(t, checks, "llm endpoint", Note, "cannot reach")
	if p := problems(checks); len(p) != 0 {
		t.Errorf("an unreachable LLM blocks the sweep agent: %v", p)
	}

	m = healthy(t)
	m.env["OPENAI_BASE_URL"] = "localhost:11434"
	expect(t, m.run(t), "llm endpoint", Problem, "not an http(s) URL")
}

func TestWrite(t *testing.T) {
	var b strings.Builder
	n, err := Write(&b, []Check{{"go", OK, "go1.26.8"}, {"data smoke", Problem, "prepare it"}, {"gpu", Note, "none"}})
	if err != nil || n != 1 {
		t.Fatalf("%d problems, %v", n, err)
	}
	want := "ok    go          go1.26.8\nFAIL  data smoke  prepare it\nnote  gpu         none\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// The real command runner, with a stand-in nvidia-smi on PATH.
func TestSystemRunsCommandsFromPath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses a shell script")
	}
	bin := t.TempDir()
	script := "#!/bin/sh\necho 'NVIDIA A100-SXM4-40GB, 550.54.15, 40960, 0'\n"
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	failing := "#!/bin/sh\necho 'driver not loaded' >&2\nexit 9\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(failing), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	env := System()
	env.Profile = "gpu"
	if c := checkGPU(context.Background(), env); c.Level != OK || !strings.Contains(c.Msg, "A100-SXM4-40GB, driver 550.54.15, 40.0 GiB") {
		t.Errorf("gpu: %+v", c)
	}
	if c := checkGo(context.Background(), env); c.Level != Problem || !strings.Contains(c.Msg, "driver not loaded") {
		t.Errorf("failing go: %+v", c)
	}
	testfs.Remove(t, filepath.Join(bin, "nvidia-smi"))
	if c := checkGPU(context.Background(), env); c.Level != Problem || !strings.Contains(c.Msg, "none was found") {
		t.Errorf("no nvidia-smi with the gpu profile: %+v", c)
	}
	if free, err := env.FreeBytes(bin); err != nil || free == 0 {
		t.Errorf("free space of %s: %d, %v", bin, free, err)
	}
}

// offline is an HTTP client whose every request fails at once.
var offline = &http.Client{Transport: roundTrip(func(*http.Request) (*http.Response, error) {
	return nil, errors.New("offline")
})}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestDoctorAgreesWithTheAgentOnTheEndpoint: for every base URL, the doctor
// asks for a key exactly when the agent would refuse to start without one.
func TestDoctorAgreesWithTheAgentOnTheEndpoint(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	for _, base := range []string{"", "http://localhost:11434/v1", "http://127.0.0.2:8000/v1", "http://[::1]:8000/v1",
		"http://ollama.localhost/v1", "https://openrouter.example/api/v1", "http://10.0.0.5:8000/v1"} {
		m := healthy(t)
		m.env = map[string]string{"OPENAI_BASE_URL": base}
		m.client = offline
		checks := m.run(t)
		_, agentErr := agent.NewLLM(agent.LLMConfig{BaseURL: base})
		if doctorBlocks := checks["llm key"].Level == Problem; doctorBlocks != (agentErr != nil) {
			t.Errorf("%q: doctor's key check %s %q, agent: %v", base, checks["llm key"].Level, checks["llm key"].Msg, agentErr)
		}
	}
}
