package task

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"autoresearch/internal/experiment"
)

const good = `editable = ["strategy.py", "lib/signals.py"]
build = ["make", "backtest"]
run = ["python3", "backtest.py"]
budget = "60s"
hard_limit = "3m"
program = "program.md"

[metric]
name = "sharpe"
pattern = '^sharpe:\s*([-+0-9.eE]+)'
direction = "higher"

[memory]
pattern = '^peak_mb:\s*([0-9.]+)'
`

func exists(paths ...string) func(string) bool {
	return func(p string) bool {
		for _, q := range paths {
			if p == q {
				return true
			}
		}
		return false
	}
}

var all = exists("strategy.py", "lib/signals.py", "program.md", "backtest.py")

func TestParseReadsEveryKey(t *testing.T) {
	tk, err := Parse([]byte(good), File, all)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tk.Editable, ",") != "strategy.py,lib/signals.py" || strings.Join(tk.Build, " ") != "make backtest" ||
		strings.Join(tk.Run, " ") != "python3 backtest.py" || tk.Budget != time.Minute || tk.HardLimit != 3*time.Minute ||
		tk.Program != "program.md" || tk.Metric.Name != "sharpe" || tk.Metric.LowerIsBetter ||
		tk.Metric.Pattern != `^sharpe:\s*([-+0-9.eE]+)` || tk.MemoryPattern != `^peak_mb:\s*([0-9.]+)` {
		t.Errorf("parsed %+v", tk)
	}
}

func TestConfigIsTheTaskForTheLoop(t *testing.T) {
	tk, err := Parse([]byte(good), File, all)
	if err != nil {
		t.Fatal(err)
	}
	c := tk.Config("/repo", "nov26", 2*time.Minute)
	if c.Task != File || c.Tag != "nov26" || c.Repo != "/repo" || c.BudgetSeconds != 60 || c.HardLimit() != 3*time.Minute ||
		strings.Join(c.Run.Argv, " ") != "python3 backtest.py" || strings.Join(c.Run.Env, " ") != "AUTORESEARCH_BUDGET_SECONDS=60 PYTHONDONTWRITEBYTECODE=1" ||
		strings.Join(c.Build.Argv, " ") != "make backtest" || c.MemoryKeys[0] != experiment.MemoryFigure || c.MemoryPattern == "" {
		t.Errorf("config %+v", c)
	}
	pats := c.Patterns()
	if pats["sharpe"] == nil || pats[experiment.MemoryFigure] == nil {
		t.Errorf("patterns %v", pats)
	}
	// Without hard_limit or build: the default limit, no build step.
	min := strings.Replace(strings.Replace(good, `hard_limit = "3m"`, "", 1), `build = ["make", "backtest"]`, "", 1)
	tk, err = Parse([]byte(min), File, all)
	if err != nil {
		t.Fatal(err)
	}
	c = tk.Config("/repo", "t", 30*time.Second)
	if c.HardLimit() != 150*time.Second || len(c.Build.Argv) != 0 {
		t.Errorf("hard limit %s (want 2 × 60s + 30s), build %v", c.HardLimit(), c.Build.Argv)
	}
}

