package report

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"autoresearch/internal/results"
)

// Follow prints the table of the results file at path, then each row as it
// is appended, polling every interval until ctx is done. A row counts once
// its line ends with a newline, so a half-written last line waits for the
// next poll. A row that becomes the best as it arrives is marked "*". If the
// file shrinks (replaced by a new run), the table starts over.
func Follow(ctx context.Context, path string, w io.Writer, interval time.Duration) error {
	return FollowMetric(ctx, path, w, interval, true)
}

// FollowMetric is Follow for a metric of the given direction.
func FollowMetric(ctx context.Context, path string, w io.Writer, interval time.Duration, lowerIsBetter bool) error {
	return followMetric(ctx, path, w, interval, lowerIsBetter, nil)
}

// followMetric is FollowMetric; polled, when set, is told the bytes of the
// file each poll read, once the poll has been shown (a test waits on it
// instead of sleeping).
func followMetric(ctx context.Context, path string, w io.Writer, interval time.Duration, lowerIsBetter bool, polled func(read int)) error {
	ew := &errWriter{w: w}
	var (
		l       layout
		printed = -1 // rows printed; -1 before the header
		size    = 0
	)
	for {
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		complete := raw[:bytes.LastIndexByte(raw, '\n')+1]
		if len(complete) < size {
			fmt.Fprintf(ew, "\n%s was replaced; starting over\n", path)
			printed = -1
		}
		size = len(complete)
		if len(complete) > 0 {
			f, err := results.Read(bytes.NewReader(complete), path)
			if err != nil {
				return err
			}
			a := AnalyzeMetric(f, lowerIsBetter)
			initial := printed < 0
			if initial {
				l = newLayout(a)
				fmt.Fprintf(ew, "%s (%s)\n", path, Headline(a))
				if n, err := ReadNoise(path); err == nil && n != nil {
					fmt.Fprintln(ew, n.Line())
				}
				fmt.Fprintln(ew)
				l.header(ew)
				printed = 0
			}
			for i := printed; i < len(a.Rows); i++ {
				mark := " "
				if (initial && i == a.Best) || (!initial && a.setsBest(i)) {
					mark = "*"
				}
				l.row(ew, a, i, mark)
			}
			printed = len(a.Rows)
		}
		if ew.err != nil {
			return ew.err
		}
		if polled != nil {
			polled(len(raw))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}
