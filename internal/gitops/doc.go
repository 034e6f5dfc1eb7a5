// Package gitops keeps a research run's history in git, with go-git and no git
// binary. Its terms:
//
//   - the user's repository: the checkout a run starts from. Its working tree,
//     index and current branch are never modified; it only receives the run's
//     branch and, where its ignore rules miss it, an exclude line for the run
//     workspace.
//   - the run's worktree: a private clone of the user's HEAD commit, on a new
//     branch autoresearch/<tag>. Experiments edit, commit and reset here.
//   - the base commit: the user's HEAD when the run began. Every path except
//     the editable ones must stay byte-identical to it.
//   - the tip: the branch's current commit. After each experiment it is the
//     last kept commit again.
//   - the guard: the check, before anything is built, that only editable paths
//     differ from the tip and that the tip differs from the base only in them.
//   - push back: copying the branch's new objects into the user's repository
//     and moving its branch autoresearch/<tag> there (a fast-forward).
//
// The clone is shallow (the base commit without its history) so setup costs
// the size of one tree, not of the whole history.
package gitops
