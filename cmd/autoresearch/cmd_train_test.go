package main

import (
	"autoresearch/internal/testfs"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// watcher is an output that calls its hook once the output contains mark.
type watcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	mark string
	hook func()
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.hook != nil && strings.Contains(w.buf.String(), w.mark) {
		w.hook()
		w.hook = nil
	}
	return len(p), nil
}

func TestTrainInterrupted(t *testing.T) {
	repo := toyRepo(t)
	// A program that stops in the middle of a progress line and hangs there.
	train := filepath.Join(repo, "gpt", "train.go")
	b := testfs.ReadFile(t, train)
	b = bytes.Replace(b, []byte("\tfmt.Println()\n\tswitch MODE"), []byte("\tswitch MODE"), 1)
	b = bytes.Replace(b, []byte(`MODE  = "ok"`), []byte(`MODE  = "hang"`), 1)
	if err := os.WriteFile(train, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(repo)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &watcher{mark: "step 00004", hook: cancel}
	root := newRootCmd()
	root.SetOut(out)
	root.SetErr(out)
	root.SetArgs([]string{"train", "--device", "cpu"})
	err := root.ExecuteContext(ctx)
	if !errors.Is(err, context.Canceled) || exitCode(err) != 130 || err.Error() != "interrupted; nothing is recorded by train" {
		t.Errorf("interrupted train: %v (exit %d)", err, exitCode(err))
	}
	if s := out.buf.String(); !strings.Contains(s, "step 00004") || !strings.HasSuffix(s, "\n") {
		t.Errorf("the output does not end its last line, so the error would follow on it:\n%q", s)
	}
}
