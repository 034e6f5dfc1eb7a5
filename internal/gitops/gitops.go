package gitops

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// The identity of the run's commits: they are the tool's, not the user's.
const (
	authorName  = "autoresearch"
	authorEmail = "autoresearch@localhost"
)

// ErrNotRepository is wrapped when a folder is in no git repository.
var ErrNotRepository = errors.New("not inside a git repository")

// ErrNoChange is returned by Commit when the worktree equals its parent.
var ErrNoChange = errors.New("nothing changed")

// Repo is a run's worktree: a clone on the run's branch.
type Repo struct {
	dir  string
	repo *git.Repository
	wt   *git.Worktree
	// Now stamps commits; tests fix it so that hashes are reproducible.
	Now func() time.Time
}

// openUser opens the git repository that holds dir (dir may be below its root,
// or a linked worktree).
func openUser(dir string) (*git.Repository, error) {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		// "." says nothing in a message: name the folder.
		if abs, aerr := filepath.Abs(dir); aerr == nil {
			dir = abs
		}
		return nil, fmt.Errorf("%s is %w: run in your project's checkout or pass --repo", dir, ErrNotRepository)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the git repository at %s: %w", dir, err)
	}
	return r, nil
}

// Root returns the top folder of the working tree of the repository holding
// dir: the one way the project finds a repository's root.
func Root(dir string) (string, error) {
	r, err := openUser(dir)
	if err != nil {
		return "", err
	}
	wt, err := r.Worktree()
	if err != nil {
		return "", fmt.Errorf("%s: %w (a bare repository cannot hold a run)", dir, err)
	}
	return wt.Filesystem.Root(), nil
}

// UserHead returns the full hash of HEAD in the repository holding dir.
func UserHead(dir string) (string, error) {
	r, err := openUser(dir)
	if err != nil {
		return "", err
	}
	h, err := r.Head()
	if err != nil {
		return "", fmt.Errorf("%s has no commit to start from (%v): commit your project first", dir, err)
	}
	return h.Hash().String(), nil
}

// BranchExists reports whether the repository holding dir has the branch.
func BranchExists(dir, branch string) (bool, error) {
	r, err := openUser(dir)
	if err != nil {
		return false, err
	}
	_, err = r.Reference(plumbing.NewBranchReferenceName(branch), false)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return false, nil
	}
	return err == nil, err
}

// FileAtHead returns the content of path (slash-separated) in the HEAD commit
// of the repository holding dir.
func FileAtHead(dir, path string) ([]byte, error) {
	r, err := openUser(dir)
	if err != nil {
		return nil, err
	}
	h, err := r.Head()
	if err != nil {
		return nil, err
	}
	c, err := r.CommitObject(h.Hash())
	if err != nil {
		return nil, err
	}
	f, err := c.File(path)
	if err != nil {
		return nil, fmt.Errorf("%s at HEAD: %w", path, err)
	}
	s, err := f.Contents()
	return []byte(s), err
}

// FileAt returns the content of path (slash-separated) in commit, or nil
// when the commit has no such file.
func (r *Repo) FileAt(commit, path string) ([]byte, error) {
	c, err := r.repo.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", short(commit), err)
	}
	f, err := c.File(path)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", path, short(commit), err)
	}
	s, err := f.Contents()
	return []byte(s), err
}

