package audit

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Heading says what the audit measured, how and how long it took.
func (a *Audit) Heading() string {
	what := "the baseline and the final best"
	if a.Each {
		what = fmt.Sprintf("every kept commit (%d)", len(a.Programs))
	}
	at := "one at a time"
	if a.Workers > 1 {
		at = fmt.Sprintf("%d at a time", a.Workers)
	}
	took := fmt.Sprintf("%d runs in %s", a.Measured(), Duration(a.Seconds))
	if a.RunSeconds > 0 {
		took += fmt.Sprintf(" (the run took %s)", Duration(a.RunSeconds))
	}
	return fmt.Sprintf("audit of run %s, %s: %d fresh runs each of %s, interleaved, %s; %s",
		a.Tag, a.Started.Local().Format("2006-01-02 15:04"), a.Runs, what, at, took)
}

// State says whether the audit is complete, and how to go on when not.
func (a *Audit) State() string {
	if a.Complete {
		return ""
	}
	return fmt.Sprintf("interrupted after %d of %d runs: \"autoresearch audit --tag %s%s\" measures the rest",
		a.Measured(), a.Planned(), a.Tag, a.flags())
}

func (a *Audit) flags() string {
	s := ""
	if a.Runs != DefaultRuns {
		s += " --runs " + strconv.Itoa(a.Runs)
	}
	if a.Each {
		s += " --each"
	}
	return s
}

// decimals is how many decimals the audit's figures get: six, as
// results.tsv has them, for a metric of the size of a val_bpb or a Sharpe
// ratio; fewer as the baseline's value has more digits before the point, so
// that a time in nanoseconds reads 21133739, not 21133739.250000.
func (a *Audit) decimals() int {
	if len(a.Programs) == 0 {
		return 6
	}
	digits := len(strconv.FormatFloat(math.Trunc(math.Abs(a.Programs[0].Logged)), 'f', 0, 64))
	return min(max(7-digits, 0), 6)
}

// num is x with the audit's decimals; signed with a sign always.
func (a *Audit) num(x float64, signed bool) string {
	f := "%.*f"
	if signed {
		f = "%+.*f"
	}
	return fmt.Sprintf(f, a.decimals(), x)
}

// Fresh is a program's fresh value as "mean ± standard error".
func (a *Audit) Fresh(e Estimate) string {
	switch {
	case e.Runs == 0:
		return "-"
	case math.IsNaN(e.SE):
		return a.num(e.Mean, false)
	}
	return a.num(e.Mean, false) + " ± " + a.num(e.SE, false)
}

// Count is the runs behind an estimate: "5 runs", "4 runs, 1 crashed".
func (e Estimate) Count() string {
	s := plural(e.Runs, "run")
	if e.Crashed > 0 {
		s += fmt.Sprintf(", %d crashed", e.Crashed)
	}
	return s
}

// HeldLine says how much of the logged gain held, with its interval and
// the interval's method.
func (s Summary) HeldLine() string {
	switch {
	case math.IsNaN(s.Held):
		return "unknown: the baseline or the best has no fresh run with a value"
	case math.IsNaN(s.Low):
		return fmt.Sprintf("%.1f %% of the logged gain (no interval: a program has fewer than two fresh runs)", 100*s.Held)
	case s.Gain.SE == 0:
		return fmt.Sprintf("%.1f %% of the logged gain (the fresh runs did not vary: no interval to give)", 100*s.Held)
	}
	return fmt.Sprintf("%.1f %% of the logged gain, %.0f %% interval %.1f %% to %.1f %% (Welch's t-interval of the fresh gain, %.1f degrees of freedom)",
		100*s.Held, 100*Level, 100*s.Low, 100*s.High, s.Gain.DF)
}

// Headline is the audit in one line: how much of the gain held, and how
// many kept changes did not.
func (a *Audit) Headline() string {
	s := a.Summarize()
	var h string
	switch {
	case math.IsNaN(s.Held):
		h = "no fresh value of the baseline or the best"
	case math.IsNaN(s.Low) || s.Low == s.High:
		h = fmt.Sprintf("%.1f %% of the logged gain held", 100*s.Held)
	default:
		h = fmt.Sprintf("%.1f %% of the logged gain held (%.0f %% interval %.1f %% to %.1f %%)", 100*s.Held, 100*Level, 100*s.Low, 100*s.High)
	}
	switch failed := len(s.Failed()); {
	case len(s.Steps) == 0:
	case failed == 0:
		h += "; every kept change held"
	default:
		h += fmt.Sprintf("; %d of %s did not hold", failed, plural(len(s.Steps), "kept change"))
	}
	if !a.Complete {
		h += fmt.Sprintf("; interrupted after %d of %d runs", a.Measured(), a.Planned())
	}
	return h
}

// About says what the audit found of experiment n, as key and text pairs:
// its fresh runs against its logged value and, for a kept change of an
// audit of every kept commit, whether it held. Nil when the audit did not
// measure n.
func (a *Audit) About(n int) [][2]string {
	i, ok := a.Find(n)
	if !ok {
		return nil
	}
	p, e := a.Programs[i], a.Estimate(i)
	values := make([]string, 0, len(p.Fresh))
	for _, r := range p.Fresh {
		if r.Crash != "" {
			values = append(values, "crash")
		} else {
			values = append(values, a.num(r.Value, false))
		}
	}
	fresh := fmt.Sprintf("%s fresh (%s: %s), logged %s; audited %s", a.Fresh(e), e.Count(), strings.Join(values, ", "),
		a.num(p.Logged, false), a.Started.Local().Format("2006-01-02 15:04"))
	out := [][2]string{{"audit", fresh}}
	for _, st := range a.Summarize().Steps {
		if st.Program != i {
			continue
		}
		parent := a.Programs[st.Parent].N
		text := fmt.Sprintf("against #%d: logged %s, fresh %s", parent, a.num(st.Logged, true), a.num(st.Fresh.Delta, true))
		switch {
		case !st.Known:
			text += ": not judged (fewer than two fresh runs)"
		case st.Held:
			text += fmt.Sprintf(" ± %s: held", a.num(st.Fresh.SE, false))
		default:
			text += fmt.Sprintf(" ± %s: did NOT hold, the fresh delta is not better than #%d's by at least one standard error", a.num(st.Fresh.SE, false), parent)
		}
		out = append(out, [2]string{"audit delta", text})
	}
	return out
}

