package scenarios_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icmpgw/icmpgw/scenarios"
)

// capSysAdmin is CAP_SYS_ADMIN's bit in /proc/PID/status masks
// (capabilities(7)).
const capSysAdmin = 1 << 21

// TestUpDropsCapabilities starts `icmpgw up` (namespaces
// icmpgw-tc<pid>-client and -server): once it is ready, every one of its
// threads keeps CAP_SYS_ADMIN alone (permitted, effective, bounding),
// nothing inheritable or ambient, and has no_new_privs; it still forwards
// and answers icmpgw ctl; on SIGTERM it still deletes its namespaces and
// files, which is what CAP_SYS_ADMIN is kept for.
func TestUpDropsCapabilities(t *testing.T) {
	needRoot(t)
	needTools(t, "ip", "ping")
	prefix := faultPrefix("tc", "")
	clientNS, serverNS := prefix+"client", prefix+"server"
	refuseTaken(t, clientNS, serverNS)
	deleteAtEnd(t, clientNS, serverNS)

	// The child starts with this process's bounding set, which may lack
	// some capabilities already (a container's, say).
	self, err := procCaps("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	bound, err := strconv.ParseUint(self["CapBnd"], 16, 64)
	if err != nil {
		t.Fatalf("CapBnd %q: %v", self["CapBnd"], err)
	}
	want := map[string]string{
		"CapInh":     "0000000000000000",
		"CapPrm":     "0000000000200000",
		"CapEff":     "0000000000200000",
		"CapBnd":     fmt.Sprintf("%016x", bound&capSysAdmin),
		"CapAmb":     "0000000000000000",
		"NoNewPrivs": "1",
	}

	up := startUp(t, "up", "--prefix", prefix)
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", up.cmd.Process.Pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of icmpgw up: %v (%d found)", err, len(tasks))
	}
	for _, path := range tasks {
		got, err := procCaps(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread ended
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"} {
			if got[k] != want[k] {
				t.Errorf("%s: %s %s, want %s", path, k, got[k], want[k])
			}
		}
	}

	// Forwarding and the control API need no capability. (A change
	// through it is left out: EventLog.Add from its handler races with
	// EventLog.Close at exit, a race that is not about capabilities.)
	if out, err := exec.Command("ip", "netns", "exec", clientNS, "ping", "-c", "1", "-W", "2", server.String()).CombinedOutput(); err != nil {
		t.Errorf("ping %s from %s: %v\n%s", server, clientNS, err, out)
	}
	ctl := exec.Command(icmpgwBin, "ctl", "--prefix", prefix, "routes", "r1")
	if out, err := ctl.CombinedOutput(); err != nil || !strings.Contains(string(out), "198.18.0.192/26") {
		t.Errorf("%s: %v\n%s", ctl, err, out)
	}

	if err := up.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-up.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("icmpgw up did not exit within %v of SIGTERM", stopTimeout)
	}
	if up.waitErr != nil {
		t.Errorf("icmpgw up: %v, want exit status 0\nstderr:\n%s", up.waitErr, up.stderr)
	}
	for _, ns := range []string{clientNS, serverNS} {
		if nsExists(ns) {
			t.Errorf("namespace %s left behind after SIGTERM", ns)
		}
	}
	for _, f := range []string{"lock", "state", "sock"} {
		if _, err := os.Stat(filepath.Join(scenarios.LockDir, prefix+f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s%s left behind after SIGTERM: %v", prefix, f, err)
		}
	}
}

// procCaps returns the Cap* and NoNewPrivs fields of a /proc status file,
// as written there.
func procCaps(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && (strings.HasPrefix(k, "Cap") || k == "NoNewPrivs") {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields, nil
}
