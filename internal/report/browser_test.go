//go:build browser

// The HTML report in a real browser: headless Chromium (Debian's package,
// installed by scripts/chromium.sh; run with make test-browser) loads the
// page from disk, runs its script, dumps the DOM and takes a screenshot.
// Chromium logs the page's console, uncaught errors included, to stderr.

package report

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"

	"autoresearch/internal/gitops/gittest"
)

// chromiumPath is the browser: $CHROMIUM, else Debian's.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no Chromium at %s: run scripts/chromium.sh (make test-browser does), or set CHROMIUM", p)
	}
	return p
}

// browse opens pageURL in a headless Chromium with a fresh profile and the
// given extra flags, and returns what it printed. Chromium and every process
// it started are ended before it returns.
func browse(t *testing.T, pageURL string, extra ...string) (stdout, stderr string) {
	t.Helper()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromiumPath(t), append(args, pageURL)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Start()
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	// Its helpers (zygote, GPU and renderer processes) share its group.
	if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
		t.Errorf("ending Chromium's processes: %v", kerr)
	}
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(extra, " "), err, errOut.String())
	}
	return out.String(), errOut.String()
}

// consoleLines are what the page wrote to the console: Chromium's log lines
// of the CONSOLE source, uncaught exceptions among them.
func consoleLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Uncaught") {
			out = append(out, l)
		}
	}
	return out
}

func fileURL(path, query, fragment string) string {
	u := url.URL{Scheme: "file", Path: path, RawQuery: query, Fragment: fragment}
	return u.String()
}

// The check for script errors can fail: a page that throws is caught.
func TestBrowserCatchesAScriptError(t *testing.T) {
	page := filepath.Join(t.TempDir(), "broken.html")
	writeFile(t, page, "<!DOCTYPE html><html><body><p>x</p><script>notDefined();</script></body></html>")
	_, stderr := browse(t, fileURL(page, "", ""), "--dump-dom")
	lines := consoleLines(stderr)
	if len(lines) == 0 || !strings.Contains(strings.Join(lines, "\n"), "Uncaught ReferenceError: notDefined is not defined") {
		t.Errorf("the uncaught error was not logged; stderr:\n%s", stderr)
	}
}

// The page of a generated run with workers and an LLM: the browser runs
// its script without an error, sorts the table as the address asks, unfolds
// the experiment it names besides the best one, and paints the chart.
func TestBrowserGeneratedRun(t *testing.T) {
	path, end := synthRun(t, synthOptions{n: 25, workers: 3, llm: true, inFlight: true})
	out := filepath.Join(filepath.Dir(path), HTMLFile)
	p, err := WriteHTMLFile(path, true, HTMLOptions{Out: out, Now: end.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	a := p.Analysis
	dom, stderr := browse(t, fileURL(out, "sort=-value", "exp-3"), "--dump-dom")
	if lines := consoleLines(stderr); len(lines) > 0 {
		t.Errorf("the page logged to the console:\n%s", strings.Join(lines, "\n"))
	}
	doc, c := checkDOM(t, []byte(dom), a)
	root := findAll(doc, tag("html"))[0]
	if v, _ := attr(root, "data-script"); v != "ready" {
		t.Error("the page's script did not run to its end")
	}
	// Sorted by value, highest first, crashes (no value) last.
	var keys []string
	for _, tr := range findAll(byID(doc, "experiments-table"), tag("tr"))[1:] {
		v, _ := attr(tr.FirstChild.NextSibling.NextSibling, "data-v")
		keys = append(keys, v)
	}
	prev, blanks := 1e300, false
	for _, k := range keys {
		if k == "" {
			blanks = true
			continue
		}
		x, err := strconv.ParseFloat(k, 64)
		if err != nil || x > prev || blanks {
			t.Fatalf("the table is not sorted by value, highest first: %v", keys)
		}
		prev = x
	}
	if th := findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "data-key"); return v == "value" }); len(th) != 1 || !hasClassAttr(th[0], "aria-sort", "descending") {
		t.Error("the value column is not marked as sorted")
	}
	if _, open := attr(byID(doc, "exp-3"), "open"); !open {
		t.Error("#exp-3 in the address did not unfold experiment 3")
	}
	if _, open := attr(byID(doc, "exp-"+strconv.Itoa(a.Best)), "open"); !open || c.Open != 2 {
		t.Errorf("%d experiments unfolded, want the best (#%d) and #3", c.Open, a.Best)
	}
	best := byID(doc, "exp-"+strconv.Itoa(a.Best))
	if len(findAll(best, tagClass("span", "add"))) != 1 || len(findAll(best, tagClass("span", "del"))) != 1 {
		t.Error("the best experiment's diff is not shown with its lines marked")
	}

	// The screenshot: the size asked for, with the chart's kept points and
	// running best painted in their green.
	shot := filepath.Join(t.TempDir(), "page.png")
	_, stderr = browse(t, fileURL(out, "", ""), "--screenshot="+shot, "--window-size=1200,1400")
	if lines := consoleLines(stderr); len(lines) > 0 {
		t.Errorf("the page logged to the console:\n%s", strings.Join(lines, "\n"))
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 1400 {
		t.Errorf("screenshot %v, want 1200x1400", b)
	}
	green := 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r>>8 == 0x27 && g>>8 == 0xae && b>>8 == 0x60 || r>>8 == 0x2e && g>>8 == 0xcc && b>>8 == 0x71 {
				green++
			}
		}
	}
	if green < 200 {
		t.Errorf("%d pixels of the chart's greens in the screenshot: the chart was not painted", green)
	}
}

