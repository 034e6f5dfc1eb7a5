//go:build cuda || cudaemu

package cuda

import (
	"errors"
	"math/bits"
)

// errOutOfMemory is what a driver's malloc returns (wrapped) when the device is full.
var errOutOfMemory = errors.New("out of device memory")

// pool is the caching allocator. Sizes are rounded up to buckets at most 12.5 % apart, and a
// freed block waits on its bucket's free list for the next request of that bucket. Kernels
// run in issue order on the one stream, so a block freed after the kernels that use it were
// issued may serve the next allocation at once. When the device is full, the pool gives every
// cached block back to the driver and tries again.
//
// The accounting follows PyTorch's memory_allocated: inUse is the sum of the live requests
// (each rounded up to 512 bytes), peak its maximum; reserved is what the driver handed out.
type pool struct {
	alloc   func(bytes int64) (devptr, error)
	release func(devptr)
	free    map[int64][]devptr
	inUse   int64
	peak    int64
	cached  int64
	reserve int64
}

func newPool(alloc func(int64) (devptr, error), release func(devptr)) *pool {
	return &pool{alloc: alloc, release: release, free: map[int64][]devptr{}}
}

const minBlock = 512

// bucketSize rounds n up to a multiple of an eighth of the largest power of two <= n (and of
// 512 bytes), so a block is never more than 12.5 % larger than asked.
func bucketSize(n int64) int64 {
	if n <= minBlock {
		return minBlock
	}
	step := int64(1) << max(0, bits.Len64(uint64(n))-1-3)
	step = max(step, minBlock)
	return (n + step - 1) / step * step
}

func accounted(n int64) int64 { return (n + minBlock - 1) / minBlock * minBlock }

// get returns a block of at least n bytes and the size of its bucket.
func (p *pool) get(n int64) (devptr, int64, error) {
	size := bucketSize(n)
	if l := p.free[size]; len(l) > 0 {
		ptr := l[len(l)-1]
		p.free[size] = l[:len(l)-1]
		p.cached -= size
		p.use(n)
		return ptr, size, nil
	}
	ptr, err := p.alloc(size)
	if errors.Is(err, errOutOfMemory) && p.cached > 0 {
		p.trim()
		ptr, err = p.alloc(size)
	}
	if err != nil {
		return 0, 0, err
	}
	p.reserve += size
	p.use(n)
	return ptr, size, nil
}

func (p *pool) use(n int64) {
	p.inUse += accounted(n)
	p.peak = max(p.peak, p.inUse)
}

// put returns a block of bucket size, asked for as n bytes, to its free list.
func (p *pool) put(ptr devptr, size, n int64) {
	p.free[size] = append(p.free[size], ptr)
	p.cached += size
	p.inUse -= accounted(n)
}

// trim gives every cached block back to the driver.
func (p *pool) trim() {
	for size, l := range p.free {
		for _, ptr := range l {
			p.release(ptr)
			p.reserve -= size
		}
		delete(p.free, size)
	}
	p.cached = 0
}
