package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"autoresearch/internal/results"
)

// layout holds the column widths of a table, so that rows printed later
// (Follow) line up with the rows printed first.
type layout struct {
	index, commit, value, delta, memory, status int
	metric                                      string
}

// Minimum widths leave room for the rows a long run adds later.
func newLayout(a *Analysis) layout {
	l := layout{index: 3, commit: 7, value: 8, delta: 9, memory: len("memory_gb"), status: len("discard"), metric: a.Metric}
	l.value = max(l.value, len(a.Metric))
	for i, r := range a.Rows {
		c := l.cells(a, i)
		l.index = max(l.index, len(c[0]))
		l.commit = max(l.commit, len(c[1]))
		l.value = max(l.value, len(c[2]))
		l.delta = max(l.delta, len(c[3]))
		l.memory = max(l.memory, len(c[4]))
		l.status = max(l.status, len(r.Status))
	}
	return l
}

func (l layout) cells(a *Analysis, i int) [5]string {
	r := a.Rows[i]
	value, delta, memory := "-", "", "-"
	if a.Measured(r) {
		value = strconv.FormatFloat(r.Value, 'f', 6, 64)
		memory = strconv.FormatFloat(r.MemoryGB, 'f', 1, 64)
	}
	if !math.IsNaN(a.Delta[i]) {
		delta = fmt.Sprintf("%+.6f", a.Delta[i])
	}
	return [5]string{strconv.Itoa(i), r.Commit, value, delta, memory}
}

func (l layout) header(w io.Writer) {
	l.line(w, " ", "#", "commit", l.metric, "vs best", "memory_gb", "status", "description")
}

// row prints row i; mark is "*" for the best row, else " ".
func (l layout) row(w io.Writer, a *Analysis, i int, mark string) {
	c := l.cells(a, i)
	r := a.Rows[i]
	l.line(w, mark, c[0], c[1], c[2], c[3], c[4], string(r.Status), results.CleanDescription(r.Description))
}

func (l layout) line(w io.Writer, mark, index, commit, value, delta, memory, status, descr string) {
	fmt.Fprintf(w, "%s %*s  %-*s  %*s  %*s  %*s  %-*s  %s\n", mark,
		l.index, index, l.commit, commit, l.value, value, l.delta, delta, l.memory, memory, l.status, status, descr)
}

// Table writes the results as an aligned table with the best row marked,
// followed by the kept changes with their deltas against the previous best.
// name (the file's path) heads the table.
func Table(w io.Writer, a *Analysis, name string) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "%s (%s)\n", name, Headline(a))
	if a.Noise != nil {
		fmt.Fprintln(ew, a.Noise.Line())
	}
	if a.Workers != nil {
		for _, l := range a.Workers.Lines(time.Now()) {
			fmt.Fprintln(ew, l)
		}
	}
	if len(a.Rows) == 0 {
		return ew.err
	}
	fmt.Fprintln(ew)
	l := newLayout(a)
	l.header(ew)
	for i := range a.Rows {
		mark := " "
		if i == a.Best {
			mark = "*"
		}
		l.row(ew, a, i, mark)
	}
	if a.Best >= 0 {
		fmt.Fprintf(ew, "\n* best: #%d %s %s %.6f (%s)\n", a.Best, a.Rows[a.Best].Commit, a.Metric, a.BestValue(), a.Direction())
	}
	keptChanges(ew, a)
	auditText(ew, a)
	return ew.err
}

// Headline is the one-line count of a run's experiments.
func Headline(a *Analysis) string {
	n := len(a.Rows)
	if n == 0 {
		return "no experiments yet"
	}
	return fmt.Sprintf("%s: %d kept, %d discarded, %d crashed", plural(n, "experiment"), a.Keeps, a.Discards, a.Crashes)
}

func keptChanges(w io.Writer, a *Analysis) {
	if len(a.Kept) == 0 {
		return
	}
	fmt.Fprintf(w, "\nkept changes (delta against the previous best):\n")
	idx, commit, valW := 3, 7, 8
	for _, i := range a.Kept {
		idx = max(idx, len(strconv.Itoa(i)))
		commit = max(commit, len(a.Rows[i].Commit))
		valW = max(valW, len(strconv.FormatFloat(a.Rows[i].Value, 'f', 6, 64)))
	}
	for _, i := range a.Kept {
		r := a.Rows[i]
		value, delta := "-", "-"
		switch {
		case !a.Measured(r):
		case i == a.Baseline:
			delta = "baseline"
		case !math.IsNaN(a.Delta[i]):
			delta = fmt.Sprintf("%+.6f", a.Delta[i])
		}
		if a.Measured(r) {
			value = strconv.FormatFloat(r.Value, 'f', 6, 64)
		}
		descr := results.CleanDescription(r.Description)
		if i != a.Baseline {
			descr += a.Noise.inSigmas(a.Delta[i])
		}
		fmt.Fprintf(w, "  %*d  %-*s  %*s  %9s  %s\n", idx, i, commit, r.Commit, valW, value, delta, descr)
	}
	if abs, frac := a.Improvement(); !math.IsNaN(abs) && a.Best != a.Baseline {
		if a.LowerIsBetter {
			abs, frac = -abs, -frac // the change of the value: down
		}
		fmt.Fprintf(w, "total: %+.6f (%+.2f %%) from the baseline in %s\n", abs, 100*frac, plural(a.Keeps-1, "kept change"))
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// errWriter keeps the first write error, so a long run of prints checks once.
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
