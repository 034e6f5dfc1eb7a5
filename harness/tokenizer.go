package harness

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// SpecialTokens are reserved after the learned vocabulary, as in the original;
// the first is BOS, which starts every document.
var SpecialTokens = [4]string{"<|reserved_0|>", "<|reserved_1|>", "<|reserved_2|>", "<|reserved_3|>"}

// Tokenizer is a byte-level BPE tokenizer. Ids 0..255 are the bytes, id 256+i
// is merge i, and the last len(SpecialTokens) ids are the special tokens. Any
// byte string encodes and decodes back exactly. It is safe for concurrent use.
type Tokenizer struct {
	merges [][2]int32     // merge i joins these two ids into 256+i
	rank   map[pair]int32 // pair -> the id it merges into; lower merges first
	pieces [][]byte       // bytes of every non-special id
	pool   sync.Pool      // *chunkCache
}

// chunkCache remembers the ids of chunks already encoded; text repeats its
// words, so most chunks are found here.
type chunkCache map[string][]int32

const maxCacheEntries = 1 << 16

func newTokenizer(merges [][2]int32) *Tokenizer {
	t := &Tokenizer{merges: merges, rank: make(map[pair]int32, len(merges))}
	t.pieces = make([][]byte, 256, 256+len(merges))
	for i := range 256 {
		t.pieces[i] = []byte{byte(i)}
	}
	for i, m := range merges {
		id := int32(256 + i)
		t.rank[makePair(m[0], m[1])] = id
		t.pieces = append(t.pieces, append(append([]byte(nil), t.pieces[m[0]]...), t.pieces[m[1]]...))
	}
	t.pool.New = func() any { return chunkCache{} }
	return t
}

// VocabSize is the number of ids, special tokens included.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) + len(SpecialTokens) }

// BOS is the id of the beginning-of-sequence token, SpecialTokens[0].
func (t *Tokenizer) BOS() int32 { return int32(len(t.pieces)) }

// TokenBytes returns the UTF-8 byte length of each id's text, 0 for the
// special tokens: the denominator of bits per byte.
func (t *Tokenizer) TokenBytes() []int32 {
	out := make([]int32, t.VocabSize())
	for i, p := range t.pieces {
		out[i] = int32(len(p))
	}
	return out
}

// Encode returns the ids of text, without BOS. Special-token names in text
// are encoded as ordinary text.
func (t *Tokenizer) Encode(text string) []int32 {
	return t.AppendEncode(make([]int32, 0, len(text)/3+1), text)
}

// AppendEncode appends the ids of text to dst and returns it.
func (t *Tokenizer) AppendEncode(dst []int32, text string) []int32 {
	cache := t.pool.Get().(chunkCache)
	var work []int32
	split(text, func(chunk string) {
		if ids, ok := cache[chunk]; ok {
			dst = append(dst, ids...)
			return
		}
		work = t.encodeChunk(work[:0], chunk)
		dst = append(dst, work...)
		if len(cache) >= maxCacheEntries {
			clear(cache)
		}
		cache[strings.Clone(chunk)] = slicesClone(work)
	})
	t.pool.Put(cache)
	return dst
}

func slicesClone(s []int32) []int32 { return append(make([]int32, 0, len(s)), s...) }

// encodeChunk applies the merges to one chunk: repeatedly join the adjacent
// pair that was learned first, until no learned pair is left.
func (t *Tokenizer) encodeChunk(ids []int32, chunk string) []int32 {
	for i := range len(chunk) {
		ids = append(ids, int32(chunk[i]))
	}
	for len(ids) > 1 {
		best, at := int32(-1), -1
		for i := 0; i+1 < len(ids); i++ {
			if id, ok := t.rank[makePair(ids[i], ids[i+1])]; ok && (best < 0 || id < best) {
				best, at = id, i
			}
		}
		if at < 0 {
			break
		}
		ids[at] = best
		ids = append(ids[:at+1], ids[at+2:]...)
	}
	return ids
}

