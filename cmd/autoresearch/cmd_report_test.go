package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"autoresearch/internal/gitops/gittest"
	"autoresearch/internal/results"
	"autoresearch/internal/task"
	"autoresearch/internal/testfs"
)

// The flags of report --html: each contradictory combination is a usage
// error that names the fix, refused before any run is looked for.
func TestReportHTMLFlags(t *testing.T) {
	t.Chdir(t.TempDir()) // no repository: the flags are checked first
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--watch"}, "--watch rewrites the HTML page: give --html with it"},
		{[]string{"--out", "page.html"}, "--out names the HTML page: give --html with it, or name the chart with -o"},
		{[]string{"--html", "-o", "chart.png"}, "-o names the PNG chart, which --html does not draw: name the page with --out"},
		{[]string{"--html", "--out", "page.txt"}, `--out "page.txt": the page is HTML, give a path ending in .html`},
		{[]string{"--html", "--tag", "a", "--file", "r.tsv"}, "--tag and --file name the same thing: give one of them"},
	} {
		_, _, err := execute(t, append([]string{"report"}, c.args...)...)
		var u *usageError
		if !errors.As(err, &u) || err.Error() != c.want+" (see --help)" {
			t.Errorf("report %s: %v, want the usage error %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}

// A real run of a task file whose metric rises (higher is better), made
// through the command line, then its page: one row per experiment, the
// chart, the direction, the task file, and the first change's diff unfolded.
func TestReportHTMLOfATaskFileRun(t *testing.T) {
	tmp := t.TempDir()
	testfs.WriteFile(t, filepath.Join(tmp, "score.sh"), []byte("LEVEL=3\necho \"score: $((LEVEL * 2 - 7))\"\n"), 0o644)
	testfs.WriteFile(t, filepath.Join(tmp, task.File), []byte("editable = [\"score.sh\"]\nrun = [\"sh\", \"score.sh\"]\nbudget = \"5s\"\n[metric]\nname = \"score\"\npattern = '^score: (-?\\d+)'\ndirection = \"higher\"\n"), 0o644)
	repo := gittest.CommitTree(t, tmp, "task")
	t.Chdir(repo)
	if out, err := runCLI(t, "baseline", "--tag", "hi", "--repeat", "1"); err != nil {
		t.Fatalf("baseline: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "run", "--tag", "hi", "--agent", "sweep", "--max-experiments", "3", "--seed", "2"); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	stdout, _, err := execute(t, "report", "--html")
	want := filepath.Join(".autoresearch", "hi", "report.html")
	if err != nil || stdout != want+"\n" {
		t.Fatalf("report --html: %v, printed %q, want %q", err, stdout, want)
	}
	b, err := os.ReadFile(filepath.Join(repo, want))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var rows, charts, open int
	var all strings.Builder
	var diff string
	var walk func(n *html.Node, inOpen bool)
	walk = func(n *html.Node, inOpen bool) {
		if n.Type == html.TextNode {
			all.WriteString(n.Data)
		}
		if n.Type == html.ElementNode {
			switch {
			case n.Data == "tr" && n.Parent.Data == "tbody" && hasAttr(n.Parent.Parent, "id", "experiments-table"):
				rows++
			case n.Data == "svg" && hasAttr(n, "id", "progress-chart"):
				charts++
			case n.Data == "details" && hasAttr(n, "open", ""):
				open++
				inOpen = true
			case n.Data == "pre" && inOpen && n.FirstChild != nil:
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.FirstChild != nil {
						diff += c.FirstChild.Data // each line ends with its newline
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inOpen)
		}
	}
	walk(doc, false)
	if rows != 4 || charts != 1 || open != 1 {
		t.Errorf("%d rows, %d charts, %d unfolded experiments; want 4, 1, 1", rows, charts, open)
	}
	for _, s := range []string{"score (higher is better)", "autoresearch.toml", "score.sh", "agentsweep"} {
		if !strings.Contains(all.String(), s) {
			t.Errorf("the page does not say %q", s)
		}
	}
	// The unfolded part is the best experiment's, when it changed something:
	// its diff is its description's change.
	f, err := results.ReadFile(filepath.Join(repo, ".autoresearch", "hi", "results.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	best := 0
	for i, r := range f.Rows {
		if r.Status == results.Keep && r.Value > f.Rows[best].Value {
			best = i
		}
	}
	if best == 0 {
		best = 1 // nothing beat the baseline: the first change is unfolded
	}
	var name, from, to string
	if _, err := fmt.Sscanf(f.Rows[best].Description, "%s %s -> %s", &name, &from, &to); err != nil {
		t.Fatalf("row %d: %q", best, f.Rows[best].Description)
	}
	if !strings.Contains(diff, "\n-"+name+"="+from+"\n+"+name+"="+to+"\n") {
		t.Errorf("unfolded diff, want #%d's %q:\n%s", best, f.Rows[best].Description, diff)
	}
}

func hasAttr(n *html.Node, key, val string) bool {
	for _, a := range n.Attr {
		if a.Key == key && (val == "" || a.Val == val) {
			return true
		}
	}
	return false
}

// --watch writes the page, prints its path and stops cleanly when
// interrupted.
func TestReportHTMLWatchStopsOnInterrupt(t *testing.T) {
	root := newRunRepo(t, [2]string{"nov26", header + "bbbbbbb\t1.200000\t1.0\tkeep\tbaseline\nccccccc\t1.100000\t1.0\tkeep\tdeeper\n"})
	page := filepath.Join(t.TempDir(), "night.html")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	err := runReport(ctx, reportOptions{HTML: true, Watch: true, Out: page, Dir: ".", Poll: 1}, &out, &errOut)
	if err != nil || out.String() != page+"\n" || !strings.Contains(errOut.String(), "wrote "+page+" (2 experiments: 2 kept, 0 discarded, 0 crashed)") {
		t.Errorf("watch: %v\nstdout %q\nstderr %q", err, out.String(), errOut.String())
	}
	b, err := os.ReadFile(page)
	if err != nil || !bytes.Contains(b, []byte("deeper")) {
		t.Errorf("the page: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, ".autoresearch", "nov26", "report.html")); !os.IsNotExist(err) {
		t.Errorf("--out was not where the page went: %v", err)
	}
}
