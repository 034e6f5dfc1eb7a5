package kernels

import (
	"regexp"
	"strings"
	"testing"
)

func TestSourcesAndHeaders(t *testing.T) {
	srcs := Sources()
	if len(srcs) == 0 {
		t.Fatal("no .cu sources embedded")
	}
	hdrs := Headers()
	found := false
	for _, h := range hdrs {
		if h.Name == "common.cuh" {
			found = true
		}
	}
	if !found {
		t.Fatalf("common.cuh not among the headers %v", hdrs)
	}
	for _, s := range srcs {
		if !strings.HasSuffix(s.Name, ".cu") || s.Code == "" {
			t.Errorf("bad source %q (%d bytes)", s.Name, len(s.Code))
		}
	}
}

// Every extern "C" __global__ function must be registered right after its definition (the
// emulator depends on it), and no name may be registered twice across all sources.
func TestEveryKernelRegistered(t *testing.T) {
	decl := regexp.MustCompile(`extern "C" __global__ void (\w+)\(`)
	seen := map[string]string{}
	for _, s := range Sources() {
		var declared []string
		for _, m := range decl.FindAllStringSubmatch(s.Code, -1) {
			declared = append(declared, m[1])
		}
		reg := Kernels(s)
		if strings.Join(declared, ",") != strings.Join(reg, ",") {
			t.Errorf("%s: declared %v but registered %v", s.Name, declared, reg)
		}
		for _, k := range reg {
			if prev, dup := seen[k]; dup {
				t.Errorf("kernel %s registered in %s and %s", k, prev, s.Name)
			}
			seen[k] = s.Name
		}
	}
	if len(seen) < 10 {
		t.Fatalf("only %d kernels found", len(seen))
	}
}

func TestStem(t *testing.T) {
	if got := Stem("attention.cu"); got != "attention" {
		t.Fatalf("Stem = %q", got)
	}
}
