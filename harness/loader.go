package harness

import (
	"encoding/binary"
	"fmt"
	"os"
)

// Batch is one step's data: B rows of T tokens, row-major. Targets are the
// inputs shifted by one (Targets[b*T+t] is the token after Inputs[b*T+t]).
// Epoch is the pass over the token file the newest document came from,
// starting at 1. A batch owns its slices.
type Batch struct {
	Inputs, Targets []int32
	B, T, Epoch     int
}

// Loader packs documents from a token file into batches, exactly as the
// original's BOS-aligned best-fit loader: every row starts with a document's
// BOS; each row is filled with the longest buffered document that still fits;
// when none fits, the shortest is cropped to fill the row, so no position is
// padding. Best fit chooses among the next 1,000 documents of the file (the
// original tops its buffer up 128 at a time, so it holds 1,000 to 1,127). It
// reads the file in order and starts over at its end (the next epoch), so the
// same file, B and T always give the same batches. Next is fast enough not to
// need a goroutine ahead of it: about a millisecond for a gpu-profile batch.
type Loader struct {
	data  []byte // the token file, little-endian uint16
	unmap func() error
	bos   uint16
	B, T  int

	next    int    // token index of the next document to read
	epoch   int    // epoch of the newest buffered document
	buffer  []span // documents waiting to be packed, in reading order
	bufSize int    // how many documents best-fit chooses from
	row     []int32
}

// span is a document: n tokens starting at token index start, BOS first.
type span struct{ start, n int }

// loaderBuffer is how many documents best-fit chooses from, as the original.
const loaderBuffer = 1000

// OpenLoader opens a token file (TrainFile or ValFile layout) for B×T
// batches; bos is the tokenizer's BOS id. Close releases the file.
func OpenLoader(path string, bos int32, B, T int) (*Loader, error) {
	if B <= 0 || T <= 0 {
		return nil, fmt.Errorf("batch shape %d×%d: both must be positive", B, T)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() < 2 || st.Size()%2 != 0 {
		return nil, fmt.Errorf("token file %s is empty or truncated (%d bytes)", path, st.Size())
	}
	data, unmap, err := mapFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	l := &Loader{data: data, unmap: unmap, bos: uint16(bos), B: B, T: T, epoch: 1, bufSize: loaderBuffer, row: make([]int32, T+1)}
	if l.at(0) != l.bos {
		unmap()
		return nil, fmt.Errorf("token file %s does not start with BOS: it is damaged or from another tokenizer", path)
	}
	return l, nil
}

// Close releases the token file; the loader must not be used afterwards.
func (l *Loader) Close() error {
	l.buffer = nil
	return l.unmap()
}

func (l *Loader) at(i int) uint16 { return binary.LittleEndian.Uint16(l.data[2*i:]) }
func (l *Loader) tokens() int     { return len(l.data) / 2 }
func (l *Loader) copyTo(dst []int32, s span) {
	for k := range dst {
		dst[k] = int32(binary.LittleEndian.Uint16(l.data[2*(s.start+k):]))
	}
}

// readDoc appends the next document of the file to the buffer, wrapping to
// the start (and the next epoch) at the end.
func (l *Loader) readDoc() {
	if l.next >= l.tokens() {
		l.next = 0
		l.epoch++
	}
	end := l.next + 1
	for end < l.tokens() && l.at(end) != l.bos {
		end++
	}
	l.buffer = append(l.buffer, span{l.next, end - l.next})
	l.next = end
}

// take removes document i from the buffer, keeping the others in order.
func (l *Loader) take(i int) span {
	s := l.buffer[i]
	l.buffer = append(l.buffer[:i], l.buffer[i+1:]...)
	return s
}

// Next returns the next batch.
func (l *Loader) Next() Batch {
	B, T := l.B, l.T
	b := Batch{Inputs: make([]int32, B*T), Targets: make([]int32, B*T), B: B, T: T}
	row := l.row
	for r := range B {
		for pos := 0; pos < T+1; {
			for len(l.buffer) < l.bufSize {
				l.readDoc()
			}
			remaining := T + 1 - pos
			best, bestLen := -1, 0
			for i, d := range l.buffer {
				if d.n <= remaining && d.n > bestLen {
					best, bestLen = i, d.n
				}
			}
			if best >= 0 {
				d := l.take(best)
				l.copyTo(row[pos:pos+d.n], d)
				pos += d.n
				continue
			}
			shortest := 0
			for i, d := range l.buffer {
				if d.n < l.buffer[shortest].n {
					shortest = i
				}
			}
			d := l.take(shortest)
			l.copyTo(row[pos:], span{d.start, remaining})
			pos += remaining
		}
		copy(b.Inputs[r*T:(r+1)*T], row[:T])
		copy(b.Targets[r*T:(r+1)*T], row[1:])
	}
	b.Epoch = l.epoch
	return b
}
