package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// Env is what a training program gets from the harness: the profile's
// constants, the prepared data and its tokenizer.
type Env struct {
	Profile   Profile
	Home      string
	Device    string // "cpu" (default) or "cuda"
	Meta      *Meta
	Tokenizer *Tokenizer
}

// Devices a training program can be asked to use.
const (
	DeviceCPU  = "cpu"
	DeviceCUDA = "cuda"
)

// Open reads AUTORESEARCH_PROFILE, AUTORESEARCH_HOME and AUTORESEARCH_DEVICE,
// checks that the profile's data is prepared and loads the tokenizer.
func Open() (*Env, error) {
	p, err := CurrentProfile()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvProfile, err)
	}
	device := os.Getenv(EnvDevice)
	if device == "" {
		device = DeviceCPU
	}
	return OpenAt(Home(), p, device)
}

// OpenAt is Open with the profile, data root and device given.
func OpenAt(home string, p Profile, device string) (*Env, error) {
	if device != DeviceCPU && device != DeviceCUDA {
		return nil, fmt.Errorf("unknown device %q: use %s or %s", device, DeviceCPU, DeviceCUDA)
	}
	meta, err := ReadMeta(home, p)
	if err != nil {
		return nil, err
	}
	dir := DataDir(home, p)
	fix := fmt.Sprintf("run \"autoresearch prepare --profile %s\" again", p.Name)
	raw, err := os.ReadFile(filepath.Join(dir, TokenizerFile))
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(raw); meta.SHA256[TokenizerFile] != hex.EncodeToString(sum[:]) {
		return nil, fmt.Errorf("%s in %s does not match its checksum in %s: %s", TokenizerFile, dir, MetaFile, fix)
	}
	tok, err := LoadTokenizer(filepath.Join(dir, TokenizerFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, fix)
	}
	if tok.VocabSize() != p.VocabSize {
		return nil, fmt.Errorf("the tokenizer in %s has %d ids, profile %s needs %d: %s", dir, tok.VocabSize(), p.Name, p.VocabSize, fix)
	}
	// Token files are too large to hash at every start; their sizes catch
	// truncation, and Meta (written last) vouches for the rest.
	for name, tokens := range map[string]int64{TrainFile: meta.TrainTokens, ValFile: meta.ValTokens} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if st.Size() != 2*tokens {
			return nil, fmt.Errorf("%s in %s has %d bytes, %s says %d tokens: %s", name, dir, st.Size(), MetaFile, tokens, fix)
		}
	}
	return &Env{Profile: p, Home: home, Device: device, Meta: meta, Tokenizer: tok}, nil
}

// Prepared reports whether the profile's data under home is complete and
// usable: the single check, shared with Open.
func Prepared(home string, p Profile) bool {
	_, err := ReadMeta(home, p)
	return err == nil
}

// TrainLoader returns a loader over the training tokens for B×T batches.
func (e *Env) TrainLoader(B, T int) (*Loader, error) {
	return OpenLoader(filepath.Join(DataDir(e.Home, e.Profile), TrainFile), e.Tokenizer.BOS(), B, T)
}

// ValLoader returns a loader over the validation tokens for B×T batches.
func (e *Env) ValLoader(B, T int) (*Loader, error) {
	return OpenLoader(filepath.Join(DataDir(e.Home, e.Profile), ValFile), e.Tokenizer.BOS(), B, T)
}
