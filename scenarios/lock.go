package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// LockDir holds one lock file per running lab prefix.
const LockDir = "/run/icmpgw"

var validPrefix = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)

// CheckPrefix reports whether prefix can start namespace names: 1 to 32
// letters, digits, '.', '_' or '-', starting with a letter or digit.
func CheckPrefix(prefix string) error {
	if !validPrefix.MatchString(prefix) {
		return fmt.Errorf("prefix %q: want 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. icmpgw- or lab2-)", prefix)
	}
	return nil
}

// ErrRunning says a lab with the prefix is running in another icmpgw.
var ErrRunning = errors.New("a lab with this prefix is running")

// lockPrefix takes the lock that says "a lab with this prefix is running
// in this process", held until release or exit (the kernel drops it when
// the process dies, even by SIGKILL). Only the holder of the lock creates
// or deletes the prefix's namespaces, so two icmpgw processes never take
// each other's.
func lockPrefix(prefix string) (release func(), err error) {
	if err := CheckPrefix(prefix); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(LockDir, 0o700); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	path := filepath.Join(LockDir, prefix+"lock")
	for range 3 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			pid, _ := os.ReadFile(path)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				holder := strings.TrimSpace(string(pid))
				if holder == "" {
					holder = "starting"
				}
				return nil, fmt.Errorf("prefix %s: %w (pid %s); stop it first, or pick another --prefix", prefix, ErrRunning, holder)
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// The holder before us removes the file as it lets go: make sure
		// ours is still the one at path, or try again.
		var held, named syscall.Stat_t
		if syscall.Fstat(int(f.Fd()), &held) != nil || syscall.Stat(path, &named) != nil || held.Ino != named.Ino {
			f.Close()
			continue
		}
		f.Truncate(0)
		f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
		return sync.OnceFunc(func() {
			os.Remove(path)
			f.Close()
		}), nil
	}
	return nil, fmt.Errorf("lock %s: it keeps changing under us", path)
}

// labState is what a lab has created, kept in LockDir/PREFIXstate while
// the lab runs so that `icmpgw down` removes exactly that after the
// icmpgw that built it was killed. Build writes it before it creates
// anything and again before each namespace it creates; teardown removes
// it once everything listed is gone. Only the holder of the prefix's lock
// writes or removes it.
type labState struct {
	Pid        int      `json:"pid"`
	Scenario   string   `json:"scenario"`
	Namespaces []string `json:"namespaces"` // created, or about to be
}

// statePath is where prefix's lab keeps its labState.
func statePath(prefix string) string { return filepath.Join(LockDir, prefix+"state") }

// writeState replaces prefix's state file with s, atomically: a reader
// (or a SIGKILL) sees the old file or the new one, never half of one.
func writeState(prefix string, s labState) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	path := statePath(prefix)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// readState reads prefix's state file; ok is false if there is none.
// Names that do not start with prefix are an error: a lab only ever
// creates namespaces under its own prefix.
func readState(prefix string) (s labState, ok bool, err error) {
	b, err := os.ReadFile(statePath(prefix))
	if errors.Is(err, fs.ErrNotExist) {
		return labState{}, false, nil
	}
	if err != nil {
		return labState{}, false, fmt.Errorf("state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return labState{}, false, fmt.Errorf("state %s: %w", statePath(prefix), err)
	}
	for _, ns := range s.Namespaces {
		if !strings.HasPrefix(ns, prefix) || len(ns) == len(prefix) {
			return labState{}, false, fmt.Errorf("state %s: namespace %q: want a name starting with %q", statePath(prefix), ns, prefix)
		}
	}
	return s, true, nil
}

// liveOwners maps each namespace that a running lab other than prefix's
// has created to that lab's prefix, from the state files whose lock is
// held, so that `down` never deletes another lab's namespace whose name
// happens to fit (prefix "lab-" with host "c-x" and prefix "lab-c-" with
// host "x" both make "lab-c-x").
func liveOwners(prefix string) map[string]string {
	owners := map[string]string{}
	states, _ := filepath.Glob(filepath.Join(LockDir, "*state"))
	for _, path := range states {
		other := strings.TrimSuffix(filepath.Base(path), "state")
		if other == prefix || !held(filepath.Join(LockDir, other+"lock")) {
			continue
		}
		if st, ok, err := readState(other); err == nil && ok {
			for _, ns := range st.Namespaces {
				owners[ns] = other
			}
		}
	}
	return owners
}

// held reports whether a running icmpgw holds the lock file at path.
func held(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	return errors.Is(err, syscall.EWOULDBLOCK)
}