// Clone makes dest a clone of the HEAD commit of the repository holding
// userDir, checked out on a new branch. The user's repository is only read.
// The clone is shallow: it holds the HEAD commit and its tree, not the history.
func Clone(userDir, dest, branch string) (*Repo, error) {
	src, err := openUser(userDir)
	if err != nil {
		return nil, err
	}
	head, err := src.Head()
	if err != nil {
		return nil, fmt.Errorf("%s has no commit to start from (%v): commit your project first", userDir, err)
	}
	ref := plumbing.NewBranchReferenceName(branch)
	if _, err := src.Reference(ref, false); err == nil {
		return nil, fmt.Errorf("branch %s already exists in %s: choose another tag", branch, userDir)
	}
	if _, err := os.Stat(dest); err == nil {
		return nil, fmt.Errorf("%s already exists: refusing to clone over it", dest)
	}
	dst, err := git.PlainInit(dest, false)
	if err != nil {
		return nil, fmt.Errorf("creating the run's worktree %s: %w", dest, err)
	}
	if err := copyCommit(src.Storer, dst.Storer, head.Hash()); err != nil {
		return nil, fmt.Errorf("copying HEAD %s into the run's worktree: %w", head.Hash(), err)
	}
	if err := dst.Storer.SetShallow([]plumbing.Hash{head.Hash()}); err != nil {
		return nil, err
	}
	if err := dst.Storer.SetReference(plumbing.NewHashReference(ref, head.Hash())); err != nil {
		return nil, err
	}
	if err := dst.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, ref)); err != nil {
		return nil, err
	}
	root, err := Root(userDir)
	if err != nil {
		return nil, err
	}
	// The user's repository as origin, so plain git commands in the worktree
	// know where the run came from.
	if _, err := dst.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{root}}); err != nil {
		return nil, err
	}
	r, err := wrap(dest, dst)
	if err != nil {
		return nil, err
	}
	if err := r.wt.Reset(&git.ResetOptions{Commit: head.Hash(), Mode: git.HardReset}); err != nil {
		return nil, fmt.Errorf("checking out %s: %w", head.Hash(), err)
	}
	return r, nil
}

// Open opens a run's worktree made by Clone.
func Open(dir string) (*Repo, error) {
	r, err := git.PlainOpen(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the run's worktree %s: %w", dir, err)
	}
	return wrap(dir, r)
}

func wrap(dir string, r *git.Repository) (*Repo, error) {
	wt, err := r.Worktree()
	if err != nil {
		return nil, err
	}
	return &Repo{dir: dir, repo: r, wt: wt, Now: time.Now}, nil
}

// Dir is the worktree's folder.
func (r *Repo) Dir() string { return r.dir }

// Head returns the full hash of the branch tip.
func (r *Repo) Head() (string, error) {
	h, err := r.repo.Head()
	if err != nil {
		return "", err
	}
	return h.Hash().String(), nil
}

// Branch returns the short name of the checked-out branch.
func (r *Repo) Branch() (string, error) {
	h, err := r.repo.Head()
	if err != nil {
		return "", err
	}
	return h.Name().Short(), nil
}

// Commit records the current content of paths in a new commit whose parent is
// parent, and moves the branch to it. Committing again on the same parent
// replaces a failed attempt instead of stacking on it. It returns ErrNoChange
// when the tree would equal the parent's.
func (r *Repo) Commit(msg, parent string, paths []string) (string, error) {
	for _, p := range paths {
		if _, err := r.wt.Add(p); err != nil {
			return "", fmt.Errorf("staging %s: %w", p, err)
		}
	}
	sig := &object.Signature{Name: authorName, Email: authorEmail, When: r.Now()}
	h, err := r.wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig, Parents: []plumbing.Hash{plumbing.NewHash(parent)}})
	if errors.Is(err, git.ErrEmptyCommit) {
		// Leave the index as the parent has it.
		if rerr := r.wt.Reset(&git.ResetOptions{Commit: plumbing.NewHash(parent), Mode: git.MixedReset}); rerr != nil {
			return "", rerr
		}
		return "", ErrNoChange
	}
	if err != nil {
		return "", fmt.Errorf("committing: %w", err)
	}
	return h.String(), nil
}

// ResetHard moves the branch to commit and makes the index and the working
// tree equal to it, removing untracked files (git reset --hard; git clean -fd).
func (r *Repo) ResetHard(commit string) error {
	if err := r.wt.Reset(&git.ResetOptions{Commit: plumbing.NewHash(commit), Mode: git.HardReset}); err != nil {
		return fmt.Errorf("resetting the worktree to %s: %w", short(commit), err)
	}
	if err := r.wt.Clean(&git.CleanOptions{Dir: true}); err != nil {
		return fmt.Errorf("removing untracked files: %w", err)
	}
	return nil
}

