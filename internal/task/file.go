package task

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"autoresearch/internal/contract"
	"autoresearch/internal/sandbox"
)

// File is the task file's name, at the top of the repository.
const File = "autoresearch.toml"

// DefaultAllowance is a task file's time beyond two budgets before the
// default hard limit, when it sets neither.
const DefaultAllowance = 2 * time.Minute

// raw is the file as TOML has it. Durations are read as any value, so that
// budget = 60 gets a message that names the fix rather than a type error.
type raw struct {
	Editable  []string          `toml:"editable"`
	Shared    []string          `toml:"shared"`
	Build     []string          `toml:"build"`
	BuildEnv  map[string]string `toml:"build_env"`
	Run       []string          `toml:"run"`
	Env       map[string]string `toml:"env"`
	Device    string            `toml:"device"`
	Budget    any               `toml:"budget"`
	Allowance any               `toml:"allowance"`
	HardLimit any               `toml:"hard_limit"`
	Program   string            `toml:"program"`
	Readable  []string          `toml:"readable"`
	Fail      string            `toml:"fail"`
	Limits    rawLimits         `toml:"limits"`
	Metric    rawMetric         `toml:"metric"`
	Memory    rawMemory         `toml:"memory"`
	Progress  rawPattern        `toml:"progress"`
	Warmup    Warmup            `toml:"warmup"`
	Prompt    rawPrompt         `toml:"prompt"`
	Require   []Require         `toml:"require"`
}

type rawMetric struct {
	Name      string `toml:"name"`
	Pattern   string `toml:"pattern"`
	Direction string `toml:"direction"`
}

type rawMemory struct {
	Pattern string   `toml:"pattern"`
	Keys    []string `toml:"keys"`
}

type rawPattern struct {
	Pattern string `toml:"pattern"`
}

type rawLimits struct {
	MemoryMB  int64 `toml:"memory_mb"`
	Processes int64 `toml:"processes"`
	OpenFiles int64 `toml:"open_files"`
}

type rawPrompt struct {
	Verb    string   `toml:"verb"`
	What    string   `toml:"what"`
	Locked  string   `toml:"locked"`
	Rules   []string `toml:"rules"`
	Budget  string   `toml:"budget"`
	Figures []string `toml:"figures"`
	Log     Section  `toml:"log"`
}

// keys lists every key of the file, in the template's order, with the line
// that fixes it; a key under a table is named table.key.
var keys = []struct{ key, example string }{
	{"editable", `editable = ["strategy.py"]`},
	{"shared", `shared = ["vendor", ".venv"]`},
	{"build", `build = ["make", "backtest"]`},
	{"build_env", `build_env = { CGO_ENABLED = "0" }`},
	{"run", `run = ["python3", "backtest.py"]`},
	{"env", `env = { DATA = "${AUTORESEARCH_HOME}/prices" }`},
	{"device", `device = "cpu"`},
	{"budget", `budget = "60s"`},
	{"allowance", `allowance = "2m"`},
	{"hard_limit", `hard_limit = "3m"`},
	{"program", `program = "program.md"`},
	{"readable", `readable = ["${AUTORESEARCH_HOME}/prices"]`},
	{"fail", `fail = "FAIL"`},
	{"limits", `[limits] with memory_mb, processes and open_files`},
	{"limits.memory_mb", `memory_mb = 4096`},
	{"limits.processes", `processes = 256`},
	{"limits.open_files", `open_files = 1024`},
	{"metric", `[metric] with name, pattern and direction`},
	{"metric.name", `name = "sharpe"`},
	{"metric.pattern", `pattern = '^sharpe:\s*([-+0-9.eE]+)'`},
	{"metric.direction", `direction = "higher"`},
	{"memory", `[memory] with pattern or keys`},
	{"memory.pattern", `pattern = '^peak_mb:\s*([0-9.]+)'`},
	{"memory.keys", `keys = ["peak_rss_mb"]`},
	{"progress", `[progress] with pattern`},
	{"progress.pattern", `pattern = '^step\s+\d+\s+\((\d+(?:\.\d+)?)%\)'`},
	{"warmup", `[warmup] with start and done`},
	{"warmup.start", `start = "warm-up: "`},
	{"warmup.done", `done = "warm-up done: "`},
	{"prompt", `[prompt] with what, locked, rules, budget, figures and verb`},
	{"prompt.what", `what = "the trading strategy in strategy.py"`},
	{"prompt.locked", `locked = "backtest.py and the price data"`},
	{"prompt.rules", `rules = ["Use only the Python standard library."]`},
	{"prompt.budget", `budget = "wall-clock time"`},
	{"prompt.figures", `figures = ["trades", "max_drawdown"]`},
	{"prompt.verb", `verb = "backtesting"`},
	{"prompt.log", `[prompt.log] with title, start and end`},
	{"prompt.log.title", `title = "Parameters"`},
	{"prompt.log.start", `start = '^Parameters:'`},
	{"prompt.log.end", `end = '^$'`},
	{"require", `[[require]] with path and missing`},
	{"require.path", `path = "${AUTORESEARCH_HOME}/prices/meta.json"`},
	{"require.missing", `missing = "no prices: run make prices"`},
}

