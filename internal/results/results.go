package results

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"autoresearch/internal/atomicfile"
)

// Status is the outcome of one experiment.
type Status string

const (
	Keep    Status = "keep"    // the change improved the metric; the branch advanced
	Discard Status = "discard" // the change did not improve it; the branch was reset
	Crash   Status = "crash"   // the change did not build, crashed, or timed out
)

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool { return s == Keep || s == Discard || s == Crash }

// DefaultMetric names the metric column of the GPT task.
const DefaultMetric = "val_bpb"

// Row is one experiment as results.tsv records it.
type Row struct {
	Commit      string  // short hash, 7 characters
	Value       float64 // the metric (val_bpb); 0 for a crash
	MemoryGB    float64 // peak memory in GB; 0 for a crash
	Status      Status
	Description string
}

// Header returns the header line (without newline) for a metric name.
func Header(metric string) string {
	return strings.Join([]string{"commit", metric, "memory_gb", "status", "description"}, "\t")
}

// Format returns the row as one line of results.tsv, without the newline.
// The commit is cut to 7 characters and the description cleaned.
func (r Row) Format() string {
	commit := r.Commit
	if len(commit) > 7 {
		commit = commit[:7]
	}
	return fmt.Sprintf("%s\t%.6f\t%.1f\t%s\t%s", commit, r.Value, r.MemoryGB, r.Status, CleanDescription(r.Description))
}

// CleanDescription makes a description fit one TSV cell: tabs, carriage
// returns and newlines become spaces, runs of spaces collapse, and the ends are
// trimmed. An empty description becomes "(no description)".
func CleanDescription(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "(no description)"
	}
	return s
}

// Create writes a new results file holding only the header. It refuses to
// replace an existing file, so a run's history is never overwritten.
func Create(path, metric string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("results file %s already exists: refusing to overwrite it", path)
	}
	return atomicfile.Write(path, []byte(Header(metric)+"\n"), 0o644)
}

// Append adds one row to the file at path and flushes it to disk before
// returning. The file must exist (see Create).
func Append(path string, r Row) error {
	if !r.Status.Valid() {
		return fmt.Errorf("results: invalid status %q (want keep, discard or crash)", r.Status)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if _, err := f.WriteString(r.Format() + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("results: appending to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("results: flushing %s: %w", path, err)
	}
	return f.Close()
}

// File is a parsed results.tsv.
type File struct {
	Metric string // the name of the second column
	Rows   []Row
}

// ParseError names the line of a results file that could not be read.
type ParseError struct {
	Name string // file name, or "results.tsv" when unknown
	Line int    // 1-based
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
}

// Read parses a results file. It accepts files written by the original Python
// tool, including the extra columns its agents sometimes add: the columns are
// found by their header names (commit, status and description are required,
// memory_gb is optional, the metric is val_bpb or else the second column), and
// the rest are ignored. Status is read case-insensitively. A malformed line
// gives a *ParseError naming the line. Blank lines are skipped; a final line
// without a newline is accepted.
func Read(r io.Reader, name string) (*File, error) {
	if name == "" {
		name = "results.tsv"
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	f := &File{}
	var cols columns
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if line == 1 {
			var ok bool
			if cols, ok = parseHeader(text); !ok {
				return nil, &ParseError{name, line, fmt.Sprintf("header is %q, want %q", text, Header("val_bpb"))}
			}
			f.Metric = cols.metricName
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		row, err := cols.parseRow(text)
		if err != nil {
			return nil, &ParseError{name, line, err.Error()}
		}
		f.Rows = append(f.Rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if line == 0 {
		return nil, &ParseError{name, 1, "empty file: no header line"}
	}
	return f, nil
}

// ReadFile parses the results file at path.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return Read(fh, path)
}

// columns maps the fields of a row to their positions, as named by the header.
type columns struct {
	n                                     int // fields in the header
	commit, metric, memory, status, descr int // memory is -1 when absent
	metricName                            string
}

func parseHeader(text string) (columns, bool) {
	names := strings.Split(text, "\t")
	c := columns{n: len(names), commit: -1, metric: -1, memory: -1, status: -1, descr: -1}
	for i, name := range names {
		switch strings.TrimSpace(name) {
		case "commit":
			c.commit = i
		case "memory_gb":
			c.memory = i
		case "status":
			c.status = i
		case "description":
			c.descr = i
		case DefaultMetric:
			c.metric = i
		}
	}
	// The original names the second column after the metric.
	if c.metric < 0 && len(names) > 1 && c.memory != 1 && c.status != 1 && c.descr != 1 {
		c.metric = 1
	}
	if len(names) < 5 || c.commit != 0 || c.metric < 0 || c.status < 0 || c.descr < 0 {
		return c, false
	}
	c.metricName = strings.TrimSpace(names[c.metric])
	return c, true
}

// parseRow reads one row. The last column takes any extra tabs, so a stray
// tab in a final description column does not break the row.
func (c columns) parseRow(text string) (Row, error) {
	cols := strings.SplitN(text, "\t", c.n)
	if len(cols) != c.n {
		return Row{}, fmt.Errorf("want %d tab-separated columns, found %d", c.n, len(cols))
	}
	field := func(i int) string { return strings.TrimSpace(cols[i]) }
	v, err := strconv.ParseFloat(field(c.metric), 64)
	if err != nil {
		return Row{}, fmt.Errorf("%s %q is not a number", c.metricName, cols[c.metric])
	}
	var mem float64
	if c.memory >= 0 {
		if mem, err = strconv.ParseFloat(field(c.memory), 64); err != nil {
			return Row{}, fmt.Errorf("memory_gb %q is not a number", cols[c.memory])
		}
	}
	st := Status(strings.ToLower(field(c.status)))
	if !st.Valid() {
		return Row{}, fmt.Errorf("status %q is not keep, discard or crash", cols[c.status])
	}
	if field(c.commit) == "" {
		return Row{}, errors.New("empty commit")
	}
	return Row{Commit: field(c.commit), Value: v, MemoryGB: mem, Status: st, Description: strings.TrimSpace(cols[c.descr])}, nil
}
