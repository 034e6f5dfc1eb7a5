package harness

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

const sampleText = `The quick brown fox jumps over the lazy dog. It's 2024; they'll say 3.14159 isn't pi!
Über café naïve — "quotes" and 'single' ones.   Multiple   spaces, tabs	and
newlines

你好，世界。こんにちは。 Emoji: 👋🏽🚀 done.
`

// naiveBPE is the textbook trainer: recount every pair of every word before
// each merge. It is the reference for TrainBPE, which must pick the same
// merges (same ties: the highest count, then the smallest pair).
func naiveBPE(counts ChunkCounts, numMerges int) [][2]int32 {
	type word struct {
		ids []int32
		n   int64
	}
	var words []word
	for c, n := range counts {
		ids := make([]int32, len(c))
		for i := range len(c) {
			ids[i] = int32(c[i])
		}
		words = append(words, word{ids, n})
	}
	var merges [][2]int32
	for len(merges) < numMerges {
		pc := map[pair]int64{}
		for _, w := range words {
			for i := 0; i+1 < len(w.ids); i++ {
				pc[makePair(w.ids[i], w.ids[i+1])] += w.n
			}
		}
		var best pair
		var bestN int64
		for p, n := range pc {
			if n > bestN || (n == bestN && p < best) {
				best, bestN = p, n
			}
		}
		if bestN == 0 {
			break
		}
		a, b, id := pairLeft(best), pairRight(best), int32(256+len(merges))
		merges = append(merges, [2]int32{a, b})
		for k := range words {
			ids := words[k].ids
			out := ids[:0]
			for i := 0; i < len(ids); i++ {
				if i+1 < len(ids) && ids[i] == a && ids[i+1] == b {
					out = append(out, id)
					i++
				} else {
					out = append(out, ids[i])
				}
			}
			words[k].ids = out
		}
	}
	return merges
}

func sampleCounts() ChunkCounts {
	c := ChunkCounts{}
	rng := rand.New(rand.NewPCG(5, 6))
	words := strings.Fields(sampleText)
	for range 400 {
		var b strings.Builder
		for range 12 {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteString([]string{" ", " ", "\n", ", ", "  "}[rng.IntN(5)])
		}
		c.Add(b.String())
	}
	c.Add("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa abababababab aaabaaab")
	// Made-up words over skewed letters give the long tail of pairs.
	letters := []rune("eeeetttaaoinnsshrdlucmfwypvbgkqjxzéü中")
	for range 3000 {
		w := make([]rune, 2+rng.IntN(8))
		for i := range w {
			w[i] = letters[rng.IntN(len(letters))]
		}
		c.Add(" " + string(w))
	}
	return c
}

func TestTrainBPEMatchesNaiveTrainer(t *testing.T) {
	counts := sampleCounts()
	const vocab = 256 + 4 + 300
	tok, err := TrainBPE(counts, vocab, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := naiveBPE(counts, vocab-260)
	if !reflect.DeepEqual(tok.merges, want) {
		for i := range min(len(want), len(tok.merges)) {
			if tok.merges[i] != want[i] {
				t.Fatalf("merge %d is %v, the naive trainer's is %v", i, tok.merges[i], want[i])
			}
		}
		t.Fatalf("%d merges, the naive trainer made %d", len(tok.merges), len(want))
	}
	if tok.VocabSize() != vocab || tok.BOS() != vocab-4 {
		t.Errorf("vocab %d BOS %d", tok.VocabSize(), tok.BOS())
	}
}

func TestTrainBPEIsDeterministic(t *testing.T) {
	// The same corpus counted on different numbers of workers, in a
	// different order, must give the same merges.
	texts := strings.SplitAfter(strings.Repeat(sampleText, 3), "\n")
	iter := func(order []string) func() (string, bool) {
		i := 0
		return func() (string, bool) {
			if i == len(order) {
				return "", false
			}
			i++
			return order[i-1], true
		}
	}
	rev := append([]string(nil), texts...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	a, err := TrainBPE(CountChunks(iter(texts), 1), 400, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := TrainBPE(CountChunks(iter(rev), 3), 400, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.merges, b.merges) {
		t.Fatal("merges depend on the order or parallelism of counting")
	}
}

func TestTrainBPERejectsTooSmallCorpus(t *testing.T) {
	c := ChunkCounts{}
	c.Add("ab ab")
	if _, err := TrainBPE(c, 512, nil); err == nil || !strings.Contains(err.Error(), "too small for vocab size 512") {
		t.Fatalf("error %v", err)
	}
	if _, err := TrainBPE(c, 100, nil); err == nil || !strings.Contains(err.Error(), "at least 260") {
		t.Fatalf("error %v", err)
	}
}

func sampleTokenizer(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := TrainBPE(sampleCounts(), 512, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenizerRoundTrip(t *testing.T) {
	tok := sampleTokenizer(t)
	texts := []string{"", sampleText, "Hello world! Numbers: 123. Unicode: 你好", "<|reserved_0|> is text here",
		"\xff\xfe invalid \xc3 utf8 \xed\xa0\x80", strings.Repeat("ab", 1000)}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 300 {
		buf := make([]byte, rng.IntN(200))
		for i := range buf {
			buf[i] = byte(rng.IntN(256))
		}
		texts = append(texts, string(buf))
	}
	for _, s := range texts {
		ids := tok.Encode(s)
		if got := tok.Decode(ids); got != s {
			t.Fatalf("round trip of %q gave %q", s, got)
		}
		for _, id := range ids {
			if id < 0 || id >= tok.BOS() {
				t.Fatalf("encoding %q produced id %d outside the learned vocabulary", s, id)
			}
		}
	}
	// Learned merges do compress: English takes far fewer tokens than bytes.
	if n := len(tok.Encode(sampleText)); n > len(sampleText)/2 {
		t.Errorf("sample text took %d tokens for %d bytes", n, len(sampleText))
	}
	if got := tok.Decode([]int32{tok.BOS(), 99999}); got != "<|reserved_0|>\uFFFD" {
		t.Errorf("decode of BOS and a bad id: %q", got)
	}
}

func TestTokenBytes(t *testing.T) {
	tok := sampleTokenizer(t)
	tb := tok.TokenBytes()
	if len(tb) != tok.VocabSize() {
		t.Fatalf("%d lengths for %d ids", len(tb), tok.VocabSize())
	}
	for id := range int32(len(tb)) {
		want := int32(len(tok.Decode([]int32{id})))
		if id >= tok.BOS() {
			want = 0
		}
		if tb[id] != want {
			t.Fatalf("id %d: %d bytes, want %d", id, tb[id], want)
		}
	}
}

func TestTokenizerFileRoundTrip(t *testing.T) {
	tok := sampleTokenizer(t)
	var buf bytes.Buffer
	if _, err := tok.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	back, err := ReadTokenizer(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.merges, tok.merges) {
		t.Fatal("merges changed through the file")
	}
	bad := map[string][]byte{
		"bad magic":             append([]byte("xxxxxxxx"), raw[8:]...),
		"truncated":             raw[:len(raw)-5],
		"trailing bytes":        append(append([]byte(nil), raw...), 0),
		"another split pattern": bytes.Replace(raw, []byte(`\p{N}{1,2}`), []byte(`\p{N}{1,3}`), 1),
	}
	for want, data := range bad {
		if _, err := ReadTokenizer(bytes.NewReader(data)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v", want, err)
		}
	}
}