func hasClassAttr(n *html.Node, key, val string) bool {
	v, ok := attr(n, key)
	return ok && v == val
}

// A long night: 500 experiments load in the browser with a row, a point and
// a part each.
func TestBrowser500Experiments(t *testing.T) {
	path, end := synthRun(t, synthOptions{n: 500})
	out := filepath.Join(filepath.Dir(path), HTMLFile)
	p, err := WriteHTMLFile(path, true, HTMLOptions{Out: out, Now: end})
	if err != nil {
		t.Fatal(err)
	}
	dom, stderr := browse(t, fileURL(out, "", ""), "--dump-dom")
	if lines := consoleLines(stderr); len(lines) > 0 {
		t.Errorf("the page logged to the console:\n%s", strings.Join(lines, "\n"))
	}
	if _, c := checkDOM(t, []byte(dom), p.Analysis); c.Rows != 500 || c.Open != 1 {
		t.Errorf("DOM %+v", c)
	}
}

// A real run, made through the command line on a tiny task file whose
// metric rises, then report --html, in the browser.
func TestBrowserCLIRun(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "autoresearch")
	build := exec.Command("go", "build", "-buildvcs=false", "-o", bin, "autoresearch/cmd/autoresearch")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "score.sh"), "LEVEL=3\necho \"score: $((LEVEL * 2 - 7))\"\n")
	writeFile(t, filepath.Join(src, "autoresearch.toml"), "editable = [\"score.sh\"]\nrun = [\"sh\", \"score.sh\"]\nbudget = \"5s\"\n[metric]\nname = \"score\"\npattern = '^score: (-?\\d+)'\ndirection = \"higher\"\n")
	repo := gittest.CommitTree(t, src, "task")
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("autoresearch %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cli("baseline", "--tag", "b", "--repeat", "1")
	cli("run", "--tag", "b", "--agent", "sweep", "--max-experiments", "3", "--seed", "2")
	page := strings.TrimSpace(cli("report", "--html"))
	if page != filepath.Join(".autoresearch", "b", "report.html") {
		t.Fatalf("report --html printed %q", page)
	}
	dom, stderr := browse(t, fileURL(filepath.Join(repo, page), "", ""), "--dump-dom")
	if lines := consoleLines(stderr); len(lines) > 0 {
		t.Errorf("the page logged to the console:\n%s", strings.Join(lines, "\n"))
	}
	doc := parseHTML(t, []byte(dom))
	rows := len(findAll(byID(doc, "experiments-table"), tag("tr"))) - 1
	open := findAll(doc, func(n *html.Node) bool { _, o := attr(n, "open"); return n.Data == "details" && o })
	if rows != 4 || byID(doc, "progress-chart") == nil || len(open) != 1 {
		t.Fatalf("%d rows, chart %v, %d unfolded", rows, byID(doc, "progress-chart") != nil, len(open))
	}
	diff := textOf(findAll(open[0], tagClass("pre", "diff"))[0])
	if !regexp.MustCompile(`(?m)^-LEVEL=\d+$`).MatchString(diff) || !regexp.MustCompile(`(?m)^\+LEVEL=\d+$`).MatchString(diff) {
		t.Errorf("unfolded diff:\n%s", diff)
	}
	if !strings.Contains(textOf(byID(doc, "task")), "score (higher is better)") {
		t.Errorf("task: %q", textOf(byID(doc, "task")))
	}
}
