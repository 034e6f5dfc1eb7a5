// Package runs finds the research runs of a repository. A run is the folder
// .autoresearch/<tag>/ at the root of the repository (the folder holding
// .git); its results.tsv lists the experiments and its experiments.jsonl, when
// present, records everything else about them. The latest run is the one whose
// results.tsv was modified most recently. A run's own clone of the repository,
// .autoresearch/<tag>/worktree, counts as being inside that run.
package runs
