package harness

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// writeTokenFile writes documents (each starting with BOS) as a token file.
func writeTokenFile(t testing.TB, docs [][]int32) string {
	t.Helper()
	var buf []byte
	for _, d := range docs {
		for _, id := range d {
			buf = binary.LittleEndian.AppendUint16(buf, uint16(id))
		}
	}
	path := filepath.Join(t.TempDir(), "tokens.bin")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// rows rebuilds the B rows of T+1 tokens from a batch.
func rows(b Batch) [][]int32 {
	out := make([][]int32, b.B)
	for r := range b.B {
		out[r] = append(slices.Clone(b.Inputs[r*b.T:(r+1)*b.T]), b.Targets[(r+1)*b.T-1])
		if !slices.Equal(b.Inputs[r*b.T+1:(r+1)*b.T], b.Targets[r*b.T:(r+1)*b.T-1]) {
			panic("targets are not the inputs shifted by one")
		}
	}
	return out
}

func TestLoaderBestFitByHand(t *testing.T) {
	const bos = 500
	A, B, C, D, E := []int32{bos, 1, 2, 3}, []int32{bos, 10, 11}, []int32{bos, 20, 21, 22, 23, 24}, []int32{bos, 30}, []int32{bos, 40, 41, 42, 43}
	l, err := OpenLoader(writeTokenFile(t, [][]int32{A, B, C, D, E}), bos, 3, 6)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.bufSize = 3
	// Rows of 7: C fits best, then nothing fits the last slot so the
	// shortest (D) is cropped; E, then the file wraps (epoch 2) and B, the
	// shortest, is cropped to 2; A, then B exactly fills the row.
	want := [][]int32{
		slices.Concat(C, D[:1]),
		slices.Concat(E, B[:2]),
		slices.Concat(A, B),
	}
	b := l.Next()
	if got := rows(b); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	if b.Epoch != 2 || b.B != 3 || b.T != 6 {
		t.Errorf("epoch %d, shape %d×%d", b.Epoch, b.B, b.T)
	}
}

func TestLoaderPacksWholeDocumentsFromBOS(t *testing.T) {
	const bos = 1000
	// Documents of many lengths, each token naming its document and place.
	var docs [][]int32
	for i := range 300 {
		d := []int32{bos}
		for k := range 1 + (i*37)%90 {
			d = append(d, int32(i%100*10+k%10))
		}
		docs = append(docs, d)
	}
	path := writeTokenFile(t, docs)
	const B, T = 4, 64
	l, err := OpenLoader(path, bos, B, T)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l2, _ := OpenLoader(path, bos, B, T)
	defer l2.Close()
	lastEpoch := 1
	for step := range 200 {
		b := l.Next()
		if !reflect.DeepEqual(b, l2.Next()) {
			t.Fatalf("step %d: two loaders over the same file differ", step)
		}
		if b.Epoch < lastEpoch {
			t.Fatalf("epoch went back from %d to %d", lastEpoch, b.Epoch)
		}
		lastEpoch = b.Epoch
		for r, row := range rows(b) {
			if row[0] != bos {
				t.Fatalf("step %d row %d starts with %d, not BOS", step, r, row[0])
			}
			// Every segment is a whole document except perhaps the last,
			// which may be cropped: no padding anywhere.
			for start := 0; start < len(row); {
				end := start + 1
				for end < len(row) && row[end] != bos {
					end++
				}
				seg := row[start:end]
				whole := slices.ContainsFunc(docs, func(d []int32) bool { return slices.Equal(d, seg) })
				prefix := slices.ContainsFunc(docs, func(d []int32) bool { return len(d) >= len(seg) && slices.Equal(d[:len(seg)], seg) })
				if !whole && !(end == len(row) && prefix) {
					t.Fatalf("step %d row %d: segment %v is not a document", step, r, seg)
				}
				start = end
			}
		}
	}
	if lastEpoch < 2 {
		t.Errorf("200 batches did not wrap around the file (epoch %d)", lastEpoch)
	}
}

func TestLoaderRejectsBadFiles(t *testing.T) {
	if _, err := OpenLoader(writeTokenFile(t, [][]int32{{7, 8}}), 9, 1, 4); err == nil {
		t.Error("a file that does not start with BOS was accepted")
	}
	if _, err := OpenLoader(writeTokenFile(t, nil), 9, 1, 4); err == nil {
		t.Error("an empty file was accepted")
	}
	if _, err := OpenLoader(writeTokenFile(t, [][]int32{{9, 1}}), 9, 0, 4); err == nil {
		t.Error("batch size 0 was accepted")
	}
}

func BenchmarkLoaderNext(b *testing.B) {
	// Documents of 50 to 3,000 tokens, the gpu profile's batch shape.
	const bos = 8188
	var docs [][]int32
	for i := range 20000 {
		d := make([]int32, 50+(i*7919)%2950)
		d[0] = bos
		for k := 1; k < len(d); k++ {
			d[k] = int32((i + k) % bos)
		}
		docs = append(docs, d)
	}
	path := writeTokenFile(b, docs)
	l, err := OpenLoader(path, bos, 128, 2048)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ResetTimer()
	for b.Loop() {
		l.Next()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
}
