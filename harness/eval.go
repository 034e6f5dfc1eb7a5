package harness

import (
	"fmt"
	"math"
)

// Scorer is what the training program implements for evaluation.
type Scorer interface {
	// TokenLosses returns the per-token cross-entropy in nats for a B×T
	// batch, row-major.
	TokenLosses(inputs, targets []int32, B, T int) ([]float32, error)
}

// EvaluateBPB is the fixed metric, bits per byte of the validation split:
// the sum of per-token losses (nats) over targets whose text is at least one
// byte long, divided by ln 2 times those targets' total bytes. Special tokens
// (0 bytes) count in neither sum, so the figure does not depend on the
// vocabulary. It scores the first EvalTokens / (batchSize × MaxSeqLen) batches
// of the validation loader at the profile's MaxSeqLen, so every run of a
// profile sees the same tokens.
//
// DO NOT CHANGE: results are comparable only while this stays as it is.
func (e *Env) EvaluateBPB(s Scorer, batchSize int) (float64, error) {
	T := e.Profile.MaxSeqLen
	if batchSize <= 0 {
		return 0, fmt.Errorf("evaluation batch size %d: must be positive", batchSize)
	}
	steps := e.Profile.EvalTokens / (batchSize * T)
	if steps == 0 {
		return 0, fmt.Errorf("evaluation batch size %d × MAX_SEQ_LEN %d is more than EVAL_TOKENS %d: use a batch size of at most %d",
			batchSize, T, e.Profile.EvalTokens, e.Profile.EvalTokens/T)
	}
	val, err := e.ValLoader(batchSize, T)
	if err != nil {
		return 0, err
	}
	defer val.Close()
	tokenBytes := e.Tokenizer.TokenBytes()
	var nats float64
	var nbytes int64
	for step := range steps {
		b := val.Next()
		losses, err := s.TokenLosses(b.Inputs, b.Targets, b.B, b.T)
		if err != nil {
			return 0, fmt.Errorf("evaluation batch %d: %w", step, err)
		}
		if len(losses) != len(b.Targets) {
			return 0, fmt.Errorf("evaluation batch %d: the scorer returned %d losses for %d×%d targets", step, len(losses), b.B, b.T)
		}
		for i, y := range b.Targets {
			n := tokenBytes[y]
			if n == 0 {
				continue
			}
			l := float64(losses[i])
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return 0, fmt.Errorf("evaluation batch %d: loss at position %d is %v", step, i, l)
			}
			nats += l
			nbytes += int64(n)
		}
	}
	if nbytes == 0 {
		return 0, fmt.Errorf("the validation tokens hold no text bytes: run \"autoresearch prepare --profile %s\" again", e.Profile.Name)
	}
	return nats / (math.Ln2 * float64(nbytes)), nil
}
