package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"autoresearch/internal/doctor"
)

func TestDoctorCommandExitStatus(t *testing.T) {
	home := t.TempDir()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"data":[{"id":"local-model"}]}`)
	}))
	defer srv.Close()
	vars := map[string]string{"OPENAI_BASE_URL": srv.URL}
	env := doctor.Env{
		Getenv: func(k string) string { return vars[k] },
		Run: func(_ context.Context, name string, _ ...string) ([]byte, error) {
			if name == "go" {
				return []byte("go version go1.26.8 linux/amd64\n"), nil
			}
			return nil, &exec.Error{Name: name, Err: exec.ErrNotFound}
		},
		FreeBytes: func(string) (uint64, error) { return 50 << 30, nil },
		Home:      home,
	}
	var out bytes.Buffer
	// Nothing prepared: the smoke data blocks a run; the server on this
	// machine needs no key.
	err := runDoctor(context.Background(), doctorOptions{Agent: "sweep", Repo: t.TempDir()}, env, &out)
	if err == nil || !strings.Contains(err.Error(), "1 problem blocks a run") || !strings.Contains(out.String(), "FAIL  data smoke") {
		t.Errorf("error %v\n%s", err, out.String())
	}
	// --base-url, as run takes it, wins over the environment.
	vars["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
	out.Reset()
	err = runDoctor(context.Background(), doctorOptions{Agent: "llm", Repo: t.TempDir(), BaseURL: srv.URL + "/v1"}, env, &out)
	if !strings.Contains(out.String(), "ok    llm endpoint") || strings.Contains(out.String(), "127.0.0.1:9") {
		t.Errorf("doctor --base-url %s: %v\n%s", srv.URL, err, out.String())
	}
	if err := runDoctor(context.Background(), doctorOptions{Agent: "gpt"}, env, &out); !errors.As(err, new(*usageError)) {
		t.Errorf("--agent gpt: %v, want a usage error", err)
	}
	if err := runDoctor(context.Background(), doctorOptions{Agent: "llm", Profile: "laptop"}, env, &out); !errors.As(err, new(*usageError)) {
		t.Errorf("--profile laptop: %v, want a usage error", err)
	}
}
