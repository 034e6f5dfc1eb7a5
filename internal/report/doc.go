// Package report turns a run's results.tsv into what a user reads in the
// morning: an aligned table (Table, Follow), a progress chart (Chart,
// WritePNG), a Markdown summary (WriteMarkdown), and one self-contained HTML
// page of the whole run (LoadPage, WriteHTML, WatchHTML) that adds what the
// run folder holds beside results.tsv: run.json (ReadRunInfo), each
// experiment's record in experiments.jsonl and its diff from the run's clone.
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
// The page's progress chart is drawn from the same data as the PNG's
// (progressData): the y-range, the points, the running best and the band of
// the noise threshold under it.
//
// A run's audit (audit.json, package audit) is read with the analysis and
// shown after the results table, as a section of the Markdown summary and of
// the page, with a note when the run kept more after it.
//
// Usage reads experiments.jsonl leniently for the wall time and the LLM
// tokens of a run; see ReadUsage for the fields it looks at.
package report
