package prepare

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// The file kinds each user dataset reads.
var (
	textKinds    = []string{".txt", ".md", ".jsonl"}
	parquetKinds = []string{".parquet"}
)

// fileCorpus reads the user's own files: one file, or every file of the given
// kinds under a folder, in path order. A .txt or .md file is one source
// document; a .jsonl file has one per line (its "text" field); a .parquet
// file one per row (its "text" column). Every 10th document is validation.
func fileCorpus(root string, kinds []string, maxDoc int) (*corpus, error) {
	files, err := listFiles(root, kinds)
	if err != nil {
		return nil, err
	}
	sources := func(ctx context.Context, fn func(string) error) error {
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := readSourceFile(ctx, f, fn); err != nil {
				return err
			}
		}
		return nil
	}
	train, val := docSplit(sources, maxDoc)
	return &corpus{train: train, val: val, source: fmt.Sprintf("%d files under %s", len(files), root)}, nil
}

func listFiles(root string, kinds []string) ([]string, error) {
	st, err := os.Stat(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("dataset path %s: no such file or directory: name an existing file or folder after text: or parquet:", root)
	}
	if err != nil {
		return nil, fmt.Errorf("dataset path %s: %w", root, err)
	}
	want := func(p string) bool { return slices.Contains(kinds, strings.ToLower(filepath.Ext(p))) }
	if !st.IsDir() {
		if !want(root) {
			return nil, fmt.Errorf("%s is not a %s file", root, strings.Join(kinds, ", "))
		}
		return []string{root}, nil
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && want(p) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no %s files in %s", strings.Join(kinds, ", "), root)
	}
	return files, nil
}

func readSourceFile(ctx context.Context, path string, fn func(string) error) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".parquet":
		return readParquetTexts(ctx, path, fn)
	case ".jsonl":
		return readJSONLTexts(path, fn)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return fn(normalize(raw))
}

// readJSONLTexts calls fn with the "text" field of each line of a JSON-lines
// file; blank lines are skipped.
func readJSONLTexts(path string, fn func(string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		raw, err := r.ReadBytes('\n')
		if len(strings.TrimSpace(string(raw))) > 0 {
			var rec struct {
				Text *string `json:"text"`
			}
			if jerr := json.Unmarshal(raw, &rec); jerr != nil {
				return fmt.Errorf("%s:%d: not a JSON object: %v", path, line, jerr)
			}
			if rec.Text == nil {
				return fmt.Errorf("%s:%d: no \"text\" string field", path, line)
			}
			if err := fn(normalize([]byte(*rec.Text))); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// openParquet opens a parquet file and finds its "text" column, which must
// hold strings.
func openParquet(path string) (*os.File, *parquet.File, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("%s is not a readable parquet file: %v", path, err)
	}
	leaf, ok := pf.Schema().Lookup("text")
	if !ok || leaf.Node.Type().Kind() != parquet.ByteArray {
		f.Close()
		return nil, nil, 0, fmt.Errorf("%s has no \"text\" column of strings", path)
	}
	return f, pf, leaf.ColumnIndex, nil
}

// readParquetTexts calls fn with the "text" value of each row, in order;
// null values are skipped.
func readParquetTexts(ctx context.Context, path string, fn func(string) error) error {
	f, pf, col, err := openParquet(path)
	if err != nil {
		return err
	}
	defer f.Close()
	values := make([]parquet.Value, 256)
	for _, rg := range pf.RowGroups() {
		if err := ctx.Err(); err != nil {
			return err
		}
		pages := rg.ColumnChunks()[col].Pages()
		err := func() error {
			defer pages.Close()
			for {
				page, err := pages.ReadPage()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				err = readPageTexts(page, values, fn)
				parquet.Release(page)
				if err != nil {
					return err
				}
			}
		}()
		if err != nil {
			var stop *stopError
			if errors.As(err, &stop) {
				return stop.err
			}
			return fmt.Errorf("%s: corrupt parquet data: %v", path, err)
		}
	}
	return nil
}

// stopError carries an error from fn through the page reader unchanged, to
// tell it from a corrupt file.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }

func readPageTexts(page parquet.Page, values []parquet.Value, fn func(string) error) error {
	r := page.Values()
	for {
		n, err := r.ReadValues(values)
		for _, v := range values[:n] {
			if v.IsNull() {
				continue
			}
			if ferr := fn(normalize(v.ByteArray())); ferr != nil {
				return &stopError{ferr}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
