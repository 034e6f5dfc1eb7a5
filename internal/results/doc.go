// Package results reads and writes results.tsv, the one file a user reads in
// the morning. Its format is exactly the original autoresearch's: a header line
// and one tab-separated row per experiment with five columns
//
//	commit	val_bpb	memory_gb	status	description
//
// where commit is a 7-character short hash, the metric is printed with %.6f,
// memory in GB with %.1f, status is keep, discard or crash, and the description
// holds no tabs or newlines. Rows are appended and flushed one at a time, so a
// crash of the writer never loses or half-writes a finished row.
//
// The second column is named after the run's metric (val_bpb for the GPT task).
package results
