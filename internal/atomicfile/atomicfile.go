// Package atomicfile writes files so that readers see the old content or the
// new, never a half-written file: write a temporary file in the same folder,
// flush it, rename it over the target.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Error is a failed Write. It names the file that was to be written, never
// the temporary one beside it, which the user has never heard of.
type Error struct {
	Path string
	Err  error // the cause, without the temporary file's name
}

func (e *Error) Error() string {
	if errors.Is(e.Err, fs.ErrNotExist) {
		return fmt.Sprintf("cannot write %s: the folder %s does not exist", e.Path, filepath.Dir(e.Path))
	}
	return fmt.Sprintf("cannot write %s: %v", e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Write writes data to a temporary file beside path, flushes it, and
// renames it over path, so readers see either the old or the new content.
// A failure is an *Error.
func Write(path string, data []byte, perm os.FileMode) error {
	if err := write(path, data, perm); err != nil {
		var pe *fs.PathError
		var le *os.LinkError
		switch {
		case errors.As(err, &pe):
			err = pe.Err
		case errors.As(err, &le):
			err = le.Err
		}
		return &Error{Path: path, Err: err}
	}
	return nil
}

func write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	return nil
}
