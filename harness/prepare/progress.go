package prepare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress shows the long steps of a prepare: bars on a terminal, plain
// lines in logs and pipes.
type Progress interface {
	// Start begins a step of total units (0: unknown) and returns its bar.
	Start(label string, total int64) Bar
}

// Bar is one step in progress; Add may be called from several goroutines.
type Bar interface {
	Add(n int64)
	// Finish ends the step: done when err is nil, else stopped (err is a
	// cancellation) or failed, so that no step that went wrong reads "done".
	Finish(err error)
}

// ending says how a step ended, for its last line.
func ending(label string, start time.Time, err error) string {
	how := "done in"
	switch {
	case errors.Is(err, context.Canceled):
		how = "stopped after"
	case err != nil:
		how = "failed after"
	}
	return fmt.Sprintf("%s: %s %.1fs\n", label, how, time.Since(start).Seconds())
}

// NewBars returns progress bars drawn on w, a terminal.
func NewBars(w io.Writer) Progress { return barProgress{w} }

// NewLines returns progress written as one line when a step starts and one
// when it ends.
func NewLines(w io.Writer) Progress { return lineProgress{w} }

type barProgress struct{ w io.Writer }

func (p barProgress) Start(label string, total int64) Bar {
	if total <= 0 {
		total = -1 // a spinner
	}
	b := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
		progressbar.OptionClearOnFinish(),
	)
	return &bar{b: b, w: p.w, label: label, start: time.Now()}
}

type bar struct {
	b     *progressbar.ProgressBar
	w     io.Writer
	label string
	start time.Time
}

func (b *bar) Add(n int64) { b.b.Add64(n) }
func (b *bar) Finish(err error) {
	if err != nil {
		b.b.Exit() // leaves the bar where it stopped
	} else {
		b.b.Finish()
	}
	io.WriteString(b.w, ending(b.label, b.start, err))
}

type lineProgress struct{ w io.Writer }

func (p lineProgress) Start(label string, total int64) Bar {
	fmt.Fprintf(p.w, "%s...\n", label)
	return &line{w: p.w, label: label, start: time.Now()}
}

type line struct {
	w     io.Writer
	label string
	start time.Time
	n     atomic.Int64
}

func (l *line) Add(n int64)      { l.n.Add(n) }
func (l *line) Finish(err error) { io.WriteString(l.w, ending(l.label, l.start, err)) }

type nopProgress struct{}

func (nopProgress) Start(string, int64) Bar { return nopBar{} }

type nopBar struct{}

func (nopBar) Add(int64)    {}
func (nopBar) Finish(error) {}
