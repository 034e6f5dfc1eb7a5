package prepare

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"autoresearch/harness"
)

// fetchedTexts returns the files of an npm dataset fetched under the data
// root ($AUTORESEARCH_HOME), or skips the benchmark.
func fetchedTexts(b *testing.B, name string) []string {
	b.Helper()
	d := npmDatasets[name]
	path := filepath.Join(harness.Home(), "datasets", name, d.tarball)
	if _, err := os.Stat(path); err != nil {
		b.Skipf("dataset %s is not fetched (no %s): run \"autoresearch prepare --profile cpu --dataset %s\" first", name, path, name)
	}
	_, texts, err := readTarballTexts(path, d.dir)
	if err != nil {
		b.Fatal(err)
	}
	return texts
}

func size(texts []string) (n int64) {
	for _, t := range texts {
		n += int64(len(t))
	}
	return n
}

func feed(texts []string) func() (string, bool) {
	i := 0
	return func() (string, bool) {
		if i == len(texts) {
			return "", false
		}
		i++
		return texts[i-1], true
	}
}

// train counts the chunks of texts on every CPU and learns the merges, as
// prepare does.
func train(b *testing.B, texts []string, vocab int) *harness.Tokenizer {
	tok, err := harness.TrainBPE(harness.CountChunks(feed(texts), runtime.GOMAXPROCS(0)), vocab, nil)
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// Tokenizer training on sotu (10.8 MB): chunk counting and all the merges.
func BenchmarkTokenizerTrainSotu(b *testing.B) {
	texts := fetchedTexts(b, Sotu)
	for _, vocab := range []int{2048, 8192} {
		b.Run(fmt.Sprintf("vocab=%d", vocab), func(b *testing.B) {
			b.SetBytes(size(texts))
			for b.Loop() {
				train(b, texts, vocab)
			}
		})
	}
}

// Encoding sotu on one goroutine with a fresh tokenizer (a cold chunk cache)
// each time.
func BenchmarkTokenizerEncodeSotu(b *testing.B) {
	texts := fetchedTexts(b, Sotu)
	for _, vocab := range []int{2048, 8192} {
		b.Run(fmt.Sprintf("vocab=%d", vocab), func(b *testing.B) {
			var file strings.Builder
			train(b, texts, vocab).WriteTo(&file)
			b.SetBytes(size(texts))
			var ids []int32
			for b.Loop() {
				b.StopTimer()
				tok, _ := harness.ReadTokenizer(strings.NewReader(file.String()))
				b.StartTimer()
				for _, t := range texts {
					ids = tok.AppendEncode(ids[:0], t)
				}
			}
		})
	}
}

// The goal: 8,192 merges over 100 MB of text in under 2 minutes. The text is
// sotu and gutenberg (22.5 MB), repeated with the letters shifted by a
// different amount each time (a Caesar cipher), so every copy brings new
// words instead of repeating the same chunks.
func BenchmarkTokenizerTrain100MB(b *testing.B) {
	base := append(fetchedTexts(b, Sotu), fetchedTexts(b, Gutenberg)...)
	var texts []string
	for shift := 0; size(texts) < 100<<20; shift++ {
		for _, t := range base {
			texts = append(texts, strings.Map(func(r rune) rune {
				switch {
				case 'a' <= r && r <= 'z':
					return 'a' + (r-'a'+rune(shift))%26
				case 'A' <= r && r <= 'Z':
					return 'A' + (r-'A'+rune(shift))%26
				}
				return r
			}, t))
		}
	}
	b.SetBytes(size(texts))
	for b.Loop() {
		counts := harness.CountChunks(feed(texts), runtime.GOMAXPROCS(0))
		b.ReportMetric(float64(len(counts)), "unique-chunks")
		start := time.Now()
		if _, err := harness.TrainBPE(counts, 8192, nil); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "merge-s")
	}
}

// A whole `prepare --profile smoke`: generate, train, tokenize, write.
func BenchmarkPrepareSmoke(b *testing.B) {
	p, _ := harness.LookupProfile("smoke")
	home := b.TempDir()
	for b.Loop() {
		if _, err := Run(context.Background(), Options{Profile: p, Home: home, Force: true}); err != nil {
			b.Fatal(err)
		}
	}
}
