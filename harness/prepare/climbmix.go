package prepare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The original's data: parquet shards of shuffled web text, a "text" column
// each. Training uses shards 0..N-1; validation is always the last shard.
const (
	DefaultClimbmixURL = "https://huggingface.co/datasets/karpathy/climbmix-400b-shuffle/resolve/main"
	EnvClimbmixURL     = "AUTORESEARCH_CLIMBMIX_URL" // overrides the base URL (mirrors, tests)
	ClimbmixValShard   = 6542                        // pinned validation shard, shard_06542.parquet
	DefaultShards      = 10                          // training shards when --num-shards is not given
	downloadAttempts   = 5
	downloadWorkers    = 4
)

// The original caps what its tokenizer learns from: 10,000 characters of
// each document, 1e9 characters in all.
const (
	tokenizerDocCap   = 10_000
	tokenizerCharsCap = 1_000_000_000
)

func shardName(i int) string { return fmt.Sprintf("shard_%05d.parquet", i) }

// climbmixCorpus downloads the missing shards and reads them. Documents are
// kept whole, as the original does.
func climbmixCorpus(ctx context.Context, o *Options) (*corpus, error) {
	n := o.NumShards
	if n <= 0 || n > ClimbmixValShard {
		n = ClimbmixValShard
	}
	dir := filepath.Join(o.Home, "datasets", Climbmix)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ids := make([]int, 0, n+1)
	for i := range n {
		ids = append(ids, i)
	}
	ids = append(ids, ClimbmixValShard)
	if err := downloadShards(ctx, o, dir, ids); err != nil {
		return nil, err
	}
	walk := func(ids []int) walker {
		return func(ctx context.Context, fn func(string) error) error {
			for _, i := range ids {
				if err := readParquetTexts(ctx, filepath.Join(dir, shardName(i)), fn); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return &corpus{train: walk(ids[:n]), val: walk(ids[n:]),
		source: fmt.Sprintf("%d training shards and validation shard %05d from %s", n, ClimbmixValShard, o.climbmixURL())}, nil
}

// downloadShards fetches the shards that are not complete yet, a few at a
// time. A complete shard has its final name; a partial one ends in .part and
// is resumed.
func downloadShards(ctx context.Context, o *Options, dir string, ids []int) (err error) {
	var todo []int
	for _, i := range ids {
		if _, err := os.Stat(filepath.Join(dir, shardName(i))); err != nil {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	bar := o.progress().Start(fmt.Sprintf("downloading %d climbmix shards", len(todo)), 0)
	defer func() { bar.Finish(err) }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	errs := make(chan error, len(todo))
	var wg sync.WaitGroup
	for range min(downloadWorkers, len(todo)) {
		wg.Go(func() {
			for i := range jobs {
				url := strings.TrimRight(o.climbmixURL(), "/") + "/" + shardName(i)
				err := downloadFile(ctx, o, url, filepath.Join(dir, shardName(i)), bar)
				if err == nil {
					err = verifyShard(filepath.Join(dir, shardName(i)))
				}
				if err != nil {
					errs <- err
					cancel()
				}
			}
		})
	}
	for _, i := range todo {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	// Downloads stopped because another failed report only that failure.
	var all []error
	canceled := false
	for err := range errs {
		if errors.Is(err, context.Canceled) {
			canceled = true
			continue
		}
		all = append(all, err)
	}
	if len(all) == 0 && canceled {
		return context.Canceled
	}
	return errors.Join(all...)
}

// verifyShard checks that a downloaded shard is a parquet file with a text
// column, and removes it otherwise so that the next run fetches it again.
func verifyShard(path string) error {
	f, _, _, err := openParquet(path)
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("%w; the file was removed, run prepare again to download it anew", err)
	}
	return f.Close()
}

// downloadFile fetches url into dst: into dst.part first, resumed with a
// Range request after a failure, renamed to dst once complete. It tries
// downloadAttempts times, waiting longer after each failure.
func downloadFile(ctx context.Context, o *Options, url, dst string, bar Bar) error {
	part := dst + ".part"
	var err error
	for attempt := 1; attempt <= downloadAttempts; attempt++ {
		if err = fetchOnce(ctx, o.client(), url, part, bar); err == nil {
			return os.Rename(part, dst)
		}
		var perm *permanentError
		if ctx.Err() != nil || errors.As(err, &perm) {
			break
		}
		o.logf("%s: attempt %d/%d failed: %v", filepath.Base(dst), attempt, downloadAttempts, err)
		if attempt < downloadAttempts {
			select {
			case <-time.After(o.backoff() << (attempt - 1)):
			case <-ctx.Done():
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("downloading %s: %w", url, err)
}

// permanentError is a failure that retrying cannot fix (404, 403, ...).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }

// fetchOnce makes one request for the rest of part, appending to it.
func fetchOnce(ctx context.Context, client *http.Client, url, part string, bar Bar) error {
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &permanentError{err}
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	want := int64(-1) // expected final size, when known
	switch {
	case resp.StatusCode == http.StatusOK:
		// The whole file: start over.
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		have = 0
		want = resp.ContentLength
	case resp.StatusCode == http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			f.Truncate(0) // the server sent another range: start over next time
			return fmt.Errorf("server answered a resume from byte %d with %q", have, resp.Header.Get("Content-Range"))
		}
		want = total
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// Either part is complete already, or it is longer than the file.
		if _, total, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && total == have {
			return f.Sync()
		}
		f.Truncate(0)
		return fmt.Errorf("partial download of %d bytes does not fit the file; starting over", have)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return fmt.Errorf("server answered %s", resp.Status)
	default:
		return &permanentError{fmt.Errorf("server answered %s", resp.Status)}
	}
	n, err := io.Copy(f, progressReader{resp.Body, bar})
	have += n
	if err != nil {
		f.Sync() // keep what arrived, for the next attempt to resume
		return err
	}
	if want >= 0 && have != want {
		return fmt.Errorf("got %d of %d bytes", have, want)
	}
	return f.Sync()
}

// parseContentRange reads "bytes START-END/TOTAL" or "bytes */TOTAL".
func parseContentRange(h string) (start, total int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(spec, "/")
	if !found {
		return 0, 0, false
	}
	total, err := strconv.ParseInt(tot, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if rng == "*" {
		return -1, total, true
	}
	first, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err = strconv.ParseInt(first, 10, 64)
	return start, total, err == nil
}

type progressReader struct {
	r   io.Reader
	bar Bar
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.bar.Add(int64(n))
	return n, err
}
