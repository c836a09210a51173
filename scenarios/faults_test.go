package scenarios_test

// Faults and the promise never to touch the host:
//
//   - a host namespace (or its TUN link) deleted under a running lab takes
//     that host out, and the rest keeps forwarding; `icmpgw up` exits 0
//     once every host is gone;
//   - `icmpgw down` after a SIGKILL removes exactly what the lab created;
//   - neither a scenario run, nor SIGKILL + down, nor a failed set-up
//     changes the root namespace's links, addresses, routes, rules or
//     forwarding sysctls.
//
// Namespaces are named icmpgw-tk<pid>-... and icmpgw-th<pid>-...; every
// test deletes what it created by name, even on failure.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/scenarios"
	"github.com/icmpgw/icmpgw/tun"
)

// goneTimeout bounds how long a deleted namespace may go unnoticed.
const goneTimeout = 5 * time.Second

// faultPrefix is a namespace prefix of this test process: kind is "tk"
// or "th", tag tells the tests apart.
func faultPrefix(kind, tag string) string {
	return fmt.Sprintf("icmpgw-%s%d-%s", kind, os.Getpid(), tag)
}

// deleteAtEnd deletes the named namespaces when t ends, whatever happened.
func deleteAtEnd(t *testing.T, names ...string) {
	t.Cleanup(func() {
		for _, ns := range names {
			if nsExists(ns) {
				if err := tun.DeleteNamespace(ns); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
		}
	})
}

// refuseTaken fails t if any of the names is taken: not ours to touch.
func refuseTaken(t *testing.T, names ...string) {
	t.Helper()
	for _, ns := range names {
		if nsExists(ns) {
			t.Fatalf("namespace %s exists already; not touching it", ns)
		}
	}
}

// TestFaultHostGone deletes the client's namespace, then the server's TUN
// link, under a running default lab.
func TestFaultHostGone(t *testing.T) {
	needRoot(t)
	needTools(t, "ip", "ping")
	prefix := faultPrefix("tk", "gone-")
	client, server := prefix+"client", prefix+"server"
	refuseTaken(t, client, server)
	deleteAtEnd(t, client, server)

	events := new(lines)
	log := scenarios.NewEventLog(events)
	topo, err := scenarios.Build(scenarios.Default(), scenarios.Options{Prefix: prefix, Seed: 1, Events: log})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			topo.Close()
		}
		log.Close()
	}()
	r1 := topo.Routers["r1"]
	hasRoute := func(p string) bool {
		return slices.ContainsFunc(r1.Routes.Routes(), func(rt routing.Route) bool { return rt.Prefix == netip.MustParsePrefix(p) })
	}
	if !hasRoute("198.51.100.0/24") || !hasRoute("203.0.113.0/24") {
		t.Fatalf("r1 lacks its connected routes: %v", r1.Routes.Routes())
	}

	if err := tun.DeleteNamespace(client); err != nil {
		t.Fatal(err)
	}
	heard := func(s string) func() bool {
		return func() bool { return events.count(func(l string) bool { return strings.Contains(l, s) }) > 0 }
	}
	want := fmt.Sprintf(`"kind":"link","event":"host client gone: namespace %s deleted"`, client)
	if !waitFor(goneTimeout, nil, heard(want)) {
		t.Fatalf("no record %s within %v; events:\n%s", want, goneTimeout, events)
	}
	if !waitFor(goneTimeout, nil, func() bool { return !hasRoute("198.51.100.0/24") }) {
		t.Errorf("r1 still routes to the gone client's link: %v", r1.Routes.Routes())
	}
	if !hasRoute("203.0.113.0/24") {
		t.Errorf("r1 lost the server's route too: %v", r1.Routes.Routes())
	}
	// The rest of the lab keeps forwarding (here: answering).
	if out, err := exec.Command("ip", "netns", "exec", server, "ping", "-c", "1", "-W", "2", "203.0.113.1").CombinedOutput(); err != nil {
		t.Errorf("ping r1 from the server after the client went: %v\n%s", err, out)
	}
	select {
	case <-topo.Gone():
		t.Fatal("Gone closed while the server is still there")
	default:
	}

	// A TUN link deleted inside a namespace that stays: the pump notices.
	if out, err := exec.Command("ip", "-n", server, "link", "del", "gw0").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link del gw0: %v: %s", server, err, out)
	}
	select {
	case <-topo.Gone():
	case <-time.After(goneTimeout):
		t.Fatalf("Gone not closed within %v of the last host going; events:\n%s", goneTimeout, events)
	}
	if !heard(`"event":"host server gone: `)() {
		t.Errorf("no record of the server going; events:\n%s", events)
	}
	if hasRoute("203.0.113.0/24") {
		t.Errorf("r1 still routes to the gone server's link: %v", r1.Routes.Routes())
	}
	closed = true
	if err := topo.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if nsExists(server) {
		t.Errorf("Close left the server's namespace, which it still owned")
	}
	if nsExists(client) {
		t.Errorf("namespace %s exists again after Close", client)
	}
	for _, f := range []string{"state", "lock"} {
		if _, err := os.Stat(filepath.Join(scenarios.LockDir, prefix+f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s file left after Close: %v", f, err)
		}
	}
}

