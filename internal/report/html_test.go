package report

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"autoresearch/internal/results"
	"autoresearch/internal/runs"
)

// ---- DOM helpers ----

func parseHTML(t testing.TB, page []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	for _, c := range strings.Fields(v) {
		if c == class {
			return true
		}
	}
	return false
}

// findAll returns the elements below n (n included) that match.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

func tagClass(name, class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name && hasClass(n, class) }
}

func byID(doc *html.Node, id string) *html.Node {
	found := findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id })
	if len(found) != 1 {
		return nil
	}
	return found[0]
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// domCheck is what every page must hold, whatever the run: the chart with
// a point per experiment, a table row and a folded part per experiment,
// the kept and best rows marked, nothing loaded from elsewhere and no
// script but the page's own.
type domCheck struct {
	Rows, Kept, Points, Details, Open int
	Best                              bool
}

func checkDOM(t *testing.T, page []byte, a *Analysis) (*html.Node, domCheck) {
	t.Helper()
	doc := parseHTML(t, page)
	var c domCheck
	if chart := byID(doc, "progress-chart"); chart != nil {
		if chart.Data != "svg" {
			t.Errorf("#progress-chart is a <%s>, want an <svg>", chart.Data)
		}
		c.Points = len(findAll(chart, tagClass("a", "pt")))
	} else if len(a.Rows) > 0 {
		t.Error("no progress chart")
	}
	if table := byID(doc, "experiments-table"); table != nil {
		for _, tr := range findAll(table, tag("tr")) {
			if tr.Parent.Data != "tbody" {
				continue
			}
			c.Rows++
			if hasClass(tr, "keep") {
				c.Kept++
			}
			if hasClass(tr, "best") {
				if c.Best {
					t.Error("two rows marked best")
				}
				c.Best = true
			}
		}
	}
	for _, d := range findAll(doc, tagClass("details", "experiment")) {
		c.Details++
		if _, open := attr(d, "open"); open {
			c.Open++
		}
	}
	if c.Rows != len(a.Rows) || c.Points != len(a.Rows) || c.Details != len(a.Rows) || c.Kept != a.Keeps || c.Best != (a.Best >= 0) {
		t.Errorf("DOM %+v for %d rows, %d kept, best #%d", c, len(a.Rows), a.Keeps, a.Best)
	}
	checkSelfContained(t, doc)
	return doc, c
}

// checkSelfContained fails for anything the page would fetch: a src, a
// link element, an address with a scheme, a CSS url() or @import.
func checkSelfContained(t *testing.T, doc *html.Node) {
	t.Helper()
	if scripts := findAll(doc, tag("script")); len(scripts) != 1 {
		t.Errorf("%d script elements, want the page's one", len(scripts))
	}
	for _, n := range findAll(doc, func(*html.Node) bool { return true }) {
		if n.Data == "link" || n.Data == "iframe" || n.Data == "img" {
			t.Errorf("a <%s> element", n.Data)
		}
		for _, a := range n.Attr {
			if a.Key == "src" || a.Key == "srcset" {
				t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
			}
			if (a.Key == "href" || a.Key == "xlink:href") && (strings.Contains(a.Val, ":") || strings.HasPrefix(a.Val, "//")) {
				t.Errorf("<%s href=%q> leaves the page", n.Data, a.Val)
			}
		}
		if n.Data == "style" && (strings.Contains(textOf(n), "url(") || strings.Contains(textOf(n), "@import")) {
			t.Error("the style loads something")
		}
	}
}

