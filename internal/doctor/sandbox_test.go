package doctor

import (
	"errors"
	"strings"
	"testing"

	"autoresearch/internal/sandbox"
)

func TestSandboxCheckNamesMissingProtections(t *testing.T) {
	full := Env{Sandbox: func() sandbox.Support { return sandbox.Support{Landlock: 7} }}
	if c := checkSandbox(full); len(c) != 1 || c[0].Level != OK || !strings.Contains(c[0].Msg, "every protection") {
		t.Errorf("full support: %+v", c)
	}
	bare := Env{Sandbox: func() sandbox.Support {
		return sandbox.Support{Landlock: 0, Namespace: errors.New("unprivileged user namespaces are not allowed here")}
	}}
	c := checkSandbox(bare)
	if len(c) != 1 || c[0].Level != Note {
		t.Fatalf("no support: %+v", c)
	}
	for _, want := range []string{"filesystem (Landlock is not enabled", "network (", "user namespaces are not allowed", "ipc (", "--sandbox strict refuses"} {
		if !strings.Contains(c[0].Msg, want) {
			t.Errorf("the note lacks %q: %s", want, c[0].Msg)
		}
	}
	if c := checkSandbox(Env{}); len(c) != 0 {
		t.Errorf("no probe, yet %+v", c)
	}
}