// TestFaultUpExitsWhenHostsGone deletes every namespace of a running
// `icmpgw up`: it must exit 0 and say why.
func TestFaultUpExitsWhenHostsGone(t *testing.T) {
	needRoot(t)
	needTools(t, "ip")
	prefix := faultPrefix("tk", "exit-")
	client, server := prefix+"client", prefix+"server"
	refuseTaken(t, client, server)
	deleteAtEnd(t, client, server)
	up := startUp(t, "up", "--prefix", prefix)
	for _, ns := range []string{client, server} {
		if err := tun.DeleteNamespace(ns); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-up.exited:
	case <-time.After(goneTimeout + stopTimeout):
		t.Fatalf("icmpgw up still runs %v after its namespaces were deleted\nstderr:\n%s", goneTimeout+stopTimeout, up.stderr)
	}
	if up.waitErr != nil {
		t.Errorf("icmpgw up: %v, want exit status 0\nstderr:\n%s", up.waitErr, up.stderr)
	}
	if !strings.Contains(up.stderr.String(), "every host namespace of the lab is gone") {
		t.Errorf("icmpgw up did not say why it stopped; stderr:\n%s", up.stderr)
	}
	for _, ns := range []string{client, server} {
		if nsExists(ns) {
			t.Errorf("namespace %s exists again", ns)
		}
	}
}

// proc is an icmpgw child process.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *lines
	exited         chan struct{}
	waitErr        error
}

// startUp starts icmpgw with args and, for "up", waits for its ready
// line. Cleanup kills it if it still runs.
func startUp(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(icmpgwBin, args...), stdout: new(lines), stderr: new(lines), exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	p.cmd.WaitDelay = 2 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.cmd, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		t.Logf("%s\nstdout:\n%s\nstderr:\n%s", p.cmd, p.stdout, p.stderr)
	})
	ready := func() bool { return p.stdout.count(func(s string) bool { return strings.Contains(s, "ready") }) > 0 }
	if !waitFor(readyTimeout, p.exited, ready) {
		t.Fatalf("%s printed no ready line (exited: %v)\nstderr:\n%s", p.cmd, p.waitErr, p.stderr)
	}
	return p
}

// kill ends p with SIGKILL: it cleans up nothing.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("pid %d did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