func renderRun(t testing.TB, o synthOptions) (*Page, []byte) {
	t.Helper()
	path, end := synthRun(t, o)
	p, err := LoadPage(path, !o.higher)
	if err != nil {
		t.Fatal(err)
	}
	page, err := RenderHTML(p, HTMLOptions{Now: end.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return p, page
}

// ---- the pages of every shape of run ----

func TestHTMLOfEveryShapeOfRun(t *testing.T) {
	for _, c := range []struct {
		name     string
		o        synthOptions
		wantOpen int // unfolded experiments: the best's diff, none without diffs
	}{
		{"one row", synthOptions{n: 1}, 0},
		{"only crashes", synthOptions{n: 4, onlyCrashes: true}, 1},
		{"higher is better, task file", synthOptions{n: 30, higher: true, task: "autoresearch.toml"}, 1},
		{"workers and an LLM", synthOptions{n: 25, workers: 3, llm: true, inFlight: true}, 1},
		{"500 experiments", synthOptions{n: 500}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, page := renderRun(t, c.o)
			a := p.Analysis
			if len(a.Rows) != c.o.n {
				t.Fatalf("%d rows, want %d", len(a.Rows), c.o.n)
			}
			doc, dom := checkDOM(t, page, a)
			if dom.Open != c.wantOpen {
				t.Errorf("%d experiments unfolded, want %d", dom.Open, c.wantOpen)
			}
			if c.wantOpen == 1 {
				open := findAll(doc, func(n *html.Node) bool { _, o := attr(n, "open"); return n.Data == "details" && o })[0]
				adds, dels := findAll(open, tagClass("span", "add")), findAll(open, tagClass("span", "del"))
				if len(adds) != 1 || len(dels) != 1 {
					t.Errorf("the unfolded diff has %d added and %d removed lines, want 1 and 1", len(adds), len(dels))
				}
			}
			// Every description is text, never markup, in the table and on
			// the chart alike.
			for i, r := range a.Rows {
				if !strings.Contains(r.Description, "<script>") {
					continue
				}
				tr := findAll(byID(doc, "experiments-table"), tag("tbody"))[0]
				if !strings.Contains(textOf(tr), results.CleanDescription(r.Description)) {
					t.Errorf("row %d's description is not shown as text", i)
				}
			}
			// Experiment 7's description holds a script tag (see synthRun).
			if c.o.n > 7 && !bytes.Contains(page, []byte(`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`)) {
				t.Error("the description with a script tag was not escaped")
			}
		})
	}
}

// The crash-only run: crosses on the chart, no running best, no best row,
// and the crash reason in each experiment's part.
func TestHTMLOnlyCrashes(t *testing.T) {
	p, page := renderRun(t, synthOptions{n: 4, onlyCrashes: true})
	doc := parseHTML(t, page)
	chart := byID(doc, "progress-chart")
	if n := len(findAll(chart, tagClass("a", "crash"))); n != 4 {
		t.Errorf("%d crash marks, want 4", n)
	}
	if n := len(findAll(chart, tagClass("path", "best-line"))); n != 0 {
		t.Errorf("a running best without a measurement")
	}
	for _, d := range findAll(doc, tagClass("details", "experiment")) {
		if !strings.Contains(textOf(d), "runtime: out of memory: <tensor> needs 12 GB") {
			t.Errorf("experiment part without its crash reason: %q", textOf(d))
		}
	}
	if p.Analysis.Crashes != 4 || !strings.Contains(textOf(doc), "4 experiments: 0 kept, 0 discarded, 4 crashed") {
		t.Error("the headline does not count the crashes")
	}
}

// A higher-is-better task-file run reads as one: the direction on the axis
// and in the task, the band over the running best, worse discards marked
// below the range, rises shown as improvements.
func TestHTMLHigherIsBetter(t *testing.T) {
	p, page := renderRun(t, synthOptions{n: 30, higher: true, task: "autoresearch.toml"})
	a := p.Analysis
	doc := parseHTML(t, page)
	if !strings.Contains(textOf(byID(doc, "task")), "metricsharpe (higher is better)") || !strings.Contains(textOf(byID(doc, "task")), "task fileautoresearch.toml") {
		t.Errorf("task section: %q", textOf(byID(doc, "task")))
	}
	chart := byID(doc, "progress-chart")
	if !strings.Contains(textOf(chart), "sharpe (higher is better)") {
		t.Error("the chart's axis does not name the direction")
	}
	// In SVG, y grows downwards: the band over a higher-is-better best lies
	// at smaller y than the line.
	c := progressSVG(a, func(int) string { return "" })
	band := progress(a).Band
	if len(band) == 0 {
		t.Fatal("no noise band")
	}
	for _, s := range band {
		if !(s.To > s.From) {
			t.Errorf("band step %+v: want it above the best", s)
		}
	}
	if c.Beyond != "down" {
		t.Errorf("beyond-range markers point %s", c.Beyond)
	}
	rows := findAll(byID(doc, "experiments-table"), tag("tr"))[1:]
	for i, r := range a.Rows {
		if r.Status != results.Keep || i == a.Baseline {
			continue
		}
		delta := rows[i].FirstChild.NextSibling.NextSibling.NextSibling
		if !hasClass(delta, "better") || !strings.HasPrefix(textOf(delta), "+") {
			t.Errorf("kept row %d: delta %q (class %v), want a rise marked better", i, textOf(delta), delta.Attr)
		}
	}
	if a.Best < 0 || a.Best == a.Baseline || a.BestValue() <= a.Rows[a.Baseline].Value {
		t.Fatalf("the generated run did not improve: best #%d", a.Best)
	}
}

// The chart on the page is the chart of progress.png: the same points in
// the same places relative to the range, the same running best.
func TestHTMLChartIsTheSharedProgressData(t *testing.T) {
	path, _ := synthRun(t, synthOptions{n: 60})
	a, err := AnalyzeRun(path, true)
	if err != nil {
		t.Fatal(err)
	}
	d := progress(a)
	c := progressSVG(a, func(int) string { return "" })
	kinds := map[string]int{}
	for _, pt := range c.Points {
		kinds[pt.Shape]++
		want := d.Points[pt.Row]
		wantY := c.Top + (d.Hi-want.Y)/(d.Hi-d.Lo)*c.PlotH
		if diff := pt.Y - wantY; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("#%d drawn at y %v, want %v", pt.Row, pt.Y, wantY)
		}
	}
	var wantKinds [4]int
	for _, pt := range d.Points {
		wantKinds[pt.Kind]++
	}
	if kinds["kept"] != wantKinds[pointKept] || kinds["crash"] != wantKinds[pointCrashed] || kinds["discard"] != wantKinds[pointDiscarded] || kinds["beyond"] != wantKinds[pointBeyond] {
		t.Errorf("shapes %v, want %v", kinds, wantKinds)
	}
	if steps := strings.Count(c.Best, "H"); steps != len(d.Best)-1 {
		t.Errorf("running best with %d steps, want %d", steps, len(d.Best)-1)
	}
	if bands := strings.Count(c.Band, "Z"); bands != len(d.Band) || bands == 0 {
		t.Errorf("%d band rectangles, want %d", bands, len(d.Band))
	}
}

