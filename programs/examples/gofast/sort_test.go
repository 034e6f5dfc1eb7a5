// The fixed evaluation of Sort: DO NOT CHANGE. TestSort checks that Sort
// sorts (against the standard library, on many shapes of input);
// BenchmarkSort times it on the same 200,000 numbers every run and reports,
// besides the wall-clock ns/op, the CPU time the process spent per sort
// (cpu-ns/op): on a machine shared with other work, wall-clock time measures
// the neighbours too. autoresearch reads cpu-ns/op (lower is better).
package gofast

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestMain spends the budget autoresearch gives ($AUTORESEARCH_BUDGET_SECONDS)
// on the benchmark, unless -test.benchtime says otherwise.
func TestMain(m *testing.M) {
	flag.Parse()
	if b := os.Getenv("AUTORESEARCH_BUDGET_SECONDS"); b != "" && flag.Lookup("test.benchtime").Value.String() == "1s" {
		flag.Set("test.benchtime", b+"s")
	}
	os.Exit(m.Run())
}

// numbers returns n pseudo-random values below limit, the same every run.
func numbers(n int, limit uint32, seed uint64) []uint32 {
	out := make([]uint32, n)
	x := seed
	for i := range out {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out[i] = uint32(x>>32) % limit
	}
	return out
}

func TestSort(t *testing.T) {
	inputs := map[string][]uint32{"empty": {}, "one": {7}, "two": {2, 1}}
	for _, n := range []int{3, 10, 100, 1000, 100000} {
		inputs[fmt.Sprint("random ", n)] = numbers(n, 1<<31, uint64(n)+1)
		inputs[fmt.Sprint("few values ", n)] = numbers(n, 3, uint64(n)+2)
		sorted := numbers(n, 1<<31, uint64(n)+3)
		slices.Sort(sorted)
		inputs[fmt.Sprint("sorted ", n)] = sorted
		reversed := slices.Clone(sorted)
		slices.Reverse(reversed)
		inputs[fmt.Sprint("reversed ", n)] = reversed
		inputs[fmt.Sprint("equal ", n)] = make([]uint32, n)
	}
	for name, in := range inputs {
		got, want := slices.Clone(in), slices.Clone(in)
		Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: Sort does not sort", name)
		}
	}
}

func BenchmarkSort(b *testing.B) {
	in := numbers(200000, 50000, 42)
	buf := make([]uint32, len(in))
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		copy(buf, in)
		Sort(buf)
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
