// Package report turns a run's results.tsv into what a user reads in the
// morning: an aligned table (Table, Follow), a progress chart (Chart,
// WritePNG) and a Markdown summary (WriteMarkdown).
//
// Terms, for a metric where lower is better (val_bpb); for one where higher
// is better (a Sharpe ratio), AnalyzeMetric mirrors them:
//
//   - measured: a row with a value above 0. Crashes record 0.000000, and so do
//     runs aborted before evaluation; such rows have no measurement. A
//     higher-is-better metric may be 0 or negative: only its crashes have
//     no measurement.
//   - baseline: the first kept row, the unmodified training program.
//   - running best: after each row, the lowest value among the kept rows so far.
//   - best: the row where the running best was reached; among rows with equal
//     values, the first.
//   - delta: a measured row's value minus the running best before it; negative
//     is an improvement. The baseline has none.
//   - keep rate: kept rows over kept plus discarded rows, as the original's
//     analysis counts it (crashes are left out).
//
// Usage reads experiments.jsonl leniently for the wall time and the LLM
// tokens of a run; see ReadUsage for the fields it looks at.
package report
