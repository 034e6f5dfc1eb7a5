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

// Secrets puts what a program must never read into the home folder home:
// credentials in .aws and a private key in .ssh.
func Secrets(t testing.TB, home string) {
	t.Helper()
	MkdirAll(t, filepath.Join(home, ".aws"), 0o700)
	MkdirAll(t, filepath.Join(home, ".ssh"), 0o700)
	WriteFile(t, filepath.Join(home, ".aws", "credentials"), []byte("[default]\naws_secret_access_key=hunter2\n"), 0o600)
	WriteFile(t, filepath.Join(home, ".ssh", "id_ed25519"), []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nhunter2\n"), 0o600)
}