// GuardError lists the paths that changed outside the editable ones.
type GuardError struct {
	Paths []string
}

func (e *GuardError) Error() string {
	return "changed outside the editable paths: " + strings.Join(e.Paths, ", ")
}

// Guard checks that only editable paths (slash-separated, relative to the
// worktree) differ between the working tree and the tip, and that the tip
// differs from base only in editable paths. A violation is a *GuardError.
func (r *Repo) Guard(base string, editable []string) error {
	allowed := make(map[string]bool, len(editable))
	for _, p := range editable {
		allowed[p] = true
	}
	bad := map[string]bool{}
	head, err := r.repo.Head()
	if err != nil {
		return err
	}
	if head.Hash().String() != base {
		changes, err := r.treeChanges(base, head.Hash().String())
		if err != nil {
			return err
		}
		for _, ch := range changes {
			for _, name := range []string{ch.From.Name, ch.To.Name} {
				if name != "" && !allowed[name] {
					bad[name] = true
				}
			}
		}
	}
	// go-git reads .gitignore files but not info/exclude, where the links
	// of shared paths are excluded: hand those patterns over.
	if r.wt.Excludes, err = infoExcludes(r.dir); err != nil {
		return err
	}
	st, err := r.wt.Status()
	if err != nil {
		return fmt.Errorf("reading the worktree status: %w", err)
	}
	for path, s := range st {
		if s.Worktree == git.Unmodified && s.Staging == git.Unmodified {
			continue
		}
		if !allowed[filepath.ToSlash(path)] {
			bad[filepath.ToSlash(path)] = true
		}
	}
	if len(bad) == 0 {
		return nil
	}
	e := &GuardError{}
	for p := range bad {
		e.Paths = append(e.Paths, p)
	}
	sort.Strings(e.Paths)
	return e
}

func (r *Repo) treeChanges(from, to string) (object.Changes, error) {
	a, err := r.repo.CommitObject(plumbing.NewHash(from))
	if err != nil {
		return nil, err
	}
	b, err := r.repo.CommitObject(plumbing.NewHash(to))
	if err != nil {
		return nil, err
	}
	if a.TreeHash == b.TreeHash {
		return nil, nil
	}
	ta, err := a.Tree()
	if err != nil {
		return nil, err
	}
	tb, err := b.Tree()
	if err != nil {
		return nil, err
	}
	return object.DiffTree(ta, tb)
}

// DiffStat sums a change between two commits.
type DiffStat struct {
	Files     int `json:"files"`
	Additions int `json:"additions"`
	Deletions int `json:"deletions"`
}

// Diff returns the line counts of the change from one commit to another.
func (r *Repo) Diff(from, to string) (DiffStat, error) {
	var d DiffStat
	changes, err := r.treeChanges(from, to)
	if err != nil || len(changes) == 0 {
		return d, err
	}
	p, err := changes.Patch()
	if err != nil {
		return d, err
	}
	for _, s := range p.Stats() {
		d.Files++
		d.Additions += s.Addition
		d.Deletions += s.Deletion
	}
	return d, nil
}

// FindKept returns the full hash of the newest commit on the tip's
// first-parent chain, down to and including base, whose hash starts with
// prefix (a short hash as results.tsv records it).
func (r *Repo) FindKept(prefix, base string) (string, error) {
	h, err := r.repo.Head()
	if err != nil {
		return "", err
	}
	cur := h.Hash()
	for {
		if strings.HasPrefix(cur.String(), prefix) {
			return cur.String(), nil
		}
		if cur.String() == base {
			return "", fmt.Errorf("commit %s is not on the run's branch between its base %s and tip %s", prefix, short(base), short(h.Hash().String()))
		}
		c, err := r.repo.CommitObject(cur)
		if err != nil {
			return "", err
		}
		if len(c.ParentHashes) == 0 {
			return "", fmt.Errorf("commit %s not found on the run's branch", prefix)
		}
		cur = c.ParentHashes[0]
	}
}

