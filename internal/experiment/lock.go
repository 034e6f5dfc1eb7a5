package experiment

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked is wrapped when another process holds the run.
var ErrLocked = errors.New("run is in use")

// lockedError is ErrLocked with the message the user reads.
type lockedError struct{ msg string }

func (e *lockedError) Error() string        { return e.msg }
func (e *lockedError) Is(target error) bool { return target == ErrLocked }

// lock is an exclusive flock on a file holding the owner's pid. The kernel
// drops it when its owner dies, however it dies, so a lock left by a dead
// process is simply taken.
type lock struct {
	f *os.File
	// stale is the pid a dead owner left in the file, 0 when none.
	stale int
}

func acquire(path, tag string) (*lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(b))
			return nil, &lockedError{fmt.Sprintf("run %s is already running in process %s: stop it first (kill -INT %s) or use another --tag", tag, pid, pid)}
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	l := &lock{f: f}
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if old, err := strconv.Atoi(strings.TrimSpace(string(b[:n]))); err == nil && old != os.Getpid() {
		l.stale = old
	}
	if err := f.Truncate(0); err != nil {
		l.release()
		return nil, err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// release empties the pid file and drops the lock.
func (l *lock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := l.f.Close()
	l.f = nil
	return err
}
