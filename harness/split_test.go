package harness

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

var splitRegexp = regexp2.MustCompile(SplitPattern)

// regexpChunks splits s with the pattern itself, the reference for split.
func regexpChunks(t testing.TB, s string) []string {
	t.Helper()
	idx, err := splitRegexp.FindAllStringIndex(s, -1)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range idx {
		out = append(out, s[m[0]:m[1]])
	}
	return out
}

func splitChunks(s string) []string {
	var out []string
	split(s, func(c string) { out = append(out, c) })
	return out
}

func TestSplitTrickyStrings(t *testing.T) {
	cases := map[string][]string{
		"I'm here, they'll go; we've it's you're I'D": {"I", "'m", " here", ",", " they", "'ll", " go", ";", " we", "'ve", " it", "'s", " you", "'re", " I", "'D"},
		"'hello' 'x 'LL":     {"'hello", "'", " '", "x", " '", "LL"},
		"12345 3.14 ٣٤٥":     {"12", "34", "5", " ", "3", ".", "14", " ", "٣٤", "٥"},
		"a  b   \n\n  c\r\n": {"a", " ", " b", "   \n\n", " ", " c", "\r\n"},
		"end   ":             {"end", "   "},
		"你好世界，こんにちは 한국어":        {"你好世界", "，こんにちは", " 한국어"},
		"hi 👋🏽 ok!!\n\n":        {"hi", " 👋🏽", " ok", "!!\n\n"},
		"\t\tx(y) {z}":          {"\t", "\tx", "(y", ")", " {", "z", "}"},
		"...\n  ?!":             {"...\n", " ", " ?!"},
		"café naïve Ωmega":      {"café", " naïve", " Ωmega"},
		"x\u00a0y\u3000z\u2028": {"x", "\u00a0y", "\u3000z", "\u2028"},
	}
	for in, want := range cases {
		got := splitChunks(in)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("split(%q) = %q, want %q", in, got, want)
		}
		if ref := regexpChunks(t, in); !reflect.DeepEqual(got, ref) {
			t.Errorf("split(%q) = %q, the pattern gives %q", in, got, ref)
		}
	}
}

// Random strings over an alphabet chosen to hit every branch of the pattern:
// contractions, case folding, digits of several scripts, every kind of
// whitespace, symbols, emoji, combining marks.
func TestSplitMatchesRegexpOnRandomText(t *testing.T) {
	alphabet := []string{"'", "s", "S", "d", "m", "T", "l", "L", "v", "e", "E", "r", "a", "z", "é", "ſ", "K", "İ",
		"0", "7", "٣", "Ⅻ", "½", " ", " ", " ", "\t", "\n", "\r", "\v", "\f", "\u0085", "\u00a0", "\u2028", "\u3000",
		".", ",", "!", "-", "(", "$", "😀", "🏽", "中", "ア", "\u0301", "_", "\"", "\u200b"}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(24) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		got, want := splitChunks(s), regexpChunks(t, s)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: split(%q) = %q, the pattern gives %q", n, s, got, want)
		}
	}
}

func TestSplitKeepsEveryByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		buf := make([]byte, rng.IntN(64))
		for i := range buf {
			buf[i] = byte(rng.IntN(256))
		}
		s := string(buf)
		if got := strings.Join(splitChunks(s), ""); got != s {
			t.Fatalf("chunks of %q join to %q", s, got)
		}
		if utf8.ValidString(s) {
			if got, want := splitChunks(s), regexpChunks(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("split(%q) = %q, the pattern gives %q", s, got, want)
			}
		}
	}
}

// The hand-written matcher against the pattern run by regexp2.
func BenchmarkSplit(b *testing.B) {
	text := strings.Repeat(sampleText, 2000)
	b.Run("matcher", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			split(text, func(string) {})
		}
	})
	b.Run("regexp2", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if _, err := splitRegexp.FindAllStringIndex(text, -1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
