package report

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"autoresearch/internal/atomicfile"
	"autoresearch/internal/runs"
)

// WriteHTMLFile reads the run whose results file is resultsPath and writes
// its page to opts.Out (default report.html in the run folder) atomically: a browser reloading it meanwhile sees the
// old page or the new one.
func WriteHTMLFile(resultsPath string, lowerIsBetter bool, opts HTMLOptions) (*Page, error) {
	return writeHTMLFile(resultsPath, lowerIsBetter, opts, nil)
}

// HTMLFile is the page's name in the run folder, where it goes by default.
const HTMLFile = "report.html"

func writeHTMLFile(resultsPath string, lowerIsBetter bool, opts HTMLOptions, cache patchCache) (*Page, error) {
	if opts.Out == "" {
		opts.Out = filepath.Join(filepath.Dir(resultsPath), HTMLFile)
	}
	p, err := loadPage(resultsPath, lowerIsBetter, cache)
	if err != nil {
		return nil, err
	}
	b, err := RenderHTML(p, opts)
	if err != nil {
		return nil, err
	}
	return p, atomicfile.Write(opts.Out, b, 0o644)
}

// WatchHTML writes the page as WriteHTMLFile does, then again whenever a
// line is completed in the run's experiments.jsonl or results.tsv (polled
// every interval), until ctx is done. written is called after each write.
// A line counts once it ends with a newline, as for Follow.
func WatchHTML(ctx context.Context, resultsPath string, lowerIsBetter bool, opts HTMLOptions, interval time.Duration, written func(*Page)) error {
	files := []string{resultsPath, filepath.Join(filepath.Dir(resultsPath), runs.ExperimentsFile)}
	cache := patchCache{}
	var seen []int
	for {
		sizes, err := completeSizes(files)
		if err != nil {
			return err
		}
		if !slices.Equal(sizes, seen) {
			o := opts
			if o.Now.IsZero() {
				o.Now = time.Now()
			}
			p, err := writeHTMLFile(resultsPath, lowerIsBetter, o, cache)
			if err != nil {
				return err
			}
			seen = sizes
			if written != nil {
				written(p)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// completeSizes is, for each file, the length of its complete lines; -1 for
// a file that does not exist.
func completeSizes(paths []string) ([]int, error) {
	sizes := make([]int, len(paths))
	for i, p := range paths {
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			sizes[i] = -1
		case err != nil:
			return nil, err
		default:
			sizes[i] = bytes.LastIndexByte(b, '\n') + 1
		}
	}
	return sizes, nil
}
