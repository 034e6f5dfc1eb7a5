// Package testfs is the file system for tests: the os functions a test sets
// up its files with, each failing the test, with the file's name, when it
// fails, so that no test goes on from a setup that did not happen.
package testfs

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile is os.WriteFile, failing t on error.
func WriteFile(t testing.TB, path string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
}

// ReadFile is os.ReadFile, failing t on error.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// MkdirAll is os.MkdirAll, failing t on error.
func MkdirAll(t testing.TB, path string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(path, perm); err != nil {
		t.Fatal(err)
	}
}

// Remove is os.Remove, failing t on error.
func Remove(t testing.TB, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// Symlink is os.Symlink, failing t on error.
func Symlink(t testing.TB, oldname, newname string) {
	t.Helper()
	if err := os.Symlink(oldname, newname); err != nil {
		t.Fatal(err)
	}
}

// Toolkit makes dir look like a CUDA toolkit, a folder with include/cuda.h
// (or, with header false, only an empty include/), and returns it.
func Toolkit(t testing.TB, dir string, header bool) string {
	t.Helper()
	MkdirAll(t, filepath.Join(dir, "include"), 0o755)
	if header {
		WriteFile(t, filepath.Join(dir, "include", "cuda.h"), []byte("/* cuda.h */\n"), 0o644)
	}
	return dir
}
