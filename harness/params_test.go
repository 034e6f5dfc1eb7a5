package harness

import (
	"strings"
	"testing"
)

func TestPrintParametersMergesTheLayersOfAStack(t *testing.T) {
	muon := func(name string, shape ...int) Param {
		return Param{Name: name, Shape: shape, Group: "muon transformer.h.", LR: 0.04, WeightDecay: 0.2}
	}
	params := []Param{
		{Name: "transformer.wte.weight", Shape: []int{512, 128}, Group: "adamw transformer.wte", LR: 1.4696938456699067},
		muon("transformer.h.0.attn.c_q.weight", 128, 128),
		muon("transformer.h.0.mlp.c_fc.weight", 512, 128),
		muon("transformer.h.1.attn.c_q.weight", 128, 128),
		muon("transformer.h.1.mlp.c_fc.weight", 512, 128),
		muon("transformer.h.1.attn.ve_gate.weight", 1, 32),
		muon("transformer.h.2.attn.c_q.weight", 128, 128),
		muon("transformer.h.2.mlp.c_fc.weight", 256, 128), // another shape: a row of its own
		muon("transformer.h.3.attn.c_q.weight", 128, 128),
		muon("transformer.h.3.attn.ve_gate.weight", 1, 32),
		{Name: "x0_lambdas", Shape: []int{4}, Group: "adamw x0_lambdas", LR: 0.5},
	}
	var b strings.Builder
	total, err := PrintParameters(&b, params)
	if err != nil {
		t.Fatal(err)
	}
	if want := 512*128 + 4*128*128 + 2*512*128 + 2*32 + 256*128 + 4; total != want {
		t.Errorf("total %d, want %d", total, want)
	}
	var got [][]string
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		got = append(got, strings.Fields(line))
	}
	want := [][]string{
		{"Parameters:"},
		{"name", "shape", "count", "group", "lr", "weight", "decay"},
		{"transformer.wte.weight", "[512", "128]", "65,536", "adamw", "transformer.wte", "1.46969", "0"},
		{"transformer.h.{0-3}.attn.c_q.weight", "[128", "128]", "65,536", "muon", "transformer.h.", "0.04", "0.2"},
		{"transformer.h.{0,1}.mlp.c_fc.weight", "[512", "128]", "131,072", "muon", "transformer.h.", "0.04", "0.2"},
		{"transformer.h.{1,3}.attn.ve_gate.weight", "[1", "32]", "64", "muon", "transformer.h.", "0.04", "0.2"},
		{"transformer.h.2.mlp.c_fc.weight", "[256", "128]", "32,768", "muon", "transformer.h.", "0.04", "0.2"},
		{"x0_lambdas", "[4]", "4", "adamw", "x0_lambdas", "0.5", "0"},
		{"total", "294,980"}, // the sum of the counts above
	}
	if strings.Join(flat(got), "|") != strings.Join(flat(want), "|") {
		t.Errorf("table:\n%s\nwant rows %q", b.String(), want)
	}
	if !strings.HasPrefix(b.String(), ParamsHeader+"\n") {
		t.Errorf("the table does not start with %q", ParamsHeader)
	}
}

func flat(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.Join(r, " "))
	}
	return out
}

func TestNumberList(t *testing.T) {
	for _, c := range []struct {
		ns   []int
		want string
	}{{[]int{0, 1, 2, 3}, "0-3"}, {[]int{1, 3, 5, 7}, "1,3,5,7"}, {[]int{0, 1, 4, 5, 6, 9}, "0,1,4-6,9"}, {[]int{2}, "2"}} {
		if got := numberList(c.ns); got != c.want {
			t.Errorf("numberList(%v) = %q, want %q", c.ns, got, c.want)
		}
	}
}
