package report

import (
	"bytes"
	"errors"
	"flag"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"autoresearch/internal/results"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenFiles are the results files every view is checked on.
var goldenFiles = []string{"progress", "crashes", "ties", "one", "extra_columns"}

func load(t *testing.T, name string) *Analysis {
	t.Helper()
	f, err := results.ReadFile(filepath.Join("testdata", name+".tsv"))
	if err != nil {
		t.Fatal(err)
	}
	return Analyze(f)
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestTableGolden(t *testing.T) {
	for _, name := range goldenFiles {
		var b bytes.Buffer
		if err := Table(&b, load(t, name), name+".tsv"); err != nil {
			t.Fatal(err)
		}
		golden(t, name+".table", b.Bytes())
	}
}

func TestMarkdownGolden(t *testing.T) {
	for _, name := range goldenFiles {
		var b bytes.Buffer
		if err := WriteMarkdown(&b, load(t, name), nil, MarkdownOptions{Title: name, Image: "progress.png"}); err != nil {
			t.Fatal(err)
		}
		golden(t, name+".md", b.Bytes())
	}
}

// The best row is the lowest kept value, the first of equal ones, and the
// table marks it and no other row.
func TestBestRowIsMarked(t *testing.T) {
	for _, name := range goldenFiles {
		a := load(t, name)
		want, lowest := -1, math.Inf(1)
		for i, r := range a.Rows {
			if r.Status == results.Keep && r.Value > 0 && r.Value < lowest {
				want, lowest = i, r.Value
			}
		}
		if a.Best != want {
			t.Errorf("%s: best row %d, want %d", name, a.Best, want)
		}
		var b bytes.Buffer
		Table(&b, a, name)
		var marked []string
		for _, line := range strings.Split(b.String(), "\n") {
			if strings.HasPrefix(line, "* ") && !strings.HasPrefix(line, "* best") {
				marked = append(marked, strings.Fields(line)[2])
			}
		}
		if len(marked) != 1 || marked[0] != a.Rows[want].Commit {
			t.Errorf("%s: marked rows %v, want only %s", name, marked, a.Rows[want].Commit)
		}
	}
}

func TestDeltasAgainstThePreviousBest(t *testing.T) {
	a := load(t, "ties")
	// 1.10 keep, 1.08 keep, 1.08 discard, 1.08 keep, 1.095 discard
	want := []float64{math.NaN(), -0.02, 0, 0, 0.015}
	for i, w := range want {
		if math.IsNaN(w) != math.IsNaN(a.Delta[i]) || (!math.IsNaN(w) && math.Abs(a.Delta[i]-w) > 1e-9) {
			t.Errorf("row %d: delta %v, want %v", i, a.Delta[i], w)
		}
	}
	if a.Best != 1 {
		t.Errorf("best %d, want the first row to reach 1.08", a.Best)
	}
	c := load(t, "crashes")
	for i, r := range c.Rows {
		if r.Status == results.Crash && !math.IsNaN(c.Delta[i]) {
			t.Errorf("crash row %d has delta %v", i, c.Delta[i])
		}
	}
	if c.Keeps != 2 || c.Discards != 2 || c.Crashes != 3 || c.KeepRate() != 0.5 {
		t.Errorf("counts %d/%d/%d rate %v", c.Keeps, c.Discards, c.Crashes, c.KeepRate())
	}
}

func TestMalformedLineNamesTheLine(t *testing.T) {
	_, err := results.ReadFile(filepath.Join("testdata", "malformed.tsv"))
	var pe *results.ParseError
	if !errors.As(err, &pe) || pe.Line != 4 || !strings.Contains(err.Error(), "malformed.tsv:4:") || !strings.Contains(err.Error(), `"nan?" is not a number`) {
		t.Errorf("error %v, want one naming line 4 and the bad value", err)
	}
}

// Crashes (value 0) and far-off discards stay out of the y-range, which
// spans the kept values with a margin.
func TestYRangeIgnoresCrashesAndOutliers(t *testing.T) {
	for _, name := range []string{"progress", "crashes"} {
		a := load(t, name)
		lo, hi := yRange(a)
		var keptLo, keptHi = math.Inf(1), math.Inf(-1)
		for _, r := range a.Rows {
			if r.Status == results.Keep {
				keptLo, keptHi = min(keptLo, r.Value), max(keptHi, r.Value)
			}
		}
		span := keptHi - keptLo
		if lo > keptLo || hi < keptHi || lo < keptLo-0.3*span || hi > keptHi+0.3*span {
			t.Errorf("%s: y-range [%v, %v] for kept values [%v, %v]", name, lo, hi, keptLo, keptHi)
		}
	}
	// One row: a small range around it, not a zero-height axis.
	lo, hi := yRange(load(t, "one"))
	if !(lo < 0.9979 && hi > 0.9979 && hi-lo < 0.01) {
		t.Errorf("one row: y-range [%v, %v]", lo, hi)
	}
}

func TestPNGDecodesWithTheExpectedSize(t *testing.T) {
	empty := Analyze(&results.File{Metric: "val_bpb"})
	crashes := Analyze(&results.File{Metric: "val_bpb", Rows: []results.Row{{Commit: "a", Status: results.Crash}, {Commit: "b", Status: results.Crash}}})
	cases := []struct {
		name string
		a    *Analysis
		opts ChartOptions
		w, h int
	}{
		{"progress", load(t, "progress"), ChartOptions{}, 2400, 1200},
		{"crashes", load(t, "crashes"), ChartOptions{Width: 800, Height: 500, DPI: 100}, 800, 500},
		{"one", load(t, "one"), ChartOptions{DPI: 72}, 16 * 72, 8 * 72},
		{"empty", empty, ChartOptions{}, 2400, 1200},
		{"only crashes", crashes, ChartOptions{}, 2400, 1200},
	}
	for _, c := range cases {
		var b bytes.Buffer
		if err := WritePNG(&b, c.a, c.opts); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		img, err := png.Decode(&b)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := img.Bounds().Size(); got.X != c.w || got.Y != c.h {
			t.Errorf("%s: %v, want %dx%d", c.name, got, c.w, c.h)
		}
	}
}

// The kept points are drawn in the kept colour; a chart of only discards has
// none of it.
func TestChartHighlightsKept(t *testing.T) {
	count := func(a *Analysis) int {
		var b bytes.Buffer
		if err := WritePNG(&b, a, ChartOptions{Width: 600, Height: 300, DPI: 75}); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&b)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
			for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				if r>>8 == 0x2e && g>>8 == 0xcc && bl>>8 == 0x71 {
					n++
				}
			}
		}
		return n
	}
	if n := count(load(t, "crashes")); n < 10 {
		t.Errorf("%d pixels of the kept colour, want the kept points drawn", n)
	}
	discards := &results.File{Metric: "val_bpb", Rows: []results.Row{{Commit: "a", Value: 1, Status: results.Discard}, {Commit: "b", Value: 1.1, Status: results.Discard}}}
	if n := count(Analyze(discards)); n != 0 {
		t.Errorf("%d pixels of the kept colour without kept rows", n)
	}
}

