package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while Follow writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until the output holds want, or fails after a few seconds.
func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never showed %q:\n%s", want, out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// startFollow follows path; the channel receives the bytes each poll read,
// once the poll has been shown.
func startFollow(t *testing.T, path string) (*syncBuffer, <-chan int, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	polls := make(chan int, 1)
	polled := func(read int) {
		select {
		case polls <- read:
		default: // nobody is waiting: drop it
		}
	}
	go func() { done <- followMetric(ctx, path, out, time.Millisecond, true, polled) }()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Follow did not return after cancel")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return out, polls, stop
}

// afterPollOf returns once a poll that read all of path as it is now has
// been shown.
func afterPollOf(t *testing.T, polls <-chan int, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case read := <-polls:
			if int64(read) >= fi.Size() {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Follow stopped polling")
		}
	}
}

func TestFollowShowsRowsAsTheyArrive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.tsv")
	if err := os.WriteFile(path, []byte("commit\tval_bpb\tmemory_gb\tstatus\tdescription\na1b2c3d\t1.000000\t1.0\tkeep\tbaseline\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, polls, stop := startFollow(t, path)
	waitFor(t, out, "baseline")

	// Half a row: nothing is shown until its newline arrives, though the
	// file was read with it.
	appendTo(t, path, "b2c3d4e\t0.990000\t1.0\tkeep\thalve")
	afterPollOf(t, polls, path)
	if strings.Contains(out.String(), "b2c3d4e") {
		t.Fatalf("a partial line was shown:\n%s", out.String())
	}
	appendTo(t, path, " the batch\nc3d4e5f\t0.995000\t1.0\tdiscard\twider MLP\nd4e5f6a\t0.000000\t0.0\tcrash\tOOM\n")
	waitFor(t, out, "OOM")
	if err := stop(); err != nil {
		t.Fatalf("Follow returned %v after cancel, want nil", err)
	}

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var rows []string
	for _, l := range lines {
		if f := strings.Fields(strings.TrimPrefix(l, "*")); len(f) > 0 && f[0] >= "0" && f[0] <= "9" {
			rows = append(rows, l)
		}
	}
	if len(rows) != 4 {
		t.Fatalf("rows shown %d, want 4:\n%s", len(rows), out.String())
	}
	// The baseline was the best when shown; the new best is marked as it arrives.
	for i, wantMark := range []bool{true, true, false, false} {
		if strings.HasPrefix(rows[i], "*") != wantMark {
			t.Errorf("row %d %q: marked %v, want %v", i, rows[i], !wantMark, wantMark)
		}
	}
	if !strings.Contains(rows[1], "halve the batch") || !strings.Contains(rows[1], "-0.010000") {
		t.Errorf("row 1 %q lacks its description or delta", rows[1])
	}
	// Later rows line up with the first: the status column starts at the same place.
	statusAt := func(r string) int {
		for _, st := range []string{"keep", "discard", "crash"} {
			if i := strings.Index(r, "  "+st+" "); i >= 0 {
				return i
			}
		}
		return -1
	}
	for _, r := range rows[1:] {
		if statusAt(r) != statusAt(rows[0]) {
			t.Errorf("row %q: status at column %d, first row's at %d", r, statusAt(r), statusAt(rows[0]))
		}
	}
}

func TestFollowStartsOverWhenTheFileIsReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.tsv")
	header := "commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"
	if err := os.WriteFile(path, []byte(header+"a1b2c3d\t1.000000\t1.0\tkeep\tfirst run baseline\nb2c3d4e\t1.100000\t1.0\tdiscard\tsomething\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, stop := startFollow(t, path)
	waitFor(t, out, "something")
	if err := os.WriteFile(path, []byte(header+"e5f6a7b\t2.000000\t1.0\tkeep\tsecond run baseline\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "second run baseline")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "starting over") {
		t.Errorf("no notice that the file was replaced:\n%s", out.String())
	}
}

func TestFollowStopsOnAMalformedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.tsv")
	if err := os.WriteFile(path, []byte("commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, path, &syncBuffer{}, time.Millisecond) }()
	appendTo(t, path, "a1b2c3d\t1.0\t1.0\tmaybe\tx\n")
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "results.tsv:2:") {
		t.Errorf("error %v, want one naming line 2", err)
	}
}