// Decode returns the text of ids. Special tokens decode to their names; an id
// outside the vocabulary decodes to U+FFFD.
func (t *Tokenizer) Decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		switch {
		case id >= 0 && int(id) < len(t.pieces):
			b.Write(t.pieces[id])
		case int(id) >= len(t.pieces) && int(id) < t.VocabSize():
			b.WriteString(SpecialTokens[int(id)-len(t.pieces)])
		default:
			b.WriteRune(utf8.RuneError)
		}
	}
	return b.String()
}

// The tokenizer file (TokenizerFile), all integers little-endian uint32:
//
//	magic        8 bytes, "arbpe\x00\x00\x01" (format version 1)
//	vocab size   V, special tokens included
//	merges       M = V - 256 - S
//	specials     S
//	pattern      length, then the UTF-8 bytes of SplitPattern
//	M merges     left id, right id; merge i makes id 256+i
//	S specials   length, then the name's bytes
//
// Byte ids are implicit (id b is byte b) and special ids follow the merges.
var tokenizerMagic = [8]byte{'a', 'r', 'b', 'p', 'e', 0, 0, 1}

// WriteTo writes the tokenizer in the file format above.
func (t *Tokenizer) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	buf.Write(tokenizerMagic[:])
	u32 := func(v int) { buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(v))) }
	u32(t.VocabSize())
	u32(len(t.merges))
	u32(len(SpecialTokens))
	u32(len(SplitPattern))
	buf.WriteString(SplitPattern)
	for _, m := range t.merges {
		u32(int(m[0]))
		u32(int(m[1]))
	}
	for _, s := range SpecialTokens {
		u32(len(s))
		buf.WriteString(s)
	}
	return buf.WriteTo(w)
}

// ReadTokenizer reads a tokenizer written by WriteTo and checks that it is
// well formed and was made for this harness's split pattern and special tokens.
func ReadTokenizer(r io.Reader) (*Tokenizer, error) {
	br := bufio.NewReader(r)
	var magic [8]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil || magic != tokenizerMagic {
		return nil, errors.New("not a tokenizer file of this version (bad magic)")
	}
	var head [4]uint32
	if err := binary.Read(br, binary.LittleEndian, &head); err != nil {
		return nil, fmt.Errorf("truncated tokenizer header: %w", err)
	}
	v, m, s, plen := int(head[0]), int(head[1]), int(head[2]), int(head[3])
	if s != len(SpecialTokens) || v != 256+m+s || plen > 1<<12 {
		return nil, fmt.Errorf("inconsistent tokenizer header: vocab %d, %d merges, %d special tokens", v, m, s)
	}
	pat := make([]byte, plen)
	if _, err := io.ReadFull(br, pat); err != nil {
		return nil, fmt.Errorf("truncated tokenizer pattern: %w", err)
	}
	if string(pat) != SplitPattern {
		return nil, fmt.Errorf("tokenizer was trained with another split pattern %q", pat)
	}
	raw := make([]uint32, 2*m)
	if err := binary.Read(br, binary.LittleEndian, raw); err != nil {
		return nil, fmt.Errorf("truncated tokenizer merges: %w", err)
	}
	merges := make([][2]int32, m)
	for i := range merges {
		a, b := raw[2*i], raw[2*i+1]
		if a >= uint32(256+i) || b >= uint32(256+i) {
			return nil, fmt.Errorf("merge %d joins ids %d and %d, which do not exist yet", i, a, b)
		}
		merges[i] = [2]int32{int32(a), int32(b)}
	}
	for i, want := range SpecialTokens {
		var n uint32
		if err := binary.Read(br, binary.LittleEndian, &n); err != nil || n > 64 {
			return nil, fmt.Errorf("truncated or bad special token %d", i)
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(br, name); err != nil {
			return nil, fmt.Errorf("truncated special token %d", i)
		}
		if string(name) != want {
			return nil, fmt.Errorf("special token %d is %q, want %q", i, name, want)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, errors.New("trailing bytes after the tokenizer")
	}
	return newTokenizer(merges), nil
}

// LoadTokenizer reads the tokenizer file at path.
func LoadTokenizer(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadTokenizer(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