// Each experiment's part shows its own diff against its parent, from the
// reference the run kept, with the added and removed lines marked.
func TestHTMLDiffIsTheExperimentsChange(t *testing.T) {
	p, page := renderRun(t, synthOptions{n: 12})
	doc := parseHTML(t, page)
	desc := regexp.MustCompile(`^(\w+) (\d+) -> (\d+)`)
	checked := 0
	for i, r := range p.Analysis.Rows {
		m := desc.FindStringSubmatch(r.Description)
		if m == nil {
			continue
		}
		d := byID(doc, "exp-"+strconv.Itoa(i))
		adds, dels := findAll(d, tagClass("span", "add")), findAll(d, tagClass("span", "del"))
		if len(adds) != 1 || len(dels) != 1 || textOf(adds[0]) != fmt.Sprintf("+\t%s = %s\n", m[1], m[3]) || textOf(dels[0]) != fmt.Sprintf("-\t%s = %s\n", m[1], m[2]) {
			t.Errorf("#%d %q: diff %q / %q", i, r.Description, texts(dels), texts(adds))
		}
		checked++
	}
	if checked != 11 {
		t.Errorf("checked %d diffs, want 11", checked)
	}
	if !strings.Contains(textOf(byID(doc, "exp-0")), "no diff: the baseline is the repository's commit as it was") {
		t.Error("the baseline's part does not say why it has no diff")
	}
}

