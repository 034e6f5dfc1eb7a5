// Package contract is what a program under research and the loop that runs
// it agree on, whatever the task: the environment the program gets, the lines
// it may print for the loop to read, and the figures it reports. The harness
// writes this side of it for the GPT; the runner, the experiment loop and the
// agents read it; a task file names which parts its program speaks.
//
// Its terms:
//
//   - budget: the seconds the program keeps itself to, given in EnvBudget.
//   - result file: a JSON object of figures (numbers) and an optional
//     training curve, written to the path in EnvResult.
//   - summary block: the same figures printed as `key: value` lines after a
//     line `---`, as the original autoresearch prints them.
//   - progress line: `step 00012 (34.5%) | ...`, the share of the budget
//     spent, which a live status shows.
//   - warm-up lines: a program whose first steps stay out of its budget says
//     when they start and when the budget starts counting.
//   - fail line: a line `FAIL` says the program gave up (a NaN loss); a line
//     `error: ...` before its exit says why it ended.
//   - curve: the smoothed training loss at every tenth of the budget.
package contract

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// The environment the loop gives a program, beyond the basics.
const (
	EnvBudget = "AUTORESEARCH_BUDGET_SECONDS" // the budget in seconds
	EnvResult = "AUTORESEARCH_RESULT"         // where to write the result file; optional
	EnvHome   = "AUTORESEARCH_HOME"           // where prepared data lives (DataHome)
)

// DataHome is where prepared data lives: $AUTORESEARCH_HOME, else the user's
// cache folder + autoresearch (~/.cache/autoresearch).
func DataHome() string {
	if h := os.Getenv(EnvHome); h != "" {
		return h
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "autoresearch")
	}
	return filepath.Join(os.TempDir(), "autoresearch")
}

// The lines a program prints for the loop.
const (
	SummaryStart   = "---"            // the summary block follows
	WarmupLine     = "warm-up: "      // untimed warm-up steps start
	WarmupDoneLine = "warm-up done: " // the budget starts counting
	FailLine       = "FAIL"           // the program gave up (a NaN or exploding loss)
	ErrorPrefix    = "error: "        // why the program ends, on its last line
)

// ProgressPattern matches a progress line; its group is the percentage.
const ProgressPattern = `^step\s+\d+\s+\((\d+(?:\.\d+)?)%\)`

// ProgressLine is the start of a progress line after step steps with the
// share progress (0 to 1) of the budget spent: "step 00012 (34.5%)". A
// program may add details after it; it ends the line with \r to redraw it.
func ProgressLine(step int, progress float64) string {
	return fmt.Sprintf("step %05d (%.1f%%)", step, 100*progress)
}

// Fail prints the fail line, with why on an error line before it when set:
// the loop records the run as a crash with that reason.
func Fail(w io.Writer, why string) {
	if why != "" {
		fmt.Fprintf(w, "\n%s%s\n", ErrorPrefix, why)
	}
	fmt.Fprintln(w, FailLine)
}

// CurvePoint is the smoothed training loss after Step steps, when the budget
// had reached Progress (0 to 1).
type CurvePoint struct {
	Progress float64 `json:"progress"`
	Step     int     `json:"step"`
	Loss     float64 `json:"loss"`
}

// FormatCurve writes a training curve on one line, each point as the share of
// the budget, the smoothed loss and the step: "10% 3.912 @7, 20% 3.204 @13, ...".
func FormatCurve(c []CurvePoint) string {
	var b strings.Builder
	for i, p := range c {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%.0f%% %.3f @%d", 100*p.Progress, p.Loss, p.Step)
	}
	return b.String()
}

// Result is what a run reported: its figures and training curve.
type Result struct {
	Figures map[string]float64
	Curve   []CurvePoint
}

// ParseResult reads a result file: the figures of its JSON object (numbers
// only; other values are skipped) and its "curve", when it has one of the
// right shape.
func ParseResult(b []byte) (Result, error) {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return Result{}, err
	}
	r := Result{Figures: map[string]float64{}}
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			r.Figures[k] = f
		}
	}
	var c struct {
		Curve []CurvePoint `json:"curve"`
	}
	if json.Unmarshal(b, &c) == nil {
		r.Curve = c.Curve
	}
	return r, nil
}

var summaryLine = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*):\s+(\S+)\s*$`)

// SummaryFigure reads one line of a summary block: a key and a number.
func SummaryFigure(line string) (key string, value float64, ok bool) {
	m := summaryLine.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		return "", 0, false
	}
	return m[1], v, true
}
