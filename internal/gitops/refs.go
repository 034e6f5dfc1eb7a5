package gitops

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// SetRef points the reference name (refs/...) at commit in the run's
// repository, so that the commit stays reachable after the branch moves
// past it or away from it: git gc keeps what a reference names.
func (r *Repo) SetRef(name, commit string) error {
	ref := plumbing.NewHashReference(plumbing.ReferenceName(name), plumbing.NewHash(commit))
	if err := r.repo.Storer.SetReference(ref); err != nil {
		return fmt.Errorf("keeping %s as %s: %w", short(commit), name, err)
	}
	return nil
}

// Ref returns the full hash the reference name points at.
func (r *Repo) Ref(name string) (string, error) {
	ref, err := r.repo.Reference(plumbing.ReferenceName(name), true)
	if err != nil {
		return "", fmt.Errorf("reference %s: %w", name, err)
	}
	return ref.Hash().String(), nil
}

// HasCommit reports whether the repository holds the commit.
func (r *Repo) HasCommit(commit string) bool {
	_, err := r.repo.CommitObject(plumbing.NewHash(commit))
	return err == nil
}

// Patch returns the change from one commit to another as a unified diff, as
// git diff prints it; "" when the trees are the same.
func (r *Repo) Patch(from, to string) (string, error) {
	changes, err := r.treeChanges(from, to)
	if err != nil || len(changes) == 0 {
		return "", err
	}
	p, err := changes.Patch()
	if err != nil {
		return "", err
	}
	return p.String(), nil
}
