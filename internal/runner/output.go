package runner

import (
	"regexp"
	"strconv"
	"strings"

	"autoresearch/internal/contract"
)

const (
	tailLines  = 50
	maxSegment = 64 << 10 // longer lines are cut; no summary line is that long
)

// output reads a program's combined stdout and stderr as it streams: it splits
// lines on \n and \r (progress lines end in \r), reports progress, keeps the
// figures after the last `---` line and the last lines for a crash report.
// What it looks for beyond that (progress, warm-up and fail lines, patterns)
// is the task's, through the Spec.
type output struct {
	progress *regexp.Regexp // nil: no progress line
	onProg   func(float64)
	patterns map[string]*regexp.Regexp
	warmup   [2]string // the lines that start and end the warm-up; "" for none
	failLine string    // "" for none

	matched  map[string]float64 // the last number each pattern matched
	unparsed map[string]string  // a last match that was not a number

	seg     []byte
	lastCR  string // the latest \r-terminated segment: what a terminal shows
	tail    []string
	figures map[string]float64 // nil until a --- line
	failed  bool               // a line exactly failLine
	panic   string             // the first panic or fatal error line
	errLine string             // the last line beginning "error: " (how a program says why it ends), without it
	any     bool               // any byte seen
	onPhase func(string)       // told PhaseWarmup and PhaseTraining at the warm-up lines
}

func (o *output) Write(p []byte) (int, error) {
	if len(p) > 0 {
		o.any = true
	}
	for _, b := range p {
		switch b {
		case '\r':
			s := string(o.seg)
			o.seg = o.seg[:0]
			if s != "" {
				o.lastCR = s
				o.line(s, false)
			}
		case '\n':
			s := string(o.seg)
			o.seg = o.seg[:0]
			if s == "" && o.lastCR != "" {
				o.pushTail(o.lastCR)
			} else {
				o.line(s, true)
			}
			o.lastCR = ""
		default:
			if len(o.seg) < maxSegment {
				o.seg = append(o.seg, b)
			}
		}
	}
	return len(p), nil
}

// flush ends a final line that lacks a newline.
func (o *output) flush() {
	if len(o.seg) > 0 {
		o.line(string(o.seg), true)
		o.seg = o.seg[:0]
	} else if o.lastCR != "" {
		o.pushTail(o.lastCR)
	}
	o.lastCR = ""
}

func (o *output) pushTail(s string) {
	o.tail = append(o.tail, s)
	if len(o.tail) > 2*tailLines {
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-tailLines:]...)
	}
}

func (o *output) line(s string, full bool) {
	if full {
		o.pushTail(s)
	}
	o.match(s)
	t := strings.TrimSpace(s)
	if m := o.progressMatch(t); m != nil {
		if f, err := strconv.ParseFloat(m[1], 64); err == nil && o.onProg != nil {
			o.onProg(min(max(f/100, 0), 1))
		}
		// An error printed to stderr right after a progress line (which
		// ends in no newline) shares its line.
		if i := strings.LastIndex(t, " error: "); i >= 0 && full {
			o.errLine = t[i+len(" error: "):]
		}
		return
	}
	switch {
	case o.warmup[0] != "" && strings.HasPrefix(t, o.warmup[0]):
		o.phase(PhaseWarmup)
	case o.warmup[1] != "" && strings.HasPrefix(t, o.warmup[1]):
		o.phase(PhaseTraining)
	case strings.HasPrefix(t, contract.ErrorPrefix):
		o.errLine = strings.TrimPrefix(t, contract.ErrorPrefix)
	case t == contract.SummaryStart:
		o.figures = map[string]float64{}
	case o.failLine != "" && t == o.failLine:
		o.failed = true
	case o.panic == "" && (strings.HasPrefix(t, "panic: ") || strings.HasPrefix(t, "fatal error: ")):
		o.panic = t
	case o.figures != nil:
		if k, v, ok := contract.SummaryFigure(t); ok {
			o.figures[k] = v
		}
	}
}

func (o *output) progressMatch(t string) []string {
	if o.progress == nil {
		return nil
	}
	return o.progress.FindStringSubmatch(t)
}

// match records the first group of each pattern that matches the line; a
// later match replaces an earlier one, so the last counts.
func (o *output) match(s string) {
	for name, re := range o.patterns {
		m := re.FindStringSubmatch(s)
		if len(m) < 2 {
			continue
		}
		if o.matched == nil {
			o.matched, o.unparsed = map[string]float64{}, map[string]string{}
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(m[1]), 64)
		if err != nil {
			delete(o.matched, name)
			o.unparsed[name] = m[1]
			continue
		}
		o.matched[name] = v
		delete(o.unparsed, name)
	}
}

// Phases of a run that the task's warm-up lines announce.
const (
	PhaseWarmup   = "warm-up"  // untimed warm-up steps
	PhaseTraining = "training" // the budget counts
)

func (o *output) phase(p string) {
	if o.onPhase != nil {
		o.onPhase(p)
	}
}

// Tail returns the last 50 lines, as a terminal would have shown them.
func (o *output) Tail() string {
	t := o.tail
	if len(t) > tailLines {
		t = t[len(t)-tailLines:]
	}
	return strings.Join(t, "\n")
}

// ParseSummary reads the figures after the last `---` line of a program's
// output. It returns nil when there is no such line.
func ParseSummary(text string) map[string]float64 {
	o := &output{}
	o.Write([]byte(text))
	o.flush()
	return o.figures
}