// killAndDown starts `icmpgw up --prefix prefix --scenario multi-hop`,
// SIGKILLs it once ready and runs `icmpgw down --prefix prefix`: down
// must delete exactly the lab's namespaces, and touch no other, not even
// one under the same prefix.
func killAndDown(t *testing.T, prefix string) {
	t.Helper()
	client, server, decoy := prefix+"client", prefix+"server", prefix+"decoy"
	refuseTaken(t, client, server, decoy)
	deleteAtEnd(t, client, server, decoy)
	if err := tun.CreateNamespace(decoy); err != nil {
		t.Fatal(err)
	}
	before, err := tun.ListNamespaces("")
	if err != nil {
		t.Fatal(err)
	}
	up := startUp(t, "up", "--prefix", prefix, "--scenario", "multi-hop")
	state, err := os.ReadFile(filepath.Join(scenarios.LockDir, prefix+"state"))
	if err != nil {
		t.Fatalf("no state file while the lab runs: %v", err)
	}
	for _, ns := range []string{client, server} {
		if !bytes.Contains(state, []byte(`"`+ns+`"`)) {
			t.Errorf("state file does not list %s: %s", ns, state)
		}
	}
	up.kill(t)
	for _, ns := range []string{client, server} {
		if !nsExists(ns) {
			t.Fatalf("namespace %s gone after SIGKILL already: the test proves nothing", ns)
		}
	}
	// No --scenario: down must go by the state file.
	out, err := exec.Command(icmpgwBin, "down", "--prefix", prefix).CombinedOutput()
	if err != nil {
		t.Fatalf("icmpgw down --prefix %s: %v\n%s", prefix, err, out)
	}
	t.Logf("icmpgw down:\n%s", out)
	after, err := tun.ListNamespaces("")
	if err != nil {
		t.Fatal(err)
	}
	// Other tests may create and delete namespaces meanwhile; only
	// ours, and every one under our prefix, are compared.
	for _, ns := range []string{client, server} {
		if slices.Contains(after, ns) {
			t.Errorf("namespace %s still exists after icmpgw down", ns)
		}
	}
	mine := func(names []string) []string {
		return slices.DeleteFunc(slices.Clone(names), func(ns string) bool { return !strings.HasPrefix(ns, prefix) || ns == client || ns == server })
	}
	if b, a := mine(before), mine(after); !slices.Equal(b, a) {
		t.Errorf("icmpgw down touched other namespaces under %s: before %v, after %v", prefix, b, a)
	}
	for _, ns := range before {
		if ns != client && ns != server && !strings.HasPrefix(ns, "icmpgw-") && !slices.Contains(after, ns) {
			t.Errorf("namespace %s vanished during the test", ns)
		}
	}
	for _, f := range []string{"state", "lock", "sock"} {
		if _, err := os.Stat(filepath.Join(scenarios.LockDir, prefix+f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("icmpgw down left %s%s: %v", prefix, f, err)
		}
	}
}

// TestKillThenDown is killAndDown's test.
func TestKillThenDown(t *testing.T) {
	needRoot(t)
	needTools(t, "ip")
	killAndDown(t, faultPrefix("tk", "kill-"))
}

// TestKillThenDownWithoutState: with no state file, down cannot know
// that the namespaces named like the lab's hosts are icmpgw's: it deletes
// nothing, fails, and names them.
func TestKillThenDownWithoutState(t *testing.T) {
	needRoot(t)
	needTools(t, "ip")
	prefix := faultPrefix("tk", "nostate-")
	client, server := prefix+"client", prefix+"server"
	refuseTaken(t, client, server)
	deleteAtEnd(t, client, server)
	up := startUp(t, "up", "--prefix", prefix, "--scenario", "multi-hop")
	up.kill(t)
	if err := os.Remove(filepath.Join(scenarios.LockDir, prefix+"state")); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(icmpgwBin, "down", "--prefix", prefix, "--scenario", "multi-hop").CombinedOutput()
	if err == nil {
		t.Fatalf("icmpgw down without a state file succeeded, want an error:\n%s", out)
	}
	want := "icmpgw down: no state file " + filepath.Join(scenarios.LockDir, prefix+"state") + ": no icmpgw lab recorded creating " +
		client + ", " + server + ", so down leaves it alone; delete with 'ip netns del NAME' what is yours to delete\n"
	if string(out) != want {
		t.Errorf("icmpgw down said\n%s\nwant\n%s", out, want)
	}
	for _, ns := range []string{client, server} {
		if !nsExists(ns) {
			t.Errorf("namespace %s deleted by icmpgw down without a state file", ns)
		}
	}
	// The killed lab's socket is stale all the same: down removes it.
	if _, err := os.Stat(filepath.Join(scenarios.LockDir, prefix+"sock")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("control socket after icmpgw down: %v, want it removed", err)
	}
}

// TestNameClash: a namespace the lab would create exists already. Build
// refuses without touching it; its hint says to run down only when a
// killed lab's state file records the namespace.
func TestNameClash(t *testing.T) {
	needRoot(t)
	prefix := faultPrefix("tc", "clash-")
	client, server := prefix+"client", prefix+"server"
	refuseTaken(t, client, server)
	deleteAtEnd(t, client, server)
	if err := tun.CreateNamespace(server); err != nil {
		t.Fatal(err)
	}
	_, err := scenarios.Build(scenarios.Default(), scenarios.Options{Prefix: prefix})
	want := "namespace " + server + " exists already, and no icmpgw lab recorded creating it: pick another --prefix, or delete it with 'ip netns del " + server + "' if it is yours to delete"
	if err == nil || err.Error() != want {
		t.Fatalf("Build = %v\nwant %s", err, want)
	}
	if nsExists(client) || !nsExists(server) {
		t.Errorf("after a refused Build: %s exists %v (want false), %s exists %v (want true)", client, nsExists(client), server, nsExists(server))
	}
	if _, err := scenarios.Down(scenarios.Default(), prefix); err == nil || !nsExists(server) {
		t.Errorf("Down without a state file = %v and deleted %s: want an error and the namespace left alone", err, server)
	}
}

// hostState is what icmpgw promises never to change in the namespace it
// runs in.
type hostState struct {
	Links, Addrs, Routes, Rules, Sysctls []string
}

// snapshotHost reads the root namespace's state (this test runs in it).
func snapshotHost(t *testing.T) hostState {
	t.Helper()
	var s hostState
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatalf("list links: %v", err)
	}
	for _, l := range links {
		a := l.Attrs()
		s.Links = append(s.Links, fmt.Sprintf("%d %s %s flags=%v mtu=%d master=%d", a.Index, a.Name, l.Type(), a.Flags, a.MTU, a.MasterIndex))
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list addresses: %v", err)
	}
	for _, a := range addrs {
		s.Addrs = append(s.Addrs, fmt.Sprintf("%d %s peer=%v scope=%d flags=%d", a.LinkIndex, a.IPNet, a.Peer, a.Scope, a.Flags))
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatalf("list routes: %v", err)
	}
	for _, r := range routes {
		s.Routes = append(s.Routes, fmt.Sprintf("table=%d type=%d dst=%v src=%v gw=%v dev=%d proto=%d scope=%d prio=%d",
			r.Table, r.Type, r.Dst, r.Src, r.Gw, r.LinkIndex, r.Protocol, r.Scope, r.Priority))
	}
	rules, err := netlink.RuleList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list rules: %v", err)
	}
	for _, r := range rules {
		s.Rules = append(s.Rules, r.String())
	}
	for _, key := range []string{"net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding", "net/ipv6/conf/all/forwarding"} {
		b, err := os.ReadFile(filepath.Join("/proc/sys", key))
		if err != nil {
			t.Fatalf("read sysctl: %v", err)
		}
		s.Sysctls = append(s.Sysctls, key+"="+strings.TrimSpace(string(b)))
	}
	for _, l := range [][]string{s.Links, s.Addrs, s.Routes, s.Rules} {
		slices.Sort(l)
	}
	return s
}