// problems parses text and returns the refusal's problems as "line key: msg".
func problems(t *testing.T, text string) []string {
	t.Helper()
	_, err := Parse([]byte(text), "repo/"+File, all)
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("want a task file error, got %v", err)
	}
	if !strings.HasPrefix(err.Error(), "repo/"+File+" is not a usable task file") {
		t.Errorf("error %q does not name the file", err)
	}
	var out []string
	for _, p := range te.Problems {
		key := ""
		if p.Key != "" {
			key = p.Key + ": "
		}
		out = append(out, itoa(p.Line)+" "+key+p.Msg)
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func TestRefusalsNameTheKeyTheLineAndTheFix(t *testing.T) {
	cases := []struct {
		name, from, to string
		want           string // "line key: start of the message...fix"
	}{
		{"missing run", `run = ["python3", "backtest.py"]`, ``, `- run: missing: add run = ["python3", "backtest.py"]`},
		{"missing direction", `direction = "higher"`, ``, `- metric.direction: missing: add direction = "higher" under [metric] (line 8)`},
		{"wrong direction", `direction = "higher"`, `direction = "up"`, `11 metric.direction: "up" is not a direction: write direction = "lower"`},
		{"unknown key", `program = "program.md"`, `programme = "program.md"`, `6 programme: unknown key: did you mean program? (program = "program.md")`},
		{"unknown table key", `direction = "higher"`, "direction = \"higher\"\nunits = \"x\"", `12 metric.units: unknown key: the keys in [metric] are name, pattern, direction; remove it`},
		{"budget without unit", `budget = "60s"`, `budget = 60`, `4 budget: 60 has no unit: write it as a string with a unit, e.g. budget = "60s"`},
		{"bad budget", `budget = "60s"`, `budget = "a minute"`, `4 budget: "a minute" is not a duration`},
		{"limit under budget", `hard_limit = "3m"`, `hard_limit = "30s"`, `5 hard_limit: 30s is not longer than the budget (1m0s)`},
		{"pattern without group", `pattern = '^sharpe:\s*([-+0-9.eE]+)'`, `pattern = '^sharpe:'`, `10 metric.pattern: ^sharpe: has no group: put the number in parentheses`},
		{"pattern that does not compile", `pattern = '^sharpe:\s*([-+0-9.eE]+)'`, `pattern = '^sharpe:(('`, `10 metric.pattern: not a regular expression`},
		{"missing file", `"lib/signals.py"`, `"lib/signal.py"`, `1 editable: lib/signal.py does not exist in the repository`},
		{"task editable", `"lib/signals.py"`, `"autoresearch.toml"`, `1 editable: autoresearch.toml is the task itself`},
		{"path outside", `"lib/signals.py"`, `"../x.py"`, `1 editable: "../x.py" is not a path inside the repository`},
		{"empty run", `run = ["python3", "backtest.py"]`, `run = []`, `3 run: the command is empty`},
		{"wrong type", `run = ["python3", "backtest.py"]`, `run = "python3 backtest.py"`, `3 run: a TOML string is not a list of strings: write it like run = ["python3", "backtest.py"]`},
		{"bad metric name", `name = "sharpe"`, `name = "sharpe ratio"`, `9 metric.name: "sharpe ratio" cannot head a results.tsv column`},
		{"reserved metric name", `name = "sharpe"`, `name = "status"`, `9 metric.name: "status" is another column of results.tsv`},
		{"syntax", `budget = "60s"`, `budget = "60s`, `4 basic strings cannot have new lines: fix the TOML syntax`},
	}
	for _, c := range cases {
		text := strings.Replace(good, c.from, c.to, 1)
		if text == good {
			t.Fatalf("%s: %q is not in the file", c.name, c.from)
		}
		got := problems(t, text)
		found := false
		for _, g := range got {
			if strings.HasPrefix(g, c.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: problems\n  %s\nwant one starting %q", c.name, strings.Join(got, "\n  "), c.want)
		}
	}
}

func TestEveryProblemIsListedMissingKeysLast(t *testing.T) {
	got := problems(t, "budget = 5\nunknown = 1\n[metric]\nname = \"x\"\n")
	want := []string{"1 budget:", "2 unknown:", "- editable:", "- run:", "- metric.pattern:", "- metric.direction:"}
	if len(got) != len(want) {
		t.Fatalf("problems\n  %s\nwant %d", strings.Join(got, "\n  "), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d is %q, want %q...", i, got[i], want[i])
		}
	}
}

func TestTheTemplateParses(t *testing.T) {
	tk, err := Parse([]byte(Template), File, exists("strategy.py", "program.md"))
	if err != nil {
		t.Fatal(err)
	}
	if tk.Metric.Name != "sharpe" || tk.Metric.LowerIsBetter || tk.Budget != time.Minute {
		t.Errorf("template parsed as %+v", tk)
	}
	// As written, before the user fills it in, it names what is missing.
	_, err = Parse([]byte(Template), File, exists())
	if err == nil || !strings.Contains(err.Error(), "strategy.py does not exist in the repository") ||
		!strings.Contains(err.Error(), "program.md does not exist") {
		t.Errorf("template in an empty repository: %v", err)
	}
}
