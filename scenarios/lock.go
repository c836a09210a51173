package scenarios

import (
	"errors"
	"fmt"
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
				return nil, fmt.Errorf("prefix %s: %w (pid %s); stop it first, or pick another --prefix", prefix, ErrRunning, strings.TrimSpace(string(pid)))
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
