package harness

import (
	"container/heap"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// ChunkCounts counts how often each chunk of the split pattern occurs in a
// corpus: the whole input of BPE training, since merges never cross chunks.
type ChunkCounts map[string]int64

// Add splits text and counts its chunks. Keys are copied, so the counts do
// not keep text alive.
func (c ChunkCounts) Add(text string) {
	split(text, func(chunk string) {
		if n, ok := c[chunk]; ok {
			c[chunk] = n + 1
		} else {
			c[strings.Clone(chunk)] = 1
		}
	})
}

// Merge adds the counts of o to c.
func (c ChunkCounts) Merge(o ChunkCounts) {
	for k, n := range o {
		c[k] += n
	}
}

// CountChunks counts the chunks of every text from next (which returns false
// when there are no more) on the given number of goroutines.
func CountChunks(next func() (string, bool), workers int) ChunkCounts {
	workers = max(workers, 1)
	texts := make(chan string, 4*workers)
	parts := make([]ChunkCounts, workers)
	var wg sync.WaitGroup
	for w := range workers {
		parts[w] = ChunkCounts{}
		wg.Go(func() {
			for t := range texts {
				parts[w].Add(t)
			}
		})
	}
	for t, ok := next(); ok; t, ok = next() {
		texts <- t
	}
	close(texts)
	wg.Wait()
	for _, p := range parts[1:] {
		parts[0].Merge(p)
	}
	return parts[0]
}

// TrainBPE learns vocabSize - 256 - len(SpecialTokens) merges from the chunk
// counts and returns the tokenizer. The most frequent adjacent pair is merged
// first; ties go to the smaller pair (left id, then right id), so the result
// depends only on the counts. progress, when not nil, is called after each
// merge with the number done and the total.
//
// It is incremental, like the original's Rust trainer: each unique chunk is a
// word with a count; pair counts and a pair -> words index are updated only
// for the words a merge touches; a max-heap with lazy deletion finds the next
// pair. Cost grows with the corpus's unique chunks, not its size.
func TrainBPE(counts ChunkCounts, vocabSize int, progress func(done, total int)) (*Tokenizer, error) {
	numMerges := vocabSize - 256 - len(SpecialTokens)
	if numMerges < 0 {
		return nil, fmt.Errorf("vocab size %d is too small: it needs at least %d ids for the 256 bytes and %d special tokens",
			vocabSize, 256+len(SpecialTokens), len(SpecialTokens))
	}
	t := newBPETrainer(counts)
	merges := make([][2]int32, 0, numMerges)
	for len(merges) < numMerges {
		p, ok := t.best()
		if !ok {
			return nil, fmt.Errorf("the corpus is too small for vocab size %d: it has only %d distinct merges (%d needed); use more text",
				vocabSize, len(merges), numMerges)
		}
		id := int32(256 + len(merges))
		t.merge(p, id)
		merges = append(merges, [2]int32{pairLeft(p), pairRight(p)})
		if progress != nil {
			progress(len(merges), numMerges)
		}
	}
	return newTokenizer(merges), nil
}

type pair = uint64

func makePair(a, b int32) pair { return uint64(a)<<32 | uint64(uint32(b)) }
func pairLeft(p pair) int32    { return int32(p >> 32) }
func pairRight(p pair) int32   { return int32(uint32(p)) }

type bpeWord struct {
	ids   []int32
	count int64
}

type bpeTrainer struct {
	words  []bpeWord
	counts map[pair]int64
	where  map[pair][]int32 // words that contain (or once contained) the pair
	heap   pairHeap
	seen   []uint32 // per word: the merge that last visited it, to skip duplicates
	stamp  uint32
	grown  map[pair]struct{} // pairs whose count rose during the current merge
}

func newBPETrainer(counts ChunkCounts) *bpeTrainer {
	// Sorted chunks make word numbering, and so everything after, independent
	// of map iteration order.
	chunks := slices.Sorted(maps.Keys(counts))
	t := &bpeTrainer{
		words:  make([]bpeWord, len(chunks)),
		counts: map[pair]int64{},
		where:  map[pair][]int32{},
		seen:   make([]uint32, len(chunks)),
		grown:  map[pair]struct{}{},
	}
	for w, c := range chunks {
		ids := make([]int32, len(c))
		for i := range len(c) {
			ids[i] = int32(c[i])
		}
		t.words[w] = bpeWord{ids: ids, count: counts[c]}
		for i := 0; i+1 < len(ids); i++ {
			t.add(makePair(ids[i], ids[i+1]), int32(w), counts[c])
		}
	}
	t.heap = make(pairHeap, 0, len(t.counts))
	for p, n := range t.counts {
		t.heap = append(t.heap, heapItem{p, n})
	}
	heap.Init(&t.heap)
	return t
}

func (t *bpeTrainer) add(p pair, w int32, n int64) {
	t.counts[p] += n
	ws := t.where[p]
	if len(ws) == 0 || ws[len(ws)-1] != w {
		t.where[p] = append(ws, w)
	}
}

// best pops the most frequent pair, skipping heap entries whose count is stale.
func (t *bpeTrainer) best() (pair, bool) {
	for t.heap.Len() > 0 {
		top := heap.Pop(&t.heap).(heapItem)
		n := t.counts[top.p]
		if n == top.n && n > 0 {
			return top.p, true
		}
		if n > 0 && n < top.n {
			heap.Push(&t.heap, heapItem{top.p, n})
		}
		// n > top.n cannot be stale-low: every rise pushed a fresh entry.
	}
	return 0, false
}

// merge replaces every occurrence of p by id in the words that contain it and
// updates the counts of the neighbouring pairs.
func (t *bpeTrainer) merge(p pair, id int32) {
	a, b := pairLeft(p), pairRight(p)
	t.stamp++
	clear(t.grown)
	for _, w := range t.where[p] {
		if t.seen[w] == t.stamp {
			continue
		}
		t.seen[w] = t.stamp
		word := &t.words[w]
		ids, n := word.ids, word.count
		out := ids[:0]
		for i := 0; i < len(ids); {
			if i+1 < len(ids) && ids[i] == a && ids[i+1] == b {
				if len(out) > 0 {
					prev := out[len(out)-1]
					t.counts[makePair(prev, a)] -= n
					t.add(makePair(prev, id), w, n)
					t.grown[makePair(prev, id)] = struct{}{}
				}
				if i+2 < len(ids) {
					next := ids[i+2]
					t.counts[makePair(b, next)] -= n
					t.add(makePair(id, next), w, n)
					t.grown[makePair(id, next)] = struct{}{}
				}
				t.counts[p] -= n
				out = append(out, id)
				i += 2
				continue
			}
			out = append(out, ids[i])
			i++
		}
		word.ids = out
	}
	delete(t.counts, p)
	delete(t.where, p)
	for q := range t.grown {
		if n := t.counts[q]; n > 0 {
			heap.Push(&t.heap, heapItem{q, n})
		}
	}
}

type heapItem struct {
	p pair
	n int64
}

// pairHeap is a max-heap by count; ties go to the smaller pair.
type pairHeap []heapItem

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].n != h[j].n {
		return h[i].n > h[j].n
	}
	return h[i].p < h[j].p
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(heapItem)) }
func (h *pairHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
