package results

import (
	"autoresearch/internal/testfs"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteMatchesOriginalFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.tsv")
	if err := Create(path, DefaultMetric); err != nil {
		t.Fatal(err)
	}
	rows := []Row{
		{"a1b2c3d4e5f6", 0.9979, 44.0, Keep, "baseline"},
		{"b2c3d4e", 0.9932, 44.2, Keep, "increase LR to 0.04"},
		{"c3d4e5f", 1.005, 44.04, Discard, "switch to\tGeLU\nactivation"},
		{"d4e5f6a", 0, 0, Crash, "double model width (OOM)"},
	}
	for _, r := range rows {
		if err := Append(path, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/original.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("results.tsv differs from the golden file:\n got:\n%s\nwant:\n%s", got, want)
	}
}

func TestCreateRefusesToOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.tsv")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Create(path, DefaultMetric); err == nil {
		t.Fatal("Create replaced an existing results file")
	}
	if b := testfs.ReadFile(t, path); string(b) != "precious" {
		t.Fatalf("existing file changed to %q", b)
	}
}

func TestAppendRejectsBadStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.tsv")
	if err := Create(path, DefaultMetric); err != nil {
		t.Fatal(err)
	}
	if err := Append(path, Row{Commit: "abcdefg", Status: "maybe"}); err == nil {
		t.Fatal("Append accepted status maybe")
	}
}

func TestReadRoundTrip(t *testing.T) {
	f, err := ReadFile("testdata/original.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if f.Metric != "val_bpb" || len(f.Rows) != 4 {
		t.Fatalf("metric %q, %d rows; want val_bpb, 4", f.Metric, len(f.Rows))
	}
	if r := f.Rows[2]; r.Commit != "c3d4e5f" || r.Value != 1.005 || r.MemoryGB != 44.0 || r.Status != Discard || r.Description != "switch to GeLU activation" {
		t.Errorf("row 3 parsed as %+v", r)
	}
	var b strings.Builder
	b.WriteString(Header(f.Metric) + "\n")
	for _, r := range f.Rows {
		b.WriteString(r.Format() + "\n")
	}
	want := testfs.ReadFile(t, "testdata/original.tsv")
	if b.String() != string(want) {
		t.Errorf("re-formatted rows differ:\n%s", b.String())
	}
}

func TestReadErrorsNameTheLine(t *testing.T) {
	cases := []struct {
		name, text string
		line       int
		msg        string
	}{
		{"empty", "", 1, "empty file"},
		{"bad header", "a\tb\n", 1, "header"},
		{"few columns", Header("val_bpb") + "\nabc\t1.0\n", 2, "5 tab-separated"},
		{"bad number", Header("val_bpb") + "\nabc1234\t0.99\t1.0\tkeep\tx\nabc1234\tnope\t1.0\tkeep\tx\n", 3, "not a number"},
		{"bad status", Header("val_bpb") + "\nabc1234\t0.99\t1.0\tmaybe\tx\n", 2, "status"},
	}
	for _, c := range cases {
		_, err := Read(strings.NewReader(c.text), "r.tsv")
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v, want a ParseError", c.name, err)
			continue
		}
		if pe.Line != c.line || !strings.Contains(pe.Error(), c.msg) || !strings.HasPrefix(pe.Error(), "r.tsv:") {
			t.Errorf("%s: got %q (line %d), want line %d mentioning %q", c.name, pe.Error(), pe.Line, c.line, c.msg)
		}
	}
}

func TestReadAcceptsCRLFAndMissingFinalNewline(t *testing.T) {
	text := "commit\tval_bpb\tmemory_gb\tstatus\tdescription\r\nabc1234\t0.5\t1.0\tkeep\tbaseline"
	f, err := Read(strings.NewReader(text), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rows) != 1 || f.Rows[0].Description != "baseline" {
		t.Fatalf("rows %+v", f.Rows)
	}
}

// Files written by agents of the original tool often carry extra columns; the
// known ones are found by name and the rest ignored.
func TestReadFindsColumnsByName(t *testing.T) {
	text := "commit\tkind\tval_bpb\tdelta\tmemory_gb\tstatus\tdescription\n" +
		"153211f\tbaseline\t0.964088\t0.0\t29.9\tKEEP \tstrip the model down\n" +
		"02ba694\tlr\t0.954881\t-0.009\t29.9\tkeep\tlower LR\tto 0.003\n"
	f, err := Read(strings.NewReader(text), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{"153211f", 0.964088, 29.9, Keep, "strip the model down"},
		{"02ba694", 0.954881, 29.9, Keep, "lower LR\tto 0.003"},
	}
	if f.Metric != "val_bpb" || len(f.Rows) != 2 || f.Rows[0] != want[0] || f.Rows[1] != want[1] {
		t.Errorf("metric %q rows %+v, want %+v", f.Metric, f.Rows, want)
	}

	// Without memory_gb, and with another metric in the second column.
	f, err = Read(strings.NewReader("commit\tval_loss\tartifact_mb\tstatus\tdescription\nabc1234\t2.5\t11.9\tdiscard\tx\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Metric != "val_loss" || f.Rows[0].Value != 2.5 || f.Rows[0].MemoryGB != 0 {
		t.Errorf("metric %q rows %+v", f.Metric, f.Rows)
	}

	for _, bad := range []string{
		"commit\tval_bpb\tmemory_gb\tstatus\n",                     // no description
		"hash\tval_bpb\tmemory_gb\tstatus\tdescription\n",          // no commit
		"commit\tstatus\tmemory_gb\tdescription\tnotes\n",          // no metric
		"commit\tval_bpb\tmemory_gb\tresult\tdescription\textra\n", // no status
	} {
		var pe *ParseError
		if _, err := Read(strings.NewReader(bad), "r.tsv"); !errors.As(err, &pe) || pe.Line != 1 {
			t.Errorf("header %q: error %v, want a ParseError on line 1", bad, err)
		}
	}
	_, err = Read(strings.NewReader("commit\tval_bpb\tmemory_gb\tstatus\tdescription\nabc1234\t1.0\t1.0\ttentative\tx\n"), "r.tsv")
	if err == nil || !strings.Contains(err.Error(), `r.tsv:2: status "tentative"`) {
		t.Errorf("unknown status gave %v", err)
	}
}
