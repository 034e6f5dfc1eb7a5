// Package harness is the locked part of every experiment, what the original's
// prepare.py is: the profiles (fixed constants), the BPE tokenizer, the
// packing data loader, the fixed metric EvaluateBPB and the summary a run
// prints. The research agent reads it but never changes it; the experiment
// loop verifies it is byte-identical before every build. Making the data is
// the job of the subpackage prepare, which training programs never import.
//
// A training program learns everything from environment variables (EnvProfile,
// EnvHome, EnvDevice, EnvResult): Open reads them, checks the prepared data and
// loads the tokenizer; the program prints its parameter table with
// PrintParameters, trains on TrainLoader's batches, scores itself with
// EvaluateBPB and reports through Summary.Report.
//
// Terms:
//
//   - profile: the constants results are comparable under (MAX_SEQ_LEN,
//     VOCAB_SIZE, TIME_BUDGET, EVAL_TOKENS); smoke, cpu or gpu.
//   - chunk: a piece of text matched by SplitPattern. BPE never merges across
//     chunks, so a tokenizer is learned from chunk counts alone.
//   - merge: a learned pair of ids that becomes a new id. Ids 0..255 are the
//     bytes, 256.. the merges in the order learned, then the special tokens.
//   - document: one record of a token file, BOS first; at most MAX_SEQ_LEN + 1
//     ids for every dataset but climbmix, whose documents are kept whole.
//   - packing: filling each row of T+1 ids with whole documents, best fit
//     first, cropping one only when none fits (the original's loader).
//   - epoch: one pass of a loader over its token file, counted from 1.
//   - bpb: bits per byte of the validation text, the fixed metric.
package harness
