package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// keptCaps are the capabilities `icmpgw up` keeps once its lab is up
// (see dropCaps). What the running lab still does, and what the kernel
// asks of it for that:
//
//   - forward: read and write the TUN descriptors it holds. Nothing: the
//     kernel checks privileges when a TUN device is created, not when it
//     is read or written.
//   - apply changes from `icmpgw ctl` (routes, link state, impairments,
//     ICMP policy): these swap tables and flags inside this process and
//     touch no kernel object. Nothing; so not CAP_NET_ADMIN.
//   - notice a host namespace deleted under it (lstat /run/netns/NAME)
//     and close that host's TUN descriptor. Nothing.
//   - rewrite the state file, then remove it, the lock and the control
//     socket: they and /run/icmpgw (0700) are root's, and the process
//     stays uid 0, so owner permission does. Not CAP_DAC_OVERRIDE.
//   - serve metrics: the listener was bound during set-up. Not
//     CAP_NET_BIND_SERVICE, even for a port below 1024.
//   - tear down: closing a TUN descriptor deletes its link (no check);
//     deleting a namespace by name unmounts its bind mount
//     /run/netns/NAME, and umount2(2) needs CAP_SYS_ADMIN ("EPERM: the
//     caller does not have the required privileges"); unlinking the name
//     from /run/netns (root's, 0755) needs nothing more.
//
// So CAP_SYS_ADMIN alone, for tear-down: without it the namespaces would
// stay behind for `icmpgw down`. Tried: with nothing kept, all of the
// above works but that unmount, which fails with EPERM. `up` runs no
// scenario steps; `scenario run` and `demo` do, as root, and drop nothing.
var keptCaps = []cap.Value{cap.SYS_ADMIN}

// capState is a thread's capability state as /proc/PID/status shows it.
// Each set is a mask in which bit n is capability n (CAP_SYS_ADMIN is
// 21, 0x200000).
type capState struct {
	Inh, Prm, Eff, Bnd, Amb uint64
	NoNewPrivs              bool
}

// String shows s in the words of /proc/PID/status.
func (s capState) String() string {
	return fmt.Sprintf("CapInh %016x CapPrm %016x CapEff %016x CapBnd %016x CapAmb %016x NoNewPrivs %t",
		s.Inh, s.Prm, s.Eff, s.Bnd, s.Amb, s.NoNewPrivs)
}

// capMask is the mask of vals.
func capMask(vals []cap.Value) uint64 {
	var m uint64
	for _, v := range vals {
		m |= 1 << v
	}
	return m
}

// capValues lists the capabilities in mask.
func capValues(mask uint64) []cap.Value {
	var vals []cap.Value
	for v := cap.Value(0); v < 64; v++ {
		if mask&(1<<v) != 0 {
			vals = append(vals, v)
		}
	}
	return vals
}