func TestNiceTicks(t *testing.T) {
	ticks := niceTicks{n: 8}.Ticks(0.9741, 1.0011)
	var labels []string
	for _, tk := range ticks {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if strings.Join(labels, " ") != "0.975 0.980 0.985 0.990 0.995 1.000" {
		t.Errorf("labels %v", labels)
	}
	ticks = niceTicks{n: 10, integer: true}.Ticks(-1, 3)
	labels = labels[:0]
	for _, tk := range ticks {
		labels = append(labels, tk.Label)
	}
	if strings.Join(labels, " ") != "-1 0 1 2 3" {
		t.Errorf("integer labels %v", labels)
	}
}

// Past maxLabels kept rows, the chart labels the baseline, the best and the
// biggest wins only.
func TestLabelsThinOut(t *testing.T) {
	few := load(t, "progress")
	if got := len(labelled(few)); got != few.Keeps {
		t.Errorf("%d labels for %d kept rows", got, few.Keeps)
	}
	f, err := results.Read(bytes.NewReader(longRun(1000)), "")
	if err != nil {
		t.Fatal(err)
	}
	many := Analyze(f)
	show := labelled(many)
	if len(show) != maxLabels || !show[many.Baseline] || !show[many.Best] {
		t.Errorf("%d labels (baseline %v, best %v), want %d with both", len(show), show[many.Baseline], show[many.Best], maxLabels)
	}
}

// Before anything beats the baseline the kept values span nothing: the
// range reaches the median measured value, so most discards are drawn where
// they are, and a far-off one still stays out.
func TestYRangeWithoutImprovementShowsTheDiscards(t *testing.T) {
	a := Analyze(&results.File{Metric: "val_bpb", Rows: []results.Row{
		{Commit: "a", Value: 1.0, Status: results.Keep, Description: "baseline"},
		{Commit: "b", Value: 1.01, Status: results.Discard},
		{Commit: "c", Value: 1.03, Status: results.Discard},
		{Commit: "d", Status: results.Crash},
		{Commit: "e", Value: 1.02, Status: results.Discard},
		{Commit: "f", Value: 1.5, Status: results.Discard},
	}})
	lo, hi := yRange(a)
	if !(lo < 1.0 && hi >= 1.02 && hi < 1.5) {
		t.Errorf("y-range [%v, %v], want 1.0 to 1.02 inside and 1.5 outside", lo, hi)
	}
}

// A higher-is-better metric (a Sharpe ratio) keeps rising values: its best
// is the highest kept one, its zero and negative values are measurements,
// its wins are the largest rises, and every view says so.
func TestHigherIsBetter(t *testing.T) {
	f, err := results.ReadFile(filepath.Join("testdata", "higher.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	a := AnalyzeMetric(f, false)
	if a.Metric != "sharpe" || a.Best != 7 || a.BestValue() != 0.95 || a.Baseline != 0 {
		t.Fatalf("best #%d %v, baseline #%d", a.Best, a.BestValue(), a.Baseline)
	}
	if !a.Measured(a.Rows[4]) || !a.Measured(a.Rows[0]) || a.Measured(a.Rows[3]) {
		t.Error("0 and negative values are measurements of a higher-is-better metric; crashes are not")
	}
	if d := a.Delta[1]; math.Abs(d-0.47) > 1e-9 {
		t.Errorf("delta of #1 %v, want +0.47 against the baseline -0.12", d)
	}
	if abs, frac := a.Improvement(); math.Abs(abs-1.07) > 1e-9 || math.Abs(frac-1.07/0.12) > 1e-9 {
		t.Errorf("improvement %v (%v), want 1.07 (%v)", abs, frac, 1.07/0.12)
	}
	if w := biggestWins(a); len(w) != 3 || w[0] != 5 || w[1] != 1 || w[2] != 7 {
		t.Errorf("biggest wins %v, want #5 (+0.56), #1 (+0.47), #7 (+0.04)", w)
	}
	lo, hi := yRange(a)
	if lo > -0.12 || hi < 0.95 || lo < -0.12-0.3*1.07 || hi > 0.95+0.3*1.07 {
		t.Errorf("y-range [%v, %v]: the -2.5 discard should sit at the bottom edge", lo, hi)
	}
	p, err := Chart(a, ChartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Y.Label.Text != "sharpe (higher is better)" {
		t.Errorf("axis label %q", p.Y.Label.Text)
	}
	if p, _ := Chart(load(t, "progress"), ChartOptions{}); p.Y.Label.Text != "val_bpb (lower is better)" {
		t.Errorf("axis label %q", p.Y.Label.Text)
	}
	var b bytes.Buffer
	if err := Table(&b, a, "higher.tsv"); err != nil {
		t.Fatal(err)
	}
	golden(t, "higher.table", b.Bytes())
	b.Reset()
	if err := WriteMarkdown(&b, a, nil, MarkdownOptions{Title: "higher"}); err != nil {
		t.Fatal(err)
	}
	golden(t, "higher.md", b.Bytes())
	b.Reset()
	if err := WritePNG(&b, a, ChartOptions{Width: 600, Height: 300, DPI: 75}); err != nil {
		t.Fatal(err)
	}
}

// The summary is read as text, in a terminal or a file: a description's <
// stays <, while what would break a table or turn into markup is escaped.
// The HTML page escapes for HTML.
func TestMarkdownKeepsLessThanAsItIs(t *testing.T) {
	desc := "BATCH 1 << 19 -> 1 << 20 | *x* <b>"
	a := Analyze(&results.File{Rows: []results.Row{
		{Commit: "a1b2c3d", Value: 1.0, Status: results.Keep, Description: "baseline"},
		{Commit: "b2c3d4e", Value: 0.9, Status: results.Keep, Description: desc},
	}})
	var b bytes.Buffer
	if err := WriteMarkdown(&b, a, nil, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := `BATCH 1 << 19 -> 1 << 20 \| \*x\* <b>`; !strings.Contains(b.String(), want) || strings.Contains(b.String(), "&lt;") {
		t.Errorf("summary lacks %q, or has an HTML entity:\n%s", want, b.String())
	}
	page, err := RenderHTML(&Page{Analysis: a, Records: make([]*Record, 2), Patches: make([]Patch, 2)}, HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(page, []byte("BATCH 1 &lt;&lt; 19 -&gt; 1 &lt;&lt; 20 | *x* &lt;b&gt;")) || bytes.Contains(page, []byte("<b>")) {
		t.Errorf("the page does not escape the description for HTML")
	}
}
