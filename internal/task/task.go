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
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"autoresearch/internal/experiment"
)

// File is the task file's name, at the top of the repository.
const File = "autoresearch.toml"

// EnvBudget passes the budget, in seconds, to the task's program.
const EnvBudget = "AUTORESEARCH_BUDGET_SECONDS"

// Task is a parsed, checked task file.
type Task struct {
	Editable  []string      // slash-separated paths the agent may change
	Build     []string      // run before each experiment; nil for none
	Run       []string      // the experiment
	Budget    time.Duration // the time the program keeps itself to
	HardLimit time.Duration // killed after this; 0 for the default
	Program   string        // the LLM's instructions, relative to the repository; "" for none
	Metric    experiment.Metric
	// MemoryPattern reads the peak memory in MB from the log; "" for none.
	MemoryPattern string
}

// raw is the file as TOML has it. Durations are read as any value, so that
// budget = 60 gets a message that names the fix rather than a type error.
type raw struct {
	Editable  []string   `toml:"editable"`
	Build     []string   `toml:"build"`
	Run       []string   `toml:"run"`
	Budget    any        `toml:"budget"`
	HardLimit any        `toml:"hard_limit"`
	Program   string     `toml:"program"`
	Metric    rawMetric  `toml:"metric"`
	Memory    rawPattern `toml:"memory"`
}

type rawMetric struct {
	Name      string `toml:"name"`
	Pattern   string `toml:"pattern"`
	Direction string `toml:"direction"`
}

type rawPattern struct {
	Pattern string `toml:"pattern"`
}

// keys lists every key of the file, in the template's order, with the line
// that fixes it; a key under a table is named table.key.
var keys = []struct{ key, example string }{
	{"editable", `editable = ["strategy.py"]`},
	{"build", `build = ["make", "backtest"]`},
	{"run", `run = ["python3", "backtest.py"]`},
	{"budget", `budget = "60s"`},
	{"hard_limit", `hard_limit = "3m"`},
	{"program", `program = "program.md"`},
	{"metric", `[metric] with name, pattern and direction`},
	{"metric.name", `name = "sharpe"`},
	{"metric.pattern", `pattern = '^sharpe:\s*([-+0-9.eE]+)'`},
	{"metric.direction", `direction = "higher"`},
	{"memory", `[memory] with pattern`},
	{"memory.pattern", `pattern = '^peak_mb:\s*([0-9.]+)'`},
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

// Load reads and checks the task file of the repository whose top folder is
// root. Paths it names (editable, program) must exist there.
func Load(root string) (*Task, error) {
	path := filepath.Join(root, File)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b, path, func(rel string) bool {
		_, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		return err == nil
	})
}

// Parse checks a task file's content. exists reports whether a path of the
// repository exists; nil skips that check. name is the file's path for
// messages.
func Parse(data []byte, name string, exists func(string) bool) (*Task, error) {
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
	c := checker{lines: keyLines(data), problems: unknown}
	t := &Task{Editable: r.Editable, Build: r.Build, Run: r.Run, Program: r.Program,
		Metric:        experiment.Metric{Name: r.Metric.Name, Pattern: r.Metric.Pattern},
		MemoryPattern: r.Memory.Pattern}

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
	}
	if c.defined("build") && (len(r.Build) == 0 || r.Build[0] == "") {
		c.wrong("build", "the command is empty: give the program and its arguments, e.g. "+example("build")+", or remove the key")
	}
	if c.required("run") && (len(r.Run) == 0 || r.Run[0] == "") {
		c.wrong("run", "the command is empty: give the program and its arguments, e.g. "+example("run"))
	}
	if c.required("budget") {
		t.Budget = c.duration("budget", r.Budget)
	}
	if c.defined("hard_limit") {
		t.HardLimit = c.duration("hard_limit", r.HardLimit)
		if t.HardLimit > 0 && t.Budget > 0 && t.HardLimit <= t.Budget {
			c.wrong("hard_limit", fmt.Sprintf("%s is not longer than the budget (%s): the program would be killed before its time is up; raise it, or remove it for the default", t.HardLimit, t.Budget))
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
		if c.required("metric.pattern") {
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
	if c.defined("memory") && c.required("memory.pattern") {
		c.pattern("memory.pattern", r.Memory.Pattern)
	}
	if len(c.problems) > 0 {
		sort.SliceStable(c.problems, func(i, j int) bool {
			a, b := c.problems[i].Line, c.problems[j].Line
			return a != 0 && (b == 0 || a < b) // missing keys last
		})
		return nil, fail(c.problems...)
	}
	return t, nil
}

// mismatch is the decoder's message for a value of the wrong type.
var mismatch = regexp.MustCompile(`cannot decode TOML ([a-z ]+) into`)

// kind says what a key's value must be.
func kind(key string) string {
	switch key {
	case "editable", "build", "run":
		return "a list of strings"
	case "metric", "memory":
		return "a table"
	}
	return "a string"
}

var (
	metricName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	reserved   = map[string]bool{"commit": true, "memory_gb": true, "status": true, "description": true}
)

func cleanPath(p string) bool {
	return p != "" && !filepath.IsAbs(p) && p == filepath.ToSlash(filepath.Clean(p)) && p != "." && !strings.HasPrefix(p, "../") && p != ".."
}

// checker collects the problems of a file whose keys are at lines.
type checker struct {
	lines    map[string]int
	problems []Problem
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

// Config is the run configuration of the task for a new run named tag in the
// repository whose top folder is root. allowance is the evaluation
// allowance of the default hard limit.
func (t *Task) Config(root, tag string, allowance time.Duration) experiment.Config {
	budget := t.Budget.Seconds()
	c := experiment.Config{
		Tag: tag, Repo: root, Task: File,
		Editable: append([]string(nil), t.Editable...),
		Run: experiment.Command{Argv: append([]string(nil), t.Run...),
			// Python must not write __pycache__ into the clone: the
			// program leaves the worktree as the commit has it.
			Env: []string{EnvBudget + "=" + strconv.FormatFloat(budget, 'f', -1, 64), "PYTHONDONTWRITEBYTECODE=1"}},
		Metric:               t.Metric,
		BudgetSeconds:        budget,
		EvalAllowanceSeconds: allowance.Seconds(),
		HardLimitSeconds:     t.HardLimit.Seconds(),
	}
	if len(t.Build) > 0 {
		c.Build = experiment.Command{Argv: append([]string(nil), t.Build...)}
	}
	if t.MemoryPattern != "" {
		c.MemoryPattern = t.MemoryPattern
		c.MemoryKeys = []string{experiment.MemoryFigure}
	}
	return c
}
