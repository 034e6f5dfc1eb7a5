package atomicfile

import (
	"autoresearch/internal/testfs"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplacesWholeFileAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	if err := Write(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new content"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "new content" {
		t.Fatalf("read %q, %v", b, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the file", len(entries))
	}
}

func TestWriteIntoMissingFolderFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no")
	err := Write(filepath.Join(dir, "f.png"), []byte("x"), 0o644)
	if err == nil {
		t.Fatal("write into a missing folder succeeded")
	}
	// The message names the file and its missing folder, not the temporary file.
	want := "cannot write " + filepath.Join(dir, "f.png") + ": the folder " + dir + " does not exist"
	if err.Error() != want || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestWriteOverAFolderNamesTheTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "taken")
	os.Mkdir(target, 0o755)
	testfs.WriteFile(t, filepath.Join(target, "x"), nil, 0o644)
	err := Write(target, []byte("x"), 0o644)
	if err == nil || !strings.HasPrefix(err.Error(), "cannot write "+target+": ") || strings.Contains(err.Error(), ".tmp") {
		t.Errorf("error %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the failed write left %d entries, want 1", len(entries))
	}
}