// labNets are the networks icmpgw labs use; none may show up on the host.
var labNets = []netip.Prefix{
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
}

// checkHost fails t if the host's state differs from before, or shows a
// TUN device or a lab address or route.
func checkHost(t *testing.T, before hostState) {
	t.Helper()
	after := snapshotHost(t)
	for _, f := range []struct {
		what      string
		old, new_ []string
	}{
		{"links", before.Links, after.Links},
		{"addresses", before.Addrs, after.Addrs},
		{"routes", before.Routes, after.Routes},
		{"rules", before.Rules, after.Rules},
		{"sysctls", before.Sysctls, after.Sysctls},
	} {
		if !slices.Equal(f.old, f.new_) {
			t.Errorf("host %s changed:\n%s", f.what, diffLines(f.old, f.new_))
		}
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		if l.Type() == "tuntap" {
			t.Errorf("TUN device %s in the host namespace", l.Attrs().Name)
		}
	}
	var nets []*net.IPNet
	if addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4); err == nil {
		for _, a := range addrs {
			nets = append(nets, a.IPNet)
		}
	}
	if routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE); err == nil {
		for _, r := range routes {
			nets = append(nets, r.Dst)
		}
	}
	for _, n := range nets {
		if n == nil {
			continue
		}
		a, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		for _, p := range labNets {
			if p.Contains(a.Unmap()) {
				t.Errorf("lab network %s on the host: %s", p, n)
			}
		}
	}
}

