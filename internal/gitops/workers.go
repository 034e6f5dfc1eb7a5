package gitops

import (
	"errors"
	"fmt"
	"os"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// CloneRun makes dest a clone of the run's worktree src for a worker: the
// same branch at src's tip, with the first-parent history src holds (down to
// the run's base). Commits travel between the two with Fetch.
func CloneRun(src *Repo, dest string) (*Repo, error) {
	if _, err := os.Stat(dest); err == nil {
		return nil, fmt.Errorf("%s already exists: refusing to clone over it", dest)
	}
	head, err := src.repo.Head()
	if err != nil {
		return nil, err
	}
	dst, err := git.PlainInit(dest, false)
	if err != nil {
		return nil, fmt.Errorf("creating the worker's clone %s: %w", dest, err)
	}
	r, err := wrap(dest, dst)
	if err != nil {
		return nil, err
	}
	if err := r.Fetch(src, head.Hash().String()); err != nil {
		return nil, err
	}
	if err := dst.Storer.SetReference(plumbing.NewHashReference(head.Name(), head.Hash())); err != nil {
		return nil, err
	}
	if err := dst.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, head.Name())); err != nil {
		return nil, err
	}
	if err := r.wt.Reset(&git.ResetOptions{Commit: head.Hash(), Mode: git.HardReset}); err != nil {
		return nil, fmt.Errorf("checking out %s: %w", short(head.Hash().String()), err)
	}
	return r, nil
}

// Fetch copies commit and the first-parent history that r lacks from src
// (commits and their trees), oldest first, so that r can reset to it, commit
// on it and diff against its ancestors. Where src's history ends (a shallow
// clone's boundary), r's ends too.
func (r *Repo) Fetch(src *Repo, commit string) error {
	var missing []plumbing.Hash
	cur := plumbing.NewHash(commit)
	boundary := false
	for r.repo.Storer.HasEncodedObject(cur) != nil {
		missing = append(missing, cur)
		c, err := src.repo.CommitObject(cur)
		if err != nil {
			return fmt.Errorf("commit %s: %w", short(cur.String()), err)
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		if src.repo.Storer.HasEncodedObject(c.ParentHashes[0]) != nil {
			boundary = true
			break
		}
		cur = c.ParentHashes[0]
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := copyCommit(src.repo.Storer, r.repo.Storer, missing[i]); err != nil {
			return fmt.Errorf("copying %s: %w", short(missing[i].String()), err)
		}
	}
	if boundary {
		old, err := r.repo.Storer.Shallow()
		if err != nil {
			return err
		}
		return r.repo.Storer.SetShallow(append(old, missing[len(missing)-1]))
	}
	return nil
}

// Adopt makes commit, made in src on a parent r has, r's tip: the branch
// moves to it and the working tree follows.
func (r *Repo) Adopt(src *Repo, commit string) error {
	if err := r.Fetch(src, commit); err != nil {
		return err
	}
	return r.ResetHard(commit)
}

// LookupFile returns the content of path (slash-separated) at commit; ok is
// false when the commit has no such file.
func (r *Repo) LookupFile(commit, path string) (content []byte, ok bool, err error) {
	c, err := r.repo.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		return nil, false, err
	}
	f, err := c.File(path)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	s, err := f.Contents()
	return []byte(s), true, err
}
