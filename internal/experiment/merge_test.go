package experiment

import "testing"

func TestMerge3(t *testing.T) {
	const base = "package main\n\nconst (\n\tDEPTH = 8\n\tLR = 0.04\n\tWD = 0.2\n)\n\nfunc main() {}\n"
	for _, c := range []struct {
		name, ours, theirs, want string
		ok                       bool
	}{
		{"neighbouring lines merge",
			"package main\n\nconst (\n\tDEPTH = 8\n\tLR = 0.08\n\tWD = 0.2\n)\n\nfunc main() {}\n",
			"package main\n\nconst (\n\tDEPTH = 9\n\tLR = 0.04\n\tWD = 0.2\n)\n\nfunc main() {}\n",
			"package main\n\nconst (\n\tDEPTH = 9\n\tLR = 0.08\n\tWD = 0.2\n)\n\nfunc main() {}\n", true},
		{"the same line conflicts",
			"package main\n\nconst (\n\tDEPTH = 8\n\tLR = 0.08\n\tWD = 0.2\n)\n\nfunc main() {}\n",
			"package main\n\nconst (\n\tDEPTH = 8\n\tLR = 0.02\n\tWD = 0.2\n)\n\nfunc main() {}\n",
			"", false},
		{"the same change on both sides is taken once",
			"package main\n\nconst (\n\tDEPTH = 8\n\tLR = 0.08\n\tWD = 0.2\n)\n\nfunc main() {}\n",
			"package main\n\nconst (\n\tDEPTH = 8\n\tLR = 0.08\n\tWD = 0.2\n)\n\nfunc main() {}\n",
			"package main\n\nconst (\n\tDEPTH = 8\n\tLR = 0.08\n\tWD = 0.2\n)\n\nfunc main() {}\n", true},
		{"insertion far from a change",
			"package main\n\nconst (\n\tDEPTH = 8\n\tLR = 0.04\n\tWD = 0.2\n)\n\nfunc main() {}\n\nfunc extra() {}\n",
			"package main\n\nconst (\n\tDEPTH = 4\n\tLR = 0.04\n\tWD = 0.2\n)\n\nfunc main() {}\n",
			"package main\n\nconst (\n\tDEPTH = 4\n\tLR = 0.04\n\tWD = 0.2\n)\n\nfunc main() {}\n\nfunc extra() {}\n", true},
		{"insertion beside a change conflicts",
			"package main\n\nconst (\n\tDEPTH = 8\n\tHEADS = 4\n\tLR = 0.04\n\tWD = 0.2\n)\n\nfunc main() {}\n",
			"package main\n\nconst (\n\tDEPTH = 8\n\tLR = 0.01\n\tWD = 0.2\n)\n\nfunc main() {}\n",
			"", false},
	} {
		got, ok := merge3(base, c.ours, c.theirs)
		if ok != c.ok || got != c.want {
			t.Errorf("%s: got %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestMerge3WithoutFinalNewline(t *testing.T) {
	if got, ok := merge3("a\nb\nc", "a\nb\nC", "A\nb\nc"); !ok || got != "A\nb\nC" {
		t.Errorf("got %q, %v; want %q", got, ok, "A\nb\nC")
	}
}