// diffLines shows what is only in a (-) and only in b (+).
func diffLines(a, b []string) string {
	var out strings.Builder
	for _, s := range a {
		if !slices.Contains(b, s) {
			fmt.Fprintf(&out, "- %s\n", s)
		}
	}
	for _, s := range b {
		if !slices.Contains(a, s) {
			fmt.Fprintf(&out, "+ %s\n", s)
		}
	}
	return out.String()
}

// TestHostUntouched checks that the root namespace is the same before and
// after a scenario run, a SIGKILL and `icmpgw down`, and a failed set-up.
func TestHostUntouched(t *testing.T) {
	needRoot(t)
	needTools(t, "ip", "traceroute")
	before := snapshotHost(t)
	checkHost(t, before) // no lab network there to begin with

	t.Run("scenario run", func(t *testing.T) {
		prefix := faultPrefix("th", "run-")
		refuseTaken(t, prefix+"client", prefix+"server")
		deleteAtEnd(t, prefix+"client", prefix+"server")
		out, err := exec.Command(icmpgwBin, "scenario", "run", "--prefix", prefix, "silent-hop").CombinedOutput()
		if err != nil {
			t.Fatalf("icmpgw scenario run silent-hop: %v\n%s", err, out)
		}
		checkHost(t, before)
	})
	t.Run("kill and down", func(t *testing.T) {
		killAndDown(t, faultPrefix("th", "kill-"))
		checkHost(t, before)
	})
	t.Run("failed set-up", func(t *testing.T) {
		prefix := faultPrefix("th", "fail-")
		client, server := prefix+"client", prefix+"server"
		refuseTaken(t, client, server)
		deleteAtEnd(t, client, server)
		sc, err := scenarios.Load("silent-hop")
		if err != nil {
			t.Fatal(err)
		}
		if sc.Hosts[1].Name != "server" {
			t.Fatalf("silent-hop's second host is %s, want server", sc.Hosts[1].Name)
		}
		checkNoLab := func(t *testing.T) {
			t.Helper()
			if nsExists(client) {
				t.Errorf("Build left %s behind", client)
			}
			for _, f := range []string{"state", "lock"} {
				if _, err := os.Stat(filepath.Join(scenarios.LockDir, prefix+f)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("failed Build left %s%s: %v", prefix, f, err)
				}
			}
			checkHost(t, before)
		}

		// The second host's namespace is taken: Build refuses.
		if err := tun.CreateNamespace(server); err != nil {
			t.Fatal(err)
		}
		if topo, err := scenarios.Build(sc, scenarios.Options{Prefix: prefix, Seed: 1}); err == nil {
			topo.Close()
			t.Error("Build succeeded although the second host's namespace was taken")
		} else if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), server) {
			t.Errorf("Build: %v; want an error naming %s and wrapping fs.ErrExist", err, server)
		}
		if !nsExists(server) {
			t.Errorf("Build deleted %s, which it did not create", server)
		}
		checkNoLab(t)
		if err := tun.DeleteNamespace(server); err != nil {
			t.Fatal(err)
		}

		// Build fails once every host is up (its --pcap directory cannot
		// be made under a file): it must roll all of it back.
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if topo, err := scenarios.Build(sc, scenarios.Options{Prefix: prefix, Seed: 1, Pcap: filepath.Join(file, "pcap")}); err == nil {
			topo.Close()
			t.Error("Build succeeded with a pcap directory under a file")
		}
		if nsExists(server) {
			t.Errorf("Build left %s behind", server)
		}
		checkNoLab(t)
	})
}
