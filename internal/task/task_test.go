package task

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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
	tk, err := Parse([]byte(good), File, all, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tk.Editable, ",") != "strategy.py,lib/signals.py" || strings.Join(tk.Build.Argv, " ") != "make backtest" ||
		strings.Join(tk.Run.Argv, " ") != "python3 backtest.py" || tk.Budget() != time.Minute || tk.HardLimit() != 3*time.Minute ||
		tk.Program != "program.md" || tk.Metric.Name != "sharpe" || tk.Metric.LowerIsBetter || tk.Source != File ||
		tk.Metric.Pattern != `^sharpe:\s*([-+0-9.eE]+)` || tk.Memory.Pattern != `^peak_mb:\s*([0-9.]+)` || tk.Device.Name != CPU {
		t.Errorf("parsed %+v", tk)
	}
}

func TestTheTaskIsFinishedForTheLoop(t *testing.T) {
	tk, err := Parse([]byte(good), File, all, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tk.Run.Env, " ") != "AUTORESEARCH_BUDGET_SECONDS=60 PYTHONDONTWRITEBYTECODE=1" ||
		tk.MemoryKeys()[0] != MemoryFigure || tk.AllowanceSeconds != DefaultAllowance.Seconds() {
		t.Errorf("task %+v", tk)
	}
	pats := tk.Patterns()
	if pats["sharpe"] == nil || pats[MemoryFigure] == nil {
		t.Errorf("patterns %v", pats)
	}
	if err := tk.Validate(); err != nil {
		t.Errorf("a parsed task does not validate: %v", err)
	}
	// Without hard_limit or build: the default limit, no build step; the
	// --eval-allowance flag replaces the file's allowance.
	min := strings.Replace(strings.Replace(good, `hard_limit = "3m"`, "", 1), `build = ["make", "backtest"]`, "", 1)
	tk, err = Parse([]byte(min), File, all, Options{Allowance: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if tk.HardLimit() != 150*time.Second || len(tk.Build.Argv) != 0 {
		t.Errorf("hard limit %s (want 2 × 60s + 30s), build %v", tk.HardLimit(), tk.Build.Argv)
	}
}

// full is a task file with every optional key, the GPT's lines included.
const full = `editable = ["train.py"]
shared = [".venv"]
build = ["make"]
build_env = { CC = "gcc" }
run = ["python3", "train.py"]
env = { DATA = "${AUTORESEARCH_HOME}/prices", MODE = "fast" }
device = "cuda"
budget = "5s"
allowance = "25s"
readable = ["${AUTORESEARCH_HOME}"]
fail = "FAIL"

[limits]
memory_mb = 4096
processes = 64
open_files = 256

[metric]
name = "val_bpb"
direction = "lower"

[memory]
keys = ["peak_vram_mb", "peak_rss_mb"]

[progress]
pattern = '^step\s+\d+\s+\((\d+(?:\.\d+)?)%\)'

[warmup]
start = "warm-up: "
done = "warm-up done: "

[prompt]
what = "the model in train.py"
locked = "the data"
rules = ["Use numpy only."]
budget = "wall-clock time"
figures = ["num_steps"]

[prompt.log]
title = "Parameters"
start = '^Parameters:'
end = '^$'

[[require]]
path = "${AUTORESEARCH_HOME}/prices/meta.json"
missing = "no prices in ${AUTORESEARCH_HOME}: run make prices"
`

func TestParseReadsTheOptionalKeysAndExpandsVariables(t *testing.T) {
	getenv := func(k string) string {
		if k == "AUTORESEARCH_HOME" {
			return "/data"
		}
		return ""
	}
	tk, err := Parse([]byte(full), File, exists("train.py"), Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want string
	}{
		{"shared", strings.Join(tk.Shared, ","), ".venv"},
		{"build env", strings.Join(tk.Build.Env, " "), "CC=gcc"},
		{"run env", strings.Join(tk.Run.Env, " "), "AUTORESEARCH_BUDGET_SECONDS=5 DATA=/data/prices MODE=fast PYTHONDONTWRITEBYTECODE=1"},
		{"device", tk.Device.Name, CUDA},
		{"hard limit (2 budgets and the allowance)", tk.HardLimit().String(), "35s"},
		{"readable", strings.Join(tk.Readable, ","), "/data"},
		{"fail line", tk.FailLine, "FAIL"},
		{"limits", fmt.Sprint(tk.Limits.MemoryMB, tk.Limits.Processes, tk.Limits.OpenFiles), "4096 64 256"},
		{"metric pattern", tk.Metric.Pattern, ""},
		{"memory keys", strings.Join(tk.MemoryKeys(), ","), "peak_vram_mb,peak_rss_mb"},
		{"warm-up", tk.Warmup.Start + "|" + tk.Warmup.Done, "warm-up: |warm-up done: "},
		{"prompt", tk.Prompt.What + "|" + tk.Prompt.Locked + "|" + strings.Join(tk.Prompt.Rules, ";") + "|" + tk.Prompt.Budget + "|" + strings.Join(tk.Prompt.Figures, ","), "the model in train.py|the data|Use numpy only.|wall-clock time|num_steps"},
		{"log section", tk.Prompt.Log.Title + "|" + tk.Prompt.Log.Start + "|" + tk.Prompt.Log.End, "Parameters|^Parameters:|^$"},
		{"requirement", fmt.Sprint(tk.Requires), "[{/data/prices/meta.json no prices in /data: run make prices}]"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
		}
	}
	if err := tk.Check(); err == nil || err.Error() != "no prices in /data: run make prices" {
		t.Errorf("the requirement's check: %v", err)
	}
	// $AUTORESEARCH_HOME unset: the data home's default; another variable
	// unset is a problem naming it.
	tk, err = Parse([]byte(full), File, nil, Options{Getenv: func(string) string { return "" }})
	if err != nil || len(tk.Readable) != 1 || !filepath.IsAbs(tk.Readable[0]) || !strings.HasSuffix(tk.Readable[0], "autoresearch") {
		t.Errorf("the default data home: %v %v", tk, err)
	}
	got := problems(t, strings.Replace(good, `run = ["python3", "backtest.py"]`, `run = ["python3", "${NO_SUCH_VAR}/backtest.py"]`, 1))
	if len(got) != 1 || !strings.HasPrefix(got[0], "3 run: ${NO_SUCH_VAR} stands for $NO_SUCH_VAR, which is not set") {
		t.Errorf("an unset variable: %v", got)
	}
}

func TestLogSection(t *testing.T) {
	tk := Task{Prompt: Prompt{Log: Section{Start: "^Parameters:", End: "^$"}}}
	log := "start-up\nParameters:\n  wte [512 128] adamw\n  h.0.w [128 128] muon\n\nstep 00001\n"
	if got := tk.LogSection(log); got != "Parameters:\n  wte [512 128] adamw\n  h.0.w [128 128] muon" {
		t.Errorf("section %q", got)
	}
	if got := tk.LogSection("no such section\n"); got != "" {
		t.Errorf("a log without it: %q", got)
	}
	if got := (&Task{}).LogSection(log); got != "" {
		t.Errorf("a task that names none: %q", got)
	}
}

// problems parses text and returns the refusal's problems as "line key: msg".
func problems(t *testing.T, text string) []string {
	t.Helper()
	_, err := Parse([]byte(text), "repo/"+File, all, Options{})
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
		{"unknown device", `budget = "60s"`, "budget = \"60s\"\ndevice = \"tpu\"", `5 device: "tpu" is not a device`},
		{"relative readable", `budget = "60s"`, "budget = \"60s\"\nreadable = [\"data\"]", `5 readable: "data" is not an absolute path`},
		{"zero limit", `budget = "60s"`, "budget = \"60s\"\n[limits]\nmemory_mb = 0", `6 limits.memory_mb: 0 is not a limit`},
		{"bad env name", `budget = "60s"`, "budget = \"60s\"\nenv = { \"A-B\" = \"1\" }", `5 env: "A-B" cannot name a variable`},
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
	want := []string{"1 budget:", "2 unknown:", "- editable:", "- run:", "- metric.direction:"}
	if len(got) != len(want) {
		t.Fatalf("problems\n  %s\nwant %d", strings.Join(got, "\n  "), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d is %q, want %q...", i, got[i], want[i])
		}
	}
}

// Every optional key of the template, uncommented, parses too: the template
// shows keys where a user can put them.
func TestTheTemplatesOptionalKeysParse(t *testing.T) {
	key := regexp.MustCompile(`^# (\[|[a-z_]+ = )`)
	var b strings.Builder
	for _, line := range strings.Split(Template, "\n") {
		if key.MatchString(line) {
			line = strings.TrimPrefix(line, "# ")
		}
		b.WriteString(line + "\n")
	}
	getenv := func(k string) string { return map[string]string{"AUTORESEARCH_HOME": "/data"}[k] }
	tk, err := Parse([]byte(b.String()), File, nil, Options{Getenv: getenv})
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if tk.Device.Name != CUDA || len(tk.Requires) != 1 || tk.Limits.MemoryMB != 8192 || tk.Memory.Pattern == "" || len(tk.Shared) != 1 {
		t.Errorf("the uncommented template parsed as %+v", tk)
	}
}

func TestTheTemplateParses(t *testing.T) {
	tk, err := Parse([]byte(Template), File, exists("strategy.py", "program.md"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Metric.Name != "sharpe" || tk.Metric.LowerIsBetter || tk.Budget() != time.Minute {
		t.Errorf("template parsed as %+v", tk)
	}
	// As written, before the user fills it in, it names what is missing.
	_, err = Parse([]byte(Template), File, exists(), Options{})
	if err == nil || !strings.Contains(err.Error(), "strategy.py does not exist in the repository") ||
		!strings.Contains(err.Error(), "program.md does not exist") {
		t.Errorf("template in an empty repository: %v", err)
	}
}