// PushBack copies the branch tip's new commits into the repository holding
// userDir and fast-forwards its branch of the same name there. The user's
// working tree, index and HEAD are untouched; a branch that moved outside the
// run, or that is checked out there, is left alone with an error.
func (r *Repo) PushBack(userDir string) error {
	head, err := r.repo.Head()
	if err != nil {
		return err
	}
	dst, err := openUser(userDir)
	if err != nil {
		return err
	}
	ref := head.Name()
	if uh, err := dst.Storer.Reference(plumbing.HEAD); err == nil && uh.Type() == plumbing.SymbolicReference && uh.Target() == ref {
		return fmt.Errorf("%s is checked out in %s: switch to another branch there to receive the kept commits", ref.Short(), userDir)
	}
	old, err := dst.Reference(ref, false)
	if err != nil && !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return err
	}
	if old != nil && old.Hash() == head.Hash() {
		return nil
	}
	// The commits the user's repository lacks, newest first.
	var missing []plumbing.Hash
	cur := head.Hash()
	for dst.Storer.HasEncodedObject(cur) != nil {
		missing = append(missing, cur)
		c, err := r.repo.CommitObject(cur)
		if err != nil {
			return err
		}
		if len(c.ParentHashes) == 0 {
			return fmt.Errorf("the run's branch shares no commit with %s", userDir)
		}
		cur = c.ParentHashes[0]
	}
	if old != nil {
		if ok, err := r.isAncestor(old.Hash(), head.Hash()); err != nil || !ok {
			return fmt.Errorf("branch %s in %s moved to %s outside this run: not overwriting it", ref.Short(), userDir, short(old.Hash().String()))
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := copyCommit(r.repo.Storer, dst.Storer, missing[i]); err != nil {
			return fmt.Errorf("copying %s into %s: %w", short(missing[i].String()), userDir, err)
		}
	}
	if err := dst.Storer.CheckAndSetReference(plumbing.NewHashReference(ref, head.Hash()), old); err != nil {
		return fmt.Errorf("moving %s in %s: %w", ref.Short(), userDir, err)
	}
	return nil
}

// isAncestor walks the first-parent chain from tip (within the run's shallow
// history) looking for h.
func (r *Repo) isAncestor(h, tip plumbing.Hash) (bool, error) {
	cur := tip
	for {
		if cur == h {
			return true, nil
		}
		c, err := r.repo.CommitObject(cur)
		if err != nil {
			return false, err
		}
		if len(c.ParentHashes) == 0 {
			return false, nil
		}
		if r.repo.Storer.HasEncodedObject(c.ParentHashes[0]) != nil {
			return false, nil // the shallow boundary
		}
		cur = c.ParentHashes[0]
	}
}

// copyCommit copies a commit and its tree (not its parents) from src to dst.
// Children are written before their parents' objects, so a tree present in
// dst is always complete and an interrupted copy resumes correctly.
func copyCommit(src, dst storer.EncodedObjectStorer, h plumbing.Hash) error {
	if dst.HasEncodedObject(h) == nil {
		return nil
	}
	obj, err := src.EncodedObject(plumbing.CommitObject, h)
	if err != nil {
		return err
	}
	c, err := object.DecodeCommit(src, obj)
	if err != nil {
		return err
	}
	if err := copyTree(src, dst, c.TreeHash); err != nil {
		return err
	}
	_, err = dst.SetEncodedObject(obj)
	return err
}

