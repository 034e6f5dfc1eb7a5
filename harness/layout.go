package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The files of a prepared profile, under DataDir(home, profile):
//
//	tokenizer.bin  the BPE tokenizer (format in tokenizer.go)
//	train.bin      training tokens, little-endian uint16, every document starts with BOS
//	val.bin        validation tokens, same format, the pinned held-out documents
//	meta.json      Meta; written last, so its presence means the rest is complete
const (
	TokenizerFile = "tokenizer.bin"
	TrainFile     = "train.bin"
	ValFile       = "val.bin"
	MetaFile      = "meta.json"
)

// Meta describes prepared data. Prepare writes it last and atomically, so a
// half-finished prepare is never mistaken for a finished one.
type Meta struct {
	Profile     string            `json:"profile"`
	Dataset     string            `json:"dataset"`
	Shards      int               `json:"shards,omitempty"` // climbmix training shards
	VocabSize   int               `json:"vocab_size"`
	TrainTokens int64             `json:"train_tokens"`
	ValTokens   int64             `json:"val_tokens"`
	TrainDocs   int64             `json:"train_docs"`
	ValDocs     int64             `json:"val_docs"`
	SHA256      map[string]string `json:"sha256"` // file name -> hex digest
	Created     string            `json:"created"`
}

// ReadMeta checks that a profile's data is prepared and returns its Meta. The
// error says which prepare command fixes the problem.
func ReadMeta(home string, p Profile) (*Meta, error) {
	dir := DataDir(home, p)
	fix := fmt.Sprintf("run \"autoresearch prepare --profile %s\"", p.Name)
	raw, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("data not prepared for profile %s in %s: %s", p.Name, dir, fix)
	}
	if err != nil {
		return nil, fmt.Errorf("reading prepared data for profile %s: %w", p.Name, err)
	}
	var m Meta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("prepared data for profile %s is damaged (%s: %v): %s", p.Name, MetaFile, err, fix)
	}
	if m.Profile != p.Name || m.VocabSize != p.VocabSize {
		return nil, fmt.Errorf("prepared data in %s is for profile %s with vocab %d, not %s with vocab %d: %s",
			dir, m.Profile, m.VocabSize, p.Name, p.VocabSize, fix)
	}
	for _, name := range []string{TokenizerFile, TrainFile, ValFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("prepared data for profile %s lacks %s: %s", p.Name, name, fix)
		}
	}
	return &m, nil
}
