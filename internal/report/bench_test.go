package report

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"autoresearch/internal/results"
)

// longRun is a results file of n experiments, one in ten kept and one in
// twenty crashed, as a long night might leave.
func longRun(n int) []byte {
	var b bytes.Buffer
	b.WriteString(results.Header("val_bpb") + "\n")
	best := 1.0
	for i := range n {
		r := results.Row{Commit: fmt.Sprintf("%07x", i), Value: best + 0.001*float64(i%7), MemoryGB: 44, Status: results.Discard, Description: fmt.Sprintf("idea number %d", i)}
		switch {
		case i%10 == 0:
			best -= 0.0005
			r.Value, r.Status = best, results.Keep
		case i%20 == 3:
			r.Value, r.MemoryGB, r.Status = 0, 0, results.Crash
		}
		b.WriteString(r.Format() + "\n")
	}
	return b.Bytes()
}

// What --follow pays per poll: read and analyse the whole file.
func BenchmarkReadAnalyze1000(b *testing.B) {
	raw := longRun(1000)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		f, err := results.Read(bytes.NewReader(raw), "")
		if err != nil {
			b.Fatal(err)
		}
		Analyze(f)
	}
}

func BenchmarkTable1000(b *testing.B) {
	f, _ := results.Read(bytes.NewReader(longRun(1000)), "")
	a := Analyze(f)
	for b.Loop() {
		Table(io.Discard, a, "results.tsv")
	}
}

func BenchmarkWritePNG(b *testing.B) {
	for _, n := range []int{100, 1000} {
		f, _ := results.Read(bytes.NewReader(longRun(n)), "")
		a := Analyze(f)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if err := WritePNG(io.Discard, a, ChartOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// What report --html costs for a run of n experiments, and what each
// rewrite of --watch costs: reading the run (results, records, run.json and
// every experiment's diff from the run's clone) and rendering the page, then
// rendering alone. bytes/page is the page's size.
func BenchmarkHTML(b *testing.B) {
	for _, n := range []int{25, 500} {
		path, end := synthRun(b, synthOptions{n: n, workers: 2, llm: true})
		opts := HTMLOptions{Now: end}
		b.Run(fmt.Sprintf("n=%d/read+render", n), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				p, err := LoadPage(path, true)
				if err != nil {
					b.Fatal(err)
				}
				page, err := RenderHTML(p, opts)
				if err != nil {
					b.Fatal(err)
				}
				size = len(page)
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
		p, err := LoadPage(path, true)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("n=%d/render", n), func(b *testing.B) {
			b.ReportAllocs()
			var w countWriter
			for b.Loop() {
				w = 0
				if err := WriteHTML(&w, p, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(w), "bytes/page")
		})
	}
}

// countWriter counts what is written to it.
type countWriter int

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
