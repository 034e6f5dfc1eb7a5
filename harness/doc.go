// Package harness is the locked part of every experiment, what the original's
// prepare.py is: the profiles (fixed constants), data preparation, the BPE
// tokenizer, the packing data loader, the fixed metric EvaluateBPB and the
// summary a run prints. The research agent reads it but never changes it; the
// experiment loop verifies it is byte-identical before every build.
//
// A training program learns everything from environment variables (EnvProfile,
// EnvHome, EnvDevice, EnvResult) and reports through Summary.Report.
package harness
