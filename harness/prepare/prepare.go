package prepare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"

	"autoresearch/harness"
	"autoresearch/internal/atomicfile"
)

// Options say what to prepare and where.
type Options struct {
	Profile   harness.Profile
	Dataset   string // empty: the profile's default
	Home      string // the data root (harness.Home())
	NumShards int    // climbmix training shards; 0: DefaultShards, -1: all
	Force     bool   // prepare again even when the data is there

	ClimbmixURL string        // empty: $AUTORESEARCH_CLIMBMIX_URL, else DefaultClimbmixURL
	NPM         string        // the npm command; empty: "npm" on PATH
	Client      *http.Client  // for downloads; nil: a client with sane timeouts
	Backoff     time.Duration // first wait between download attempts; 0: 2s, doubling
	Workers     int           // goroutines for counting and encoding; 0: all CPUs
	Progress    Progress      // nil: none
	Log         io.Writer     // notes such as retries; nil: none
}

func (o *Options) npm() string {
	if o.NPM != "" {
		return o.NPM
	}
	return "npm"
}

func (o *Options) climbmixURL() string {
	if o.ClimbmixURL != "" {
		return o.ClimbmixURL
	}
	if u := os.Getenv(EnvClimbmixURL); u != "" {
		return u
	}
	return DefaultClimbmixURL
}

var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	ResponseHeaderTimeout: 30 * time.Second,
	IdleConnTimeout:       90 * time.Second,
}}

func (o *Options) client() *http.Client {
	if o.Client != nil {
		return o.Client
	}
	return defaultClient
}

func (o *Options) backoff() time.Duration {
	if o.Backoff > 0 {
		return o.Backoff
	}
	return 2 * time.Second
}

func (o *Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

func (o *Options) progress() Progress {
	if o.Progress != nil {
		return o.Progress
	}
	return nopProgress{}
}

// logMu serialises notes from concurrent downloads.
var logMu sync.Mutex

func (o *Options) logf(format string, args ...any) {
	logMu.Lock()
	defer logMu.Unlock()
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Report says what Run prepared.
type Report struct {
	Dir             string
	Meta            *harness.Meta
	Source          string  // where the text came from
	AlreadyPrepared bool    // nothing was done: the data was there
	BytesPerToken   float64 // of the validation text, with the trained tokenizer
	Sample          string  // the start of the first training document
	EvalRepeats     bool    // evaluation reads some validation documents twice
	Seconds         float64
}

// Run prepares the profile's data: it fetches the dataset, trains the
// tokenizer on the training split, writes the token files and then Meta.
// When the profile is prepared already from the same dataset (and shard
// count) it returns at once, unless Force is set. Meta is removed just before
// the first file of the profile is replaced (after the download and the
// tokenizer's training, so a failure there leaves the data prepared before
// as it was) and written last, so an interrupted run leaves data that Open
// rejects, never half-written data it trusts.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	if o.Dataset == "" {
		o.Dataset = o.Profile.DefaultDataset
	}
	if err := ValidDataset(o.Dataset); err != nil {
		return nil, err
	}
	if o.Profile.VocabSize > 1<<16 {
		return nil, fmt.Errorf("profile %s has vocab %d: token files hold uint16 ids", o.Profile.Name, o.Profile.VocabSize)
	}
	shards := 0
	if o.Dataset == Climbmix {
		shards = o.NumShards
		if shards == 0 {
			shards = DefaultShards
		}
		if shards < 0 || shards > ClimbmixValShard {
			shards = ClimbmixValShard
		}
		o.NumShards = shards
	}
	dir := harness.DataDir(o.Home, o.Profile)
	if m, err := harness.ReadMeta(o.Home, o.Profile); err == nil && !o.Force && m.Dataset == o.Dataset && m.Shards == shards {
		return &Report{Dir: dir, Meta: m, AlreadyPrepared: true, Seconds: time.Since(start).Seconds()}, nil
	}
	c, err := openDataset(ctx, &o)
	if err != nil {
		return nil, err
	}
	tok, err := trainTokenizer(ctx, &o, c)
	if err != nil {
		return nil, err
	}
	// Up to here nothing in dir has changed: a failed download or an
	// interruption leaves data prepared before intact and usable.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Remove(filepath.Join(dir, harness.MetaFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	meta := &harness.Meta{Profile: o.Profile.Name, Dataset: o.Dataset, VocabSize: tok.VocabSize(), Shards: shards,
		SHA256: map[string]string{}}
	tokPath := filepath.Join(dir, harness.TokenizerFile)
	sum, err := writeAtomic(tokPath, func(w io.Writer) error { _, err := tok.WriteTo(w); return err })
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", tokPath, err)
	}
	meta.SHA256[harness.TokenizerFile] = sum

	var valBytes int64
	for _, s := range []struct {
		name   string
		docs   walker
		tokens *int64
		n      *int64
	}{
		{harness.ValFile, c.val, &meta.ValTokens, &meta.ValDocs},
		{harness.TrainFile, c.train, &meta.TrainTokens, &meta.TrainDocs},
	} {
		st, err := writeTokens(ctx, &o, filepath.Join(dir, s.name), s.docs, tok, c.maxTokens)
		if err != nil {
			return nil, err
		}
		if st.docs == 0 {
			return nil, fmt.Errorf("dataset %s has no %s documents: it needs more text (at least 10 documents)",
				o.Dataset, map[string]string{harness.ValFile: "validation", harness.TrainFile: "training"}[s.name])
		}
		*s.tokens, *s.n, meta.SHA256[s.name] = st.tokens, st.docs, st.sha256
		if s.name == harness.ValFile {
			valBytes = st.bytes
		}
	}
	meta.Created = time.Now().UTC().Format(time.RFC3339)
	raw, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(dir, harness.MetaFile), append(raw, '\n'), 0o644); err != nil {
		return nil, err
	}
	rep := &Report{Dir: dir, Meta: meta, Source: c.source, Seconds: time.Since(start).Seconds()}
	if n := meta.ValTokens - meta.ValDocs; n > 0 {
		rep.BytesPerToken = float64(valBytes) / float64(n)
	}
	once, err := evalReadsOnce(filepath.Join(dir, harness.ValFile), tok.BOS(), o.Profile)
	if err != nil {
		return nil, err
	}
	rep.EvalRepeats = !once
	if !once {
		o.logf("note: the validation split (%d tokens) is too small for EVAL_TOKENS (%d) plus the loader's look-ahead: evaluation will score some documents twice; give the dataset more text",
			meta.ValTokens, o.Profile.EvalTokens)
	}
	_ = c.train(ctx, func(doc string) error {
		rep.Sample = doc[:min(len(doc), 300)]
		return errStop
	})
	return rep, nil
}

