package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// An output folder belongs to one run. ClaimOut takes it before anything
// else is done (so an unwritable folder is reported before any data is
// read): it writes OUT/.lock holding the process id and host name, refuses
// a folder locked by a live process, takes over the lock of one that is
// gone (same host, no such process), and refuses a folder that holds
// anything unless the run continues that folder's run (Claim.Resume) or
// may replace it (Claim.Overwrite: everything in it is removed first, old
// checkpoints included).

// LockFile is the name of the lock in an output folder.
const LockFile = ".lock"

// Claim says how a run may use a folder that is not empty.
type Claim struct {
	// Resume: the folder holds the run being continued.
	Resume bool
	// Overwrite: the folder's content is removed.
	Overwrite bool
}

// ErrNotEmpty is wrapped by ClaimOut's error for a folder that holds
// another run's files.
var ErrNotEmpty = errors.New("the folder is not empty")

// ErrLocked is wrapped by ClaimOut's error for a folder another live run
// holds.
var ErrLocked = errors.New("the folder is in use by another run")

// ClaimOut takes dir for a run and returns the function that gives it
// back (removing the lock). Errors name dir.
func ClaimOut(dir string, c Claim) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: cannot create the output folder: %w", dir, unwrapPath(err))
	}
	lock := filepath.Join(dir, LockFile)
	host, _ := os.Hostname()
	mine := fmt.Sprintf("%d %s\n", os.Getpid(), host)
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			_, werr := f.WriteString(mine)
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				os.Remove(lock)
				return nil, fmt.Errorf("%s: the output folder is not writable: %w", dir, unwrapPath(werr))
			}
			break
		}
		if !errors.Is(err, os.ErrExist) || attempt > 0 {
			return nil, fmt.Errorf("%s: the output folder is not writable: %w", dir, unwrapPath(err))
		}
		pid, owner, alive := lockOwner(lock, host)
		if alive {
			return nil, fmt.Errorf("%s: %w (pid %d on %s; if it is gone, remove %s)", dir, ErrLocked, pid, owner, lock)
		}
		if err := os.Remove(lock); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: stale lock: %w", dir, unwrapPath(err))
		}
	}
	release = func() {
		if js, err := os.ReadFile(lock); err == nil && string(js) == mine {
			os.Remove(lock)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		release()
		return nil, fmt.Errorf("%s: %w", dir, unwrapPath(err))
	}
	var names []string
	for _, e := range entries {
		if e.Name() != LockFile {
			names = append(names, e.Name())
		}
	}
	switch {
	case len(names) == 0 || c.Resume:
	case c.Overwrite:
		for _, n := range names {
			if err := removeDir(filepath.Join(dir, n)); err != nil {
				release()
				return nil, fmt.Errorf("%s: clearing the folder: %w", dir, unwrapPath(err))
			}
		}
	default:
		release()
		shown := names
		if len(shown) > 3 {
			shown = append(shown[:3:3], "...")
		}
		return nil, fmt.Errorf("%s: %w (%s)", dir, ErrNotEmpty, strings.Join(shown, ", "))
	}
	return release, nil
}

// lockOwner reads a lock file: the owner's pid and host, and whether that
// process may still run (a lock of another host is taken to be live; an
// unreadable one to be stale).
func lockOwner(lock, host string) (pid int, owner string, alive bool) {
	js, err := os.ReadFile(lock)
	if err != nil {
		return 0, "", false
	}
	fields := strings.Fields(string(js))
	if len(fields) != 2 {
		return 0, "", false
	}
	pid, err = strconv.Atoi(fields[0])
	if err != nil || pid <= 0 {
		return 0, "", false
	}
	owner = fields[1]
	if owner != host {
		return pid, owner, true
	}
	err = syscall.Kill(pid, 0)
	return pid, owner, err == nil || errors.Is(err, syscall.EPERM)
}

// unwrapPath drops the path an *os.PathError repeats, since the messages
// above name the folder already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