// capNames names the capabilities in mask, as "cap_net_admin,cap_sys_admin",
// or "none".
func capNames(mask uint64) string {
	var names []string
	for _, v := range capValues(mask) {
		names = append(names, v.String())
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// dropTarget is the state in which dropping to keep leaves a process
// that was in state from: permitted and effective sets keep (less what it
// did not have), inheritable and ambient sets empty (it runs nothing),
// the bounding set keep (less what was not in it), no_new_privs set.
//
// Only a process with CAP_SETPCAP may drop from its bounding set
// (PR_CAPBSET_DROP); without it, as under systemd's
// CapabilityBoundingSet= without CAP_SETPCAP, the bounding set stays as it
// is. That costs nothing here: with no_new_privs set, a program it ran
// could not gain what the bounding set still holds, and capset(2) never
// raises a permitted capability.
func dropTarget(from capState, keep []cap.Value) capState {
	k := capMask(keep)
	to := capState{Prm: from.Prm & k, Eff: from.Prm & k, Bnd: from.Bnd & k, NoNewPrivs: true}
	if from.Prm&(1<<cap.SETPCAP) == 0 {
		to.Bnd = from.Bnd
	}
	return to
}

// dropCaps brings every thread of the process to dropTarget(keep),
// checks that every thread shows it, and returns it.
//
// Capabilities belong to threads, and the Go runtime runs goroutines on
// any of its threads, so each change must reach every thread at once.
// The cap package does that through psx, with or without cgo; Go's own
// syscall.AllThreadsSyscall fails with ENOTSUP in a binary linked with
// cgo, as go build links icmpgw on a machine with a C compiler.
//
// Any failure is an error: icmpgw up -h promises the drop, and forwarding
// with every privilege instead should not pass quietly. (A bounding set
// that only CAP_SETPCAP could reduce is left alone, not failed on: see
// dropTarget.)
func dropCaps(keep []cap.Value) (capState, error) {
	from, err := readCapState("/proc/self/status")
	if err != nil {
		return capState{}, err
	}
	to := dropTarget(from, keep)

	// The bounding set first: that needs CAP_SETPCAP, which the capset
	// below takes away. An empty IAB also empties the inheritable and
	// ambient sets.
	iab := cap.NewIAB()
	err = iab.SetVector(cap.Bound, true, capValues(from.Bnd&^to.Bnd)...)
	if err == nil {
		err = iab.SetProc()
	}
	if err != nil {
		return capState{}, fmt.Errorf("drop capabilities: bounding set to %s, inheritable and ambient to none: %w", capNames(to.Bnd), err)
	}
	// Whatever the process might exec gains no privilege: not from
	// set-user-ID bits, file capabilities, or the rules for uid 0
	// (capabilities(7), "Capabilities and execution of programs by root").
	if _, err := cap.Prctlw(unix.PR_SET_NO_NEW_PRIVS, 1); err != nil {
		return capState{}, fmt.Errorf("drop capabilities: no_new_privs: %w", err)
	}
	c := cap.NewSet()
	err = c.SetFlag(cap.Permitted, true, capValues(to.Prm)...)
	if err == nil {
		err = c.SetFlag(cap.Effective, true, capValues(to.Eff)...)
	}
	if err == nil {
		err = c.SetProc()
	}
	if err != nil {
		return capState{}, fmt.Errorf("drop capabilities: permitted and effective to %s: %w", capNames(to.Prm), err)
	}
	return to, checkThreads(to)
}

// checkThreads returns an error unless every thread of the process is in
// state want.
func checkThreads(want capState) error {
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err == nil && len(tasks) == 0 {
		err = errors.New("none in /proc/self/task")
	}
	if err != nil {
		return fmt.Errorf("drop capabilities: list threads: %w", err)
	}
	for _, path := range tasks {
		got, err := readCapState(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread ended
		}
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("drop capabilities: thread %s: got %v, want %v", filepath.Base(filepath.Dir(path)), got, want)
		}
	}
	return nil
}

// readCapState reads a /proc status file.
func readCapState(path string) (capState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return capState{}, fmt.Errorf("capabilities: %w", err)
	}
	s, err := parseCapState(b)
	if err != nil {
		return capState{}, fmt.Errorf("capabilities: %s: %w", path, err)
	}
	return s, nil
}

// parseCapState reads the Cap* and NoNewPrivs lines of a /proc status
// file, proc_pid_status(5).
func parseCapState(status []byte) (capState, error) {
	var s capState
	fields := map[string]*uint64{"CapInh": &s.Inh, "CapPrm": &s.Prm, "CapEff": &s.Eff, "CapBnd": &s.Bnd, "CapAmb": &s.Amb}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		val = strings.TrimSpace(val)
		if !ok {
			continue
		}
		if key == "NoNewPrivs" {
			s.NoNewPrivs = val == "1"
			seen++
			continue
		}
		if p := fields[key]; p != nil {
			n, err := strconv.ParseUint(val, 16, 64)
			if err != nil {
				return capState{}, fmt.Errorf("%s: got %q, want a hex mask", key, val)
			}
			*p = n
			seen++
		}
	}
	if seen != len(fields)+1 {
		return capState{}, errors.New("want CapInh, CapPrm, CapEff, CapBnd, CapAmb and NoNewPrivs lines")
	}
	return s, nil
}