var errStop = errors.New("stop")

// evalReadsOnce reports whether the rows EvaluateBPB scores (at most
// EVAL_TOKENS / MAX_SEQ_LEN of them, whatever its batch size) all come from
// the first pass over the validation file, look-ahead included.
func evalReadsOnce(path string, bos int32, p harness.Profile) (bool, error) {
	const B = 16
	l, err := harness.OpenLoader(path, bos, B, p.MaxSeqLen)
	if err != nil {
		return false, err
	}
	defer l.Close()
	rows := p.EvalTokens / p.MaxSeqLen
	for range (rows + B - 1) / B {
		if l.Next().Epoch > 1 {
			return false, nil
		}
	}
	return true, nil
}

// trainTokenizer counts the chunks of the training split (each document
// capped, and the total capped, as the original does) and learns the merges.
func trainTokenizer(ctx context.Context, o *Options, c *corpus) (*harness.Tokenizer, error) {
	bar := o.progress().Start("counting text for the tokenizer", 0)
	docs := make(chan string, 64)
	var walkErr error
	go func() {
		defer close(docs)
		var chars int64
		walkErr = c.train(ctx, func(doc string) error {
			if len(doc) > tokenizerDocCap {
				n := tokenizerDocCap
				for n > 0 && !utf8.RuneStart(doc[n]) {
					n--
				}
				doc = doc[:n]
			}
			docs <- doc
			bar.Add(int64(len(doc)))
			chars += int64(len(doc))
			if chars >= tokenizerCharsCap {
				return errStop
			}
			return nil
		})
	}()
	counts := harness.CountChunks(func() (string, bool) { d, ok := <-docs; return d, ok }, o.workers())
	if walkErr != nil && !errors.Is(walkErr, errStop) {
		bar.Finish(walkErr)
		return nil, walkErr
	}
	bar.Finish(nil)
	if len(counts) == 0 {
		return nil, fmt.Errorf("dataset %s has no text", o.Dataset)
	}
	merges := int64(o.Profile.VocabSize - 256 - len(harness.SpecialTokens))
	bar = o.progress().Start(fmt.Sprintf("training the tokenizer (%d merges)", merges), merges)
	tok, err := harness.TrainBPE(counts, o.Profile.VocabSize, func(int, int) { bar.Add(1) })
	bar.Finish(err)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", o.Dataset, err)
	}
	return tok, nil
}
