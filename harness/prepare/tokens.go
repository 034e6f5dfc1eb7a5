package prepare

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"autoresearch/harness"
)

// writeAtomic writes a file through fill into a temporary file beside path,
// flushes it and renames it over path; it returns the SHA-256 of the content.
// On any error the temporary file is removed and path is left as it was.
func writeAtomic(path string, fill func(io.Writer) error) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(tmp, h), 1<<20)
	if err := fill(bw); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	ok = true
	return hex.EncodeToString(h.Sum(nil)), nil
}

type tokenStats struct {
	docs, tokens, bytes int64
	sha256              string
}

// encodeBatch is how many documents a worker encodes at a time.
const encodeBatch = 64

// encoded is a worker's output for one batch: token file bytes and counts.
type encoded struct {
	buf         []byte
	docs, bytes int64
}

// encoder turns documents into token file records: BOS, then the ids, as
// little-endian uint16. With maxTokens > 0 a document of more ids than that
// is cut again, smaller, until every piece fits: a record is then at most
// maxTokens + 1 ids, one row of the loader, so packing never has to crop it.
type encoder struct {
	tok       *harness.Tokenizer
	maxTokens int
	ids       []int32
}

func (e *encoder) add(out *encoded, doc string) {
	e.ids = e.tok.AppendEncode(e.ids[:0], doc)
	if e.maxTokens > 0 && len(e.ids) > e.maxTokens {
		// Aim a tenth under the limit, at this document's bytes per token.
		limit := len(doc) * e.maxTokens / len(e.ids) * 9 / 10
		cut(doc, max(limit, 1), func(piece string) error { e.add(out, piece); return nil })
		return
	}
	out.buf = binary.LittleEndian.AppendUint16(out.buf, uint16(e.tok.BOS()))
	for _, id := range e.ids {
		out.buf = binary.LittleEndian.AppendUint16(out.buf, uint16(id))
	}
	out.docs++
	out.bytes += int64(len(doc))
}

// writeTokens encodes every document of a split on several goroutines and
// writes the records in order to a token file.
func writeTokens(ctx context.Context, o *Options, path string, docs walker, tok *harness.Tokenizer, maxTokens int) (st tokenStats, err error) {
	bar := o.progress().Start("tokenizing "+filepath.Base(path), 0)
	defer func() { bar.Finish(err) }()
	sum, err := writeAtomic(path, func(w io.Writer) error {
		type job struct {
			docs []string
			out  chan encoded
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		jobs := make(chan job, o.workers())
		order := make(chan chan encoded, 2*o.workers())
		var wg sync.WaitGroup
		for range o.workers() {
			wg.Go(func() {
				enc := &encoder{tok: tok, maxTokens: maxTokens}
				for j := range jobs {
					var out encoded
					for _, d := range j.docs {
						enc.add(&out, d)
					}
					j.out <- out
				}
			})
		}
		var walkErr error
		go func() {
			defer close(order)
			defer close(jobs)
			batch := make([]string, 0, encodeBatch)
			flush := func() bool {
				j := job{batch, make(chan encoded, 1)}
				select {
				case order <- j.out:
				case <-ctx.Done():
					return false
				}
				jobs <- j
				batch = make([]string, 0, encodeBatch)
				return true
			}
			walkErr = docs(ctx, func(d string) error {
				if batch = append(batch, d); len(batch) == encodeBatch && !flush() {
					return ctx.Err()
				}
				return nil
			})
			if walkErr == nil && len(batch) > 0 {
				flush()
			}
		}()
		var werr error
		for out := range order {
			e := <-out
			if werr == nil {
				n := int64(len(e.buf) / 2)
				bar.Add(n)
				st.tokens += n
				st.docs += e.docs
				st.bytes += e.bytes
				if _, werr = w.Write(e.buf); werr != nil {
					cancel()
				}
			}
		}
		wg.Wait()
		if walkErr != nil {
			return walkErr
		}
		if werr != nil {
			return werr
		}
		return ctx.Err()
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return st, err
		}
		return st, fmt.Errorf("writing %s: %w", path, err)
	}
	st.sha256 = sum
	return st, nil
}
