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

// writeTokens encodes every document of a split on several goroutines and
// writes them in order to a token file: BOS, then the document's ids, as
// little-endian uint16.
func writeTokens(ctx context.Context, o *Options, path string, docs walker, tok *harness.Tokenizer) (tokenStats, error) {
	var st tokenStats
	bar := o.progress().Start("tokenizing "+filepath.Base(path), 0)
	defer bar.Finish()
	sum, err := writeAtomic(path, func(w io.Writer) error {
		type job struct {
			docs []string
			out  chan []byte
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		jobs := make(chan job, o.workers())
		order := make(chan chan []byte, 2*o.workers())
		var wg sync.WaitGroup
		for range o.workers() {
			wg.Go(func() {
				var ids []int32
				for j := range jobs {
					var buf []byte
					for _, d := range j.docs {
						ids = tok.AppendEncode(append(ids[:0], tok.BOS()), d)
						for _, id := range ids {
							buf = binary.LittleEndian.AppendUint16(buf, uint16(id))
						}
					}
					j.out <- buf
				}
			})
		}
		var walkErr error
		go func() {
			defer close(order)
			defer close(jobs)
			batch := make([]string, 0, encodeBatch)
			flush := func() bool {
				j := job{batch, make(chan []byte, 1)}
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
				st.docs++
				st.bytes += int64(len(d))
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
			buf := <-out
			if werr == nil {
				bar.Add(int64(len(buf) / 2))
				st.tokens += int64(len(buf) / 2)
				if _, werr = w.Write(buf); werr != nil {
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