func texts(ns []*html.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, textOf(n))
	}
	return out
}

// Logs and transcripts are linked relative to the page, wherever it goes.
func TestHTMLLinksLogsRelativeToThePage(t *testing.T) {
	path, _ := synthRun(t, synthOptions{n: 3, llm: true})
	out := filepath.Join(filepath.Dir(path), "..", "pages", "run.html")
	p, err := LoadPage(path, true)
	if err != nil {
		t.Fatal(err)
	}
	page, err := RenderHTML(p, HTMLOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	doc := parseHTML(t, page)
	var hrefs []string
	for _, a := range findAll(byID(doc, "exp-2"), tag("a")) {
		h, _ := attr(a, "href")
		hrefs = append(hrefs, h)
		target := filepath.Join(filepath.Dir(out), filepath.FromSlash(h))
		if want := filepath.Join(filepath.Dir(path), filepath.FromSlash(textOf(a))); target != want {
			t.Errorf("link %q (%q) points at %s, want %s", h, textOf(a), target, want)
		}
	}
	if strings.Join(hrefs, " ") != "../synth/logs/2.log ../synth/transcripts/2.json" {
		t.Errorf("links %v", hrefs)
	}
	if !strings.Contains(textOf(byID(doc, "llm")), "llm:test-model") || !strings.Contains(textOf(byID(doc, "task")), "llm, model test-model") {
		t.Error("the agent and its model are not named")
	}
}

// A results file on its own (the original's format) renders too: no
// records, no run.json, no diffs.
func TestHTMLOfAResultsFileOnItsOwn(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join("testdata", "progress.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "results.tsv")
	writeFile(t, path, string(raw))
	p, err := WriteHTMLFile(path, true, HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	doc, dom := checkDOM(t, page, p.Analysis)
	if dom.Open != 0 || !strings.Contains(textOf(byID(doc, "task")), "none beside the results file") {
		t.Errorf("DOM %+v; task %q", dom, textOf(byID(doc, "task")))
	}
}

// --watch: the page is written at once and again after each new line of
// experiments.jsonl, atomically, until the context ends.
func TestWatchRewritesAfterEachExperiment(t *testing.T) {
	path, _ := synthRun(t, synthOptions{n: 3})
	dir := filepath.Dir(path)
	out := filepath.Join(dir, HTMLFile)
	ctx, cancel := context.WithCancel(context.Background())
	writes := make(chan int, 10)
	done := make(chan error, 1)
	go func() {
		done <- WatchHTML(ctx, path, true, HTMLOptions{Out: out}, 5*time.Millisecond, func(p *Page) { writes <- len(p.Analysis.Rows) })
	}()
	rowsOnDisk := func() int {
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return len(findAll(byID(parseHTML(t, b), "experiments-table"), tag("tr"))) - 1
	}
	if n := <-writes; n != 3 || rowsOnDisk() != 3 {
		t.Fatalf("first write: %d rows", n)
	}
	// A new experiment: its row, then its record line, as the run writes
	// them.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(results.Row{Commit: "abcdef0", Value: 0.5, MemoryGB: 1, Status: results.Keep, Description: "a big win"}.Format() + "\n")
	f.Close()
	g, err := os.OpenFile(filepath.Join(dir, runs.ExperimentsFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	g.WriteString(`{"n":3,"status":"keep","description":"a big win","value":0.5}` + "\n")
	g.Close()
	for n := range writes {
		if n == 4 {
			break
		}
	}
	if rowsOnDisk() != 4 {
		t.Error("the page on disk does not hold the new experiment")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch ended with %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), HTMLFile) && e.Name() != HTMLFile {
			t.Errorf("left behind %s", e.Name())
		}
	}
}