// Verdict is a step's word in the held column.
func (st Step) Verdict() string {
	switch {
	case !st.Known:
		return "?"
	case st.Held:
		return "yes"
	}
	return "NO"
}

// Failed lists the steps that did not hold.
func (s Summary) Failed() []Step {
	var out []Step
	for _, st := range s.Steps {
		if st.Known && !st.Held {
			out = append(out, st)
		}
	}
	return out
}

// Conclusion says in words which kept changes did not hold; "" without
// steps.
func (a *Audit) Conclusion(s Summary) string {
	if len(s.Steps) == 0 {
		return ""
	}
	failed := s.Failed()
	if len(failed) == 0 {
		unknown := 0
		for _, st := range s.Steps {
			if !st.Known {
				unknown++
			}
		}
		if unknown > 0 {
			return fmt.Sprintf("No kept change failed; %d could not be judged (fewer than two fresh runs).", unknown)
		}
		return "Every kept change held: each fresh delta is better than its parent's by at least one standard error."
	}
	names := make([]string, len(failed))
	for i, st := range failed {
		names[i] = "#" + strconv.Itoa(a.Programs[st.Program].N)
	}
	return fmt.Sprintf("%d of %s did not hold (%s): the fresh delta is not better than the parent's by at least one standard error. The branch is unchanged.",
		len(failed), plural(len(s.Steps), "kept change"), strings.Join(names, ", "))
}

// Cells are the audit's two tables, each header first: the logged and
// fresh values of the baseline and the best and the gains; and, when it
// measured every kept commit, one row per kept change (none otherwise).
func (a *Audit) Cells(s Summary) (values, steps [][]string) {
	if len(a.Programs) < 2 {
		return nil, nil
	}
	base, best := a.Programs[s.Base], a.Programs[s.Best]
	values = [][]string{
		{"", "logged " + a.Metric, "fresh: mean ± standard error", "fresh runs"},
		{fmt.Sprintf("baseline #%d", base.N), a.num(base.Logged, false), a.Fresh(s.BaseFresh), s.BaseFresh.Count()},
		{fmt.Sprintf("best #%d", best.N), a.num(best.Logged, false), a.Fresh(s.BestFresh), s.BestFresh.Count()},
		{"gain", a.gain(s.LoggedGain, base.Logged, math.NaN()), a.gain(s.Gain.Delta, s.BaseFresh.Mean, s.Gain.SE), ""},
	}
	if len(s.Steps) == 0 {
		return values, nil
	}
	steps = [][]string{{"#", "commit", "logged delta", "fresh delta ± se", "held", "description"}}
	for _, st := range s.Steps {
		p := a.Programs[st.Program]
		fresh := "-"
		switch {
		case st.Known:
			fresh = a.num(st.Fresh.Delta, true) + " ± " + a.num(st.Fresh.SE, false)
		case !math.IsNaN(st.Fresh.Delta):
			fresh = a.num(st.Fresh.Delta, true)
		}
		steps = append(steps, []string{strconv.Itoa(p.N), short(p.Commit), a.num(st.Logged, true), fresh, st.Verdict(), p.Description})
	}
	return values, steps
}

// StepsCaption says what the rows of the kept changes show.
const StepsCaption = "kept changes, each against the kept commit before it (held: the fresh delta is better by at least its standard error)"

// WriteTable writes the audit as the audit command prints it: the heading,
// logged against fresh values of the baseline and the best, the gains and
// how much held; then, for an audit of every kept commit, one row per kept
// change and which did not hold.
func WriteTable(w io.Writer, a *Audit) error {
	ew := &errWriter{w: w}
	s := a.Summarize()
	fmt.Fprintln(ew, a.Heading())
	if st := a.State(); st != "" {
		fmt.Fprintln(ew, st)
	}
	values, steps := a.Cells(s)
	if values == nil {
		return ew.err
	}
	fmt.Fprintln(ew)
	columns(ew, "", values)
	fmt.Fprintf(ew, "held: %s\n", s.HeldLine())
	if steps == nil {
		return ew.err
	}
	fmt.Fprintf(ew, "\n%s:\n", StepsCaption)
	columns(ew, "  ", steps)
	fmt.Fprintln(ew, a.Conclusion(s))
	return ew.err
}

// gain is a gain in the metric's units and as a share of the baseline's
// value, with its standard error when known.
func (a *Audit) gain(g, base, se float64) string {
	if math.IsNaN(g) {
		return "-"
	}
	s := a.num(g, false)
	if !math.IsNaN(se) {
		s += " ± " + a.num(se, false)
	}
	if base != 0 && !math.IsNaN(base) {
		s += fmt.Sprintf(" (%.2f %%)", 100*g/math.Abs(base))
	}
	return s
}

// columns writes rows as left-aligned columns two spaces apart, each line
// starting with indent; the last column is not padded.
func columns(w io.Writer, indent string, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func short(h string) string { return h[:min(7, len(h))] }

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// Duration is d seconds for a reader: "48 s", "3 min 40 s", "2 h 05 min".
func Duration(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
