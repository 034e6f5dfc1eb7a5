package harness

import (
	"unicode"
	"unicode/utf8"
)

// SplitPattern is the original's pre-tokenization regex (GPT-4's, with
// \p{N}{1,2} instead of {1,3}). Text is cut into the chunks it matches before
// BPE, so no token ever spans two chunks. It is written in .NET regex syntax
// and compiles verbatim with github.com/dlclark/regexp2/v2.
//
// The tokenizer does not run the regex: split is a hand-written matcher for
// exactly this pattern (its tests compare it with regexp2 on tricky and random
// text). It is several times faster, and it works on bytes, so invalid UTF-8
// passes through unchanged (each bad byte counts as U+FFFD, a symbol) and
// every byte string round-trips.
const SplitPattern = `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`

// Character classes of the pattern: \p{L}, \p{N}, \s (Go's unicode.IsSpace,
// which is what regexp2 uses) and everything else.
const (
	classOther = iota
	classLetter
	classNumber
	classSpace
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for r := range rune(utf8.RuneSelf) {
		switch {
		case unicode.IsLetter(r):
			t[r] = classLetter
		case unicode.IsNumber(r):
			t[r] = classNumber
		case unicode.IsSpace(r):
			t[r] = classSpace
		}
	}
	return t
}()

func classOf(r rune) uint8 {
	if r < utf8.RuneSelf {
		return asciiClass[r]
	}
	switch {
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r):
		return classSpace
	}
	return classOther
}

// runeAt decodes the rune at byte offset i; an invalid byte is U+FFFD of width 1.
func runeAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// runEnd returns the end of the run of runes of class c that starts at i.
func runEnd(s string, i int, c uint8) int {
	for i < len(s) {
		r, n := runeAt(s, i)
		if classOf(r) != c {
			break
		}
		i += n
	}
	return i
}

// fold is the case folding of (?i) in the contractions: ASCII letters, and
// U+017F (long s), which folds to s.
func fold(r rune) rune {
	switch {
	case 'A' <= r && r <= 'Z':
		return r + 'a' - 'A'
	case r == 'ſ':
		return 's'
	}
	return r
}

// split calls fn with each chunk of s, in order; the chunks concatenate to s.
func split(s string, fn func(chunk string)) {
	for i := 0; i < len(s); {
		j := matchAt(s, i)
		fn(s[i:j])
		i = j
	}
}

// matchAt returns the end of the pattern's match at byte offset i, trying the
// alternatives in the pattern's order. Some alternative always matches at
// least one rune, so every byte lands in exactly one chunk.
func matchAt(s string, i int) int {
	r0, n0 := runeAt(s, i)
	c0 := classOf(r0)
	var r1 rune
	var n1 int
	c1 := uint8(255) // no next rune
	if i+n0 < len(s) {
		r1, n1 = runeAt(s, i+n0)
		c1 = classOf(r1)
	}

	// '(?i:[sdmt]|ll|ve|re)
	if r0 == '\'' && n1 > 0 {
		switch fold(r1) {
		case 's', 'd', 'm', 't':
			return i + n0 + n1
		case 'l', 'v', 'r':
			if k := i + n0 + n1; k < len(s) {
				r2, n2 := runeAt(s, k)
				want := 'e'
				if fold(r1) == 'l' {
					want = 'l'
				}
				if fold(r2) == want {
					return k + n2
				}
			}
		}
	}
	// [^\r\n\p{L}\p{N}]?+\p{L}+
	if c0 == classLetter {
		return runEnd(s, i+n0, classLetter)
	}
	if r0 != '\r' && r0 != '\n' && c0 != classNumber && c1 == classLetter {
		return runEnd(s, i+n0+n1, classLetter)
	}
	// \p{N}{1,2}
	if c0 == classNumber {
		if c1 == classNumber {
			return i + n0 + n1
		}
		return i + n0
	}
	//  ?[^\s\p{L}\p{N}]++[\r\n]*
	if c0 == classOther || (r0 == ' ' && c1 == classOther) {
		j := i + n0
		if c0 != classOther {
			j += n1
		}
		j = runEnd(s, j, classOther)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// Here r0 is whitespace.
	end := runEnd(s, i, classSpace)
	// \s*[\r\n]: up to the last line break of the whitespace run.
	for k := end - 1; k >= i; k-- {
		if s[k] == '\r' || s[k] == '\n' {
			return k + 1
		}
	}
	// \s+(?!\S): the run, less its last rune when a non-space follows.
	if end == len(s) {
		return end
	}
	_, last := utf8.DecodeLastRuneInString(s[i:end])
	if end-last > i {
		return end - last
	}
	// \s+
	return end
}