func copyTree(src, dst storer.EncodedObjectStorer, h plumbing.Hash) error {
	if dst.HasEncodedObject(h) == nil {
		return nil
	}
	obj, err := src.EncodedObject(plumbing.TreeObject, h)
	if err != nil {
		return err
	}
	t, err := object.DecodeTree(src, obj)
	if err != nil {
		return err
	}
	for _, e := range t.Entries {
		switch e.Mode {
		case filemode.Submodule:
			// A gitlink names a commit of another repository.
		case filemode.Dir:
			if err := copyTree(src, dst, e.Hash); err != nil {
				return err
			}
		default:
			if dst.HasEncodedObject(e.Hash) == nil {
				continue
			}
			b, err := src.EncodedObject(plumbing.BlobObject, e.Hash)
			if err != nil {
				return err
			}
			if _, err := dst.SetEncodedObject(b); err != nil {
				return err
			}
		}
	}
	_, err = dst.SetEncodedObject(obj)
	return err
}

// EnsureExcluded makes git ignore the folder name (relative to the root of
// the repository holding dir): when neither the root .gitignore nor
// info/exclude covers it, a line is added to info/exclude, which is local to
// the clone and never committed. It reports whether it added the line.
func EnsureExcluded(dir, name string) (bool, error) { return exclude(dir, name, true) }

// EnsureExcludedFile is EnsureExcluded for a file or a symbolic link, which
// a folder pattern (a trailing slash) does not cover.
func EnsureExcludedFile(dir, name string) (bool, error) { return exclude(dir, name, false) }

func exclude(dir, name string, isDir bool) (bool, error) {
	root, err := Root(dir)
	if err != nil {
		return false, err
	}
	common, err := commonDir(root)
	if err != nil {
		return false, err
	}
	exclude := filepath.Join(common, "info", "exclude")
	var ps []gitignore.Pattern
	for _, f := range []string{filepath.Join(root, ".gitignore"), exclude} {
		more, err := readPatterns(f)
		if err != nil {
			return false, err
		}
		ps = append(ps, more...)
	}
	if gitignore.NewMatcher(ps).Match([]string{name}, isDir) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(exclude), 0o755); err != nil {
		return false, err
	}
	f, err := os.OpenFile(exclude, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return false, err
	}
	prefix := ""
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		b, _ := os.ReadFile(exclude)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			prefix = "\n"
		}
	}
	line := "/" + name
	if isDir {
		line += "/"
	}
	if _, err := fmt.Fprintf(f, "%s# added by autoresearch\n%s\n", prefix, line); err != nil {
		f.Close()
		return false, err
	}
	return true, f.Close()
}

// infoExcludes reads the patterns of info/exclude of the repository whose
// top folder is root.
func infoExcludes(root string) ([]gitignore.Pattern, error) {
	common, err := commonDir(root)
	if err != nil {
		return nil, err
	}
	return readPatterns(filepath.Join(common, "info", "exclude"))
}

// readPatterns reads a gitignore-style file; a missing file has no patterns.
func readPatterns(path string) ([]gitignore.Pattern, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var ps []gitignore.Pattern
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if line != "" && !strings.HasPrefix(line, "#") {
			ps = append(ps, gitignore.ParsePattern(line, nil))
		}
	}
	return ps, nil
}

// commonDir finds the git folder holding info/exclude: .git itself, or for a
// linked worktree the main repository's folder that its commondir names.
func commonDir(root string) (string, error) {
	p := filepath.Join(root, ".git")
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return p, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	gitdir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
	if !ok {
		return "", fmt.Errorf("%s: not a gitdir file", p)
	}
	gitdir = strings.TrimSpace(gitdir)
	if !filepath.IsAbs(gitdir) {
		gitdir = filepath.Join(root, gitdir)
	}
	if c, err := os.ReadFile(filepath.Join(gitdir, "commondir")); err == nil {
		cd := strings.TrimSpace(string(c))
		if !filepath.IsAbs(cd) {
			cd = filepath.Join(gitdir, cd)
		}
		return filepath.Clean(cd), nil
	}
	return gitdir, nil
}

func short(h string) string {
	if len(h) > 7 {
		return h[:7]
	}
	return h
}