func example(key string) string {
	for _, k := range keys {
		if k.key == key {
			return k.example
		}
	}
	return ""
}

// Problem is one thing wrong with a task file.
type Problem struct {
	Line int    // 1-based; 0 when the key is missing
	Key  string // e.g. metric.direction
	Msg  string // what is wrong and the fix
}

// Error is a task file refused, with every problem found.
type Error struct {
	Path     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not a usable task file (fix it, or remove it to research the built-in GPT task):", e.Path)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		if p.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		if p.Key != "" {
			b.WriteString(p.Key + ": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// Exists reports whether the repository whose top folder is root has a task file.
func Exists(root string) bool {
	_, err := os.Stat(filepath.Join(root, File))
	return err == nil
}

// Options adjust a task file's task for one run.
type Options struct {
	// Allowance replaces the file's allowance (the --eval-allowance flag);
	// 0 keeps it.
	Allowance time.Duration
	// Getenv reads the variables ${NAME} stands for; nil reads the process
	// environment.
	Getenv func(string) string
}

// Load reads and checks the task file of the repository whose top folder is
// root and returns its task. Paths it names (editable, program) must exist
// there.
func Load(root string, o Options) (*Task, error) {
	path := filepath.Join(root, File)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b, path, func(rel string) bool {
		_, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		return err == nil
	}, o)
}

// Parse checks a task file's content and returns its task. exists reports
// whether a path of the repository exists; nil skips that check. name is the
// file's path for messages.
func Parse(data []byte, name string, exists func(string) bool, o Options) (*Task, error) {
	fail := func(ps ...Problem) error { return &Error{Path: name, Problems: ps} }
	var r raw
	var unknown []Problem
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		var strict *toml.StrictMissingError
		var de *toml.DecodeError
		switch {
		case errors.As(err, &strict):
			// The known keys decoded: check them too.
			for _, e := range strict.Errors {
				line, _ := e.Position()
				unknown = append(unknown, unknownKey(strings.Join(e.Key(), "."), line))
			}
		case errors.As(err, &de):
			line, _ := de.Position()
			key := strings.Join(de.Key(), ".")
			msg := strings.TrimPrefix(de.Error(), "toml: ") + ": fix the TOML syntax"
			if m := mismatch.FindStringSubmatch(de.Error()); m != nil && example(key) != "" {
				msg = fmt.Sprintf("a TOML %s is not %s: write it like %s", m[1], kind(key), example(key))
			}
			return nil, fail(Problem{Line: line, Key: key, Msg: msg})
		default:
			return nil, fail(Problem{Msg: err.Error()})
		}
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	c := checker{lines: keyLines(data), problems: unknown, getenv: getenv}
	t := &Task{Source: File, Program: r.Program,
		Metric:   Metric{Name: r.Metric.Name, Pattern: r.Metric.Pattern},
		Memory:   Memory{Pattern: r.Memory.Pattern, Keys: r.Memory.Keys},
		Progress: r.Progress.Pattern,
		Warmup:   r.Warmup,
		FailLine: r.Fail,
		Limits:   sandbox.Limits{MemoryMB: r.Limits.MemoryMB, Processes: r.Limits.Processes, OpenFiles: r.Limits.OpenFiles},
		Prompt: Prompt{What: r.Prompt.What, Locked: r.Prompt.Locked, Rules: r.Prompt.Rules, Budget: r.Prompt.Budget,
			Figures: r.Prompt.Figures, Log: r.Prompt.Log, Verb: r.Prompt.Verb},
		Device: Device{Name: CPU},
	}

	if c.required("editable") {
		if len(r.Editable) == 0 {
			c.wrong("editable", "the list is empty: name the files the agent may change, e.g. "+example("editable"))
		}
		for _, p := range r.Editable {
			switch {
			case !cleanPath(p):
				c.wrong("editable", fmt.Sprintf("%q is not a path inside the repository: give it relative to the repository's top, with / between folders", p))
			case p == File:
				c.wrong("editable", fmt.Sprintf("%s is the task itself: the agent may not change how it is measured", File))
			case exists != nil && !exists(p):
				c.wrong("editable", fmt.Sprintf("%s does not exist in the repository: create and commit it, or correct the path", p))
			}
		}
		t.Editable = r.Editable
	}
	for _, p := range r.Shared {
		if !cleanPath(p) {
			c.wrong("shared", fmt.Sprintf("%q is not a path inside the repository: name an untracked folder of it, like %s", p, example("shared")))
		}
	}
	t.Shared = r.Shared
	if c.defined("build") {
		if len(r.Build) == 0 || r.Build[0] == "" {
			c.wrong("build", "the command is empty: give the program and its arguments, e.g. "+example("build")+", or remove the key")
		}
		t.Build = Command{Argv: c.expandAll("build", r.Build), Env: c.env("build_env", r.BuildEnv)}
	} else if c.defined("build_env") {
		c.wrong("build_env", "there is no build command for it: add "+example("build")+", or remove the key")
	}
	if c.required("run") && (len(r.Run) == 0 || r.Run[0] == "") {
		c.wrong("run", "the command is empty: give the program and its arguments, e.g. "+example("run"))
	}
	t.Run = Command{Argv: c.expandAll("run", r.Run), Env: c.env("env", r.Env)}
	if c.defined("device") {
		switch r.Device {
		case CPU, CUDA:
			t.Device.Name = r.Device
		default:
			c.wrong("device", fmt.Sprintf("%q is not a device: write device = \"cpu\", or device = \"cuda\" for a program that uses NVIDIA GPUs (the sandbox then opens them, and --workers gives each worker one)", r.Device))
		}
	}
	var budget, allowance, limit time.Duration
	if c.required("budget") {
		budget = c.duration("budget", r.Budget)
	}
	allowance = DefaultAllowance
	if c.defined("allowance") {
		allowance = c.duration("allowance", r.Allowance)
	}
	if o.Allowance > 0 {
		allowance = o.Allowance
	}
	if c.defined("hard_limit") {
		limit = c.duration("hard_limit", r.HardLimit)
		if limit > 0 && budget > 0 && limit <= budget {
			c.wrong("hard_limit", fmt.Sprintf("%s is not longer than the budget (%s): the program would be killed before its time is up; raise it, or remove it for the default", limit, budget))
		}
	}
	t.BudgetSeconds, t.AllowanceSeconds, t.HardLimitSeconds = budget.Seconds(), allowance.Seconds(), limit.Seconds()
	for _, p := range c.expandAll("readable", r.Readable) {
		if !filepath.IsAbs(p) {
			c.wrong("readable", fmt.Sprintf("%q is not an absolute path: name a folder outside the repository the program reads, like %s", p, example("readable")))
		}
		t.Readable = append(t.Readable, p)
	}
	if c.defined("fail") && strings.TrimSpace(r.Fail) == "" {
		c.wrong("fail", "the line is empty: give the exact line by which the program says it gave up, e.g. "+example("fail")+", or remove the key")
	}
	for key, v := range map[string]int64{"limits.memory_mb": r.Limits.MemoryMB, "limits.processes": r.Limits.Processes, "limits.open_files": r.Limits.OpenFiles} {
		if v < 0 || c.defined(key) && v == 0 {
			c.wrong(key, fmt.Sprintf("%d is not a limit: give a positive number, e.g. %s, or remove the key for none", v, example(key)))
		}
	}
	if c.defined("program") {
		switch {
		case !cleanPath(r.Program):
			c.wrong("program", fmt.Sprintf("%q is not a path inside the repository: give it relative to the repository's top", r.Program))
		case exists != nil && !exists(r.Program):
			c.wrong("program", fmt.Sprintf("%s does not exist: write the agent's instructions there (autoresearch init makes a skeleton), or remove the key", r.Program))
		}
	}
	if c.required("metric") {
		if c.required("metric.name") && !metricName.MatchString(r.Metric.Name) {
			c.wrong("metric.name", fmt.Sprintf("%q cannot head a results.tsv column: use letters, digits and _, e.g. %s", r.Metric.Name, example("metric.name")))
		} else if reserved[r.Metric.Name] {
			c.wrong("metric.name", fmt.Sprintf("%q is another column of results.tsv: name the metric itself, e.g. %s", r.Metric.Name, example("metric.name")))
		}
		if c.defined("metric.pattern") {
			c.pattern("metric.pattern", r.Metric.Pattern)
		}
		if c.required("metric.direction") {
			switch r.Metric.Direction {
			case "lower":
				t.Metric.LowerIsBetter = true
			case "higher":
			default:
				c.wrong("metric.direction", fmt.Sprintf("%q is not a direction: write direction = \"lower\" (a loss, an error, a time) or direction = \"higher\" (a return, an accuracy)", r.Metric.Direction))
			}
		}
	}
	if c.defined("memory") && !c.defined("memory.pattern") && !c.defined("memory.keys") {
		c.wrong("memory", "the table is empty: add "+example("memory.pattern")+" (read from the log) or "+example("memory.keys")+" (figures of the result file)")
	}
	if c.defined("memory.pattern") {
		c.pattern("memory.pattern", r.Memory.Pattern)
	}
	if c.defined("progress") && c.required("progress.pattern") {
		c.pattern("progress.pattern", r.Progress.Pattern)
	}
	for _, key := range []string{"prompt.log.start", "prompt.log.end"} {
		p := r.Prompt.Log.Start
		if key == "prompt.log.end" {
			p = r.Prompt.Log.End
		}
		if _, err := regexp.Compile(p); err != nil {
			c.wrong(key, fmt.Sprintf("not a regular expression (%v): write it in single quotes so that backslashes stay, e.g. %s", err, example(key)))
		}
	}
	if c.defined("prompt.log") && r.Prompt.Log.Start == "" {
		c.wrong("prompt.log", "the section has no start: add "+example("prompt.log.start")+" under [prompt.log]")
	}
	for i, rq := range r.Require {
		if rq.Path == "" || rq.Missing == "" {
			c.wrong("require", fmt.Sprintf("requirement %d needs both %s and %s", i+1, example("require.path"), example("require.missing")))
			continue
		}
		t.Requires = append(t.Requires, Require{Path: c.expand("require", rq.Path), Missing: c.expand("require", rq.Missing)})
	}
	// What the agent's prompt says of a task file that names nothing.
	if t.Prompt.What == "" {
		t.Prompt.What = "the program of the task in " + File
	}
	if t.Prompt.Locked == "" {
		t.Prompt.Locked = File + " and the evaluation"
	}
	if c.defined("prompt.verb") && strings.TrimSpace(r.Prompt.Verb) == "" {
		c.wrong("prompt.verb", "the word is empty: give the word the live status uses for a run of the program, e.g. "+example("prompt.verb")+", or remove the key")
	}
	if t.Prompt.Verb == "" {
		t.Prompt.Verb = DefaultVerb
	}
	if len(c.problems) > 0 {
		sort.SliceStable(c.problems, func(i, j int) bool {
			a, b := c.problems[i].Line, c.problems[j].Line
			return a != 0 && (b == 0 || a < b) // missing keys last
		})
		return nil, fail(c.problems...)
	}
	t.Finish()
	return t, nil
}

// variable is ${NAME} in a value of the file.
var variable = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces each ${NAME} in v with the variable's value. An unset
// variable is a problem of key; AUTORESEARCH_HOME has its default
// (contract.DataHome).
func (c *checker) expand(key, v string) string {
	return variable.ReplaceAllStringFunc(v, func(m string) string {
		name := m[2 : len(m)-1]
		val := c.getenv(name)
		if val == "" && name == contract.EnvHome {
			val = contract.DataHome()
		}
		if val == "" {
			c.wrong(key, fmt.Sprintf("%s stands for $%s, which is not set: set it, or write the value itself", m, name))
		}
		return val
	})
}

func (c *checker) expandAll(key string, vs []string) []string {
	if vs == nil {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = c.expand(key, v)
	}
	return out
}

// env turns a table of variables into KEY=VALUE settings, values expanded.
func (c *checker) env(key string, m map[string]string) []string {
	var out []string
	for k, v := range m {
		if !envName.MatchString(k) {
			c.wrong(key, fmt.Sprintf("%q cannot name a variable: use letters, digits and _, e.g. %s", k, example(key)))
		}
		out = append(out, k+"="+c.expand(key, v))
	}
	return sortEnv(out)
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// mismatch is the decoder's message for a value of the wrong type.
var mismatch = regexp.MustCompile(`cannot decode TOML ([a-z ]+) into`)

// kind says what a key's value must be.
func kind(key string) string {
	switch key {
	case "editable", "build", "run", "shared", "readable", "memory.keys", "prompt.rules", "prompt.figures":
		return "a list of strings"
	case "metric", "memory", "env", "build_env", "limits", "progress", "warmup", "prompt", "prompt.log":
		return "a table"
	case "require":
		return "a list of tables"
	case "limits.memory_mb", "limits.processes", "limits.open_files":
		return "a whole number"
	}
	return "a string"
}

var (
	metricName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	reserved   = map[string]bool{"commit": true, "memory_gb": true, "status": true, "description": true}
)

// checker collects the problems of a file whose keys are at lines.
type checker struct {
	lines    map[string]int
	problems []Problem
	getenv   func(string) string
}

func (c *checker) defined(key string) bool {
	_, ok := c.lines[key]
	return ok
}

// required reports whether key is in the file, noting it missing if not.
func (c *checker) required(key string) bool {
	if c.defined(key) {
		return true
	}
	msg := "missing: add " + example(key)
	if table, sub, ok := strings.Cut(key, "."); ok {
		msg = "missing: add " + example(key) + " under [" + table + "]"
		if line, ok := c.lines[table]; ok {
			msg += fmt.Sprintf(" (line %d)", line)
		}
		key = table + "." + sub
	}
	c.problems = append(c.problems, Problem{Key: key, Msg: msg})
	return false
}

func (c *checker) wrong(key, msg string) {
	c.problems = append(c.problems, Problem{Line: c.line(key), Key: key, Msg: msg})
}

// line is where key is set; a key set in an inline table has its table's line.
func (c *checker) line(key string) int {
	for {
		if l, ok := c.lines[key]; ok {
			return l
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
}

// duration reads a duration written as a string with a unit.
func (c *checker) duration(key string, v any) time.Duration {
	fix := fmt.Sprintf("write it as a string with a unit, e.g. %s", example(key))
	var d time.Duration
	switch x := v.(type) {
	case string:
		var err error
		if d, err = time.ParseDuration(x); err != nil {
			c.wrong(key, fmt.Sprintf("%q is not a duration: %s", x, fix))
			return 0
		}
	case int64, float64:
		c.wrong(key, fmt.Sprintf("%v has no unit: %s", x, fix))
		return 0
	default:
		c.wrong(key, fmt.Sprintf("%v is not a duration: %s", x, fix))
		return 0
	}
	if d <= 0 || math.IsInf(d.Seconds(), 0) {
		c.wrong(key, fmt.Sprintf("%s is not a positive time: %s", d, fix))
		return 0
	}
	return d
}

// pattern checks a regular expression whose first group is a number.
func (c *checker) pattern(key, p string) {
	re, err := regexp.Compile(p)
	switch {
	case p == "":
		c.wrong(key, "the pattern is empty: "+example(key))
	case err != nil:
		c.wrong(key, fmt.Sprintf("not a regular expression (%v): write it in single quotes so that backslashes stay, e.g. %s", err, example(key)))
	case re.NumSubexp() < 1:
		c.wrong(key, fmt.Sprintf("%s has no group: put the number in parentheses, e.g. %s", p, example(key)))
	}
}

// unknownKey names a key the file may not have, with the nearest known one.
func unknownKey(key string, line int) Problem {
	var names []string
	prefix := ""
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		prefix = key[:i+1]
	}
	best, dist := "", 3
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k.key, prefix)
		if !ok || strings.Contains(rest, ".") {
			continue
		}
		names = append(names, rest)
		if d := editDistance(key, k.key); d < dist {
			best, dist = k.key, d
		}
	}
	msg := "unknown key"
	if best != "" {
		msg += fmt.Sprintf(": did you mean %s? (%s)", best, example(best))
	} else {
		where := "at the top"
		if prefix != "" {
			where = "in [" + strings.TrimSuffix(prefix, ".") + "]"
		}
		msg += fmt.Sprintf(": the keys %s are %s; remove it", where, strings.Join(names, ", "))
	}
	return Problem{Line: line, Key: key, Msg: msg}
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// keyLines maps each key of the document, and each table header, to its
// line. The document has decoded already, so it parses.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	p := unstable.Parser{KeepComments: false}
	p.Reset(data)
	table := ""
	for p.NextExpression() {
		e := p.Expression()
		var parts []string
		line := 0
		it := e.Key()
		for it.Next() {
			n := it.Node()
			if line == 0 {
				line = p.Shape(n.Raw).Start.Line
			}
			parts = append(parts, string(n.Data))
		}
		key := strings.Join(parts, ".")
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = key
			lines[key] = line
		case unstable.KeyValue:
			if table != "" {
				key = table + "." + key
			}
			// A dotted key defines its tables too.
			for k := key; ; {
				if _, ok := lines[k]; !ok {
					lines[k] = line
				}
				i := strings.LastIndexByte(k, '.')
				if i < 0 {
					break
				}
				k = k[:i]
			}
		}
	}
	return lines
}
