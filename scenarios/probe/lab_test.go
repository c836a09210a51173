package probe

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/icmpgw/icmpgw/tun"
)

// lab is /work/shared/kernel-lab.sh built in Go, with a Linux router
// namespace where icmpgw would be:
//
//	cli (gw0 198.51.100.2/24) ── rtr (r0 198.51.100.1 | r1 203.0.113.1, MTU 1400) ── srv (gw0 203.0.113.2/24, MTU 1400)
//
// Router routes: 198.18.0.0/26 none (net unreachable), 198.18.0.64/26
// unreachable (host), 198.18.0.128/26 prohibit (code 13), 198.18.0.192/26
// blackhole, 198.18.1.0/24 via 198.51.100.254 (draws a redirect; static
// neighbours on both sides, as a veth client only takes a redirect to a
// gateway whose neighbour entry is valid).
//
// Each test builds its own lab, so rate limits, cached path MTUs and
// redirects never leak between tests. Tests using a lab must not run in
// parallel: the names are per process.
//
// Within one lab, probe for routing errors (net, host, prohibited) before
// anything that draws Time Exceeded or Fragmentation Needed from the
// router. Linux limits routing errors per source in ip_error (burst 5,
// then 1/s; net.ipv4.route.error_cost and error_burst exist only in the
// initial namespace) with the same inet_peer token bucket that
// icmp_ratelimit uses per destination. With icmp_ratelimit 0 the bucket
// is capped at 6 × 0, so each Time Exceeded or Fragmentation Needed sent
// to the client empties it, and the router then drops routing errors to
// the client for a second.
type lab struct {
	cli, rtr, srv string
}

// Lab addresses.
var (
	cliAddr   = mustIP("198.51.100.2")
	rtrCli    = mustIP("198.51.100.1")
	rtrSrv    = mustIP("203.0.113.1")
	srvAddr   = mustIP("203.0.113.2")
	redirGW   = mustIP("198.51.100.254")
	redirHW   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xfe}
	serverMTU = 1400
)

func mustIP(s string) net.IP { return net.ParseIP(s).To4() }

func mustNet(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

// needRoot skips t without root, but fails it when CI is "true": CI must
// run the integration tests.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("integration test needs root (CI=true, so not skipping)")
	}
	t.Skip("integration test needs root")
}

// newLab builds the lab; t.Cleanup deletes its namespaces by name, even
// when building fails half-way.
func newLab(t *testing.T) *lab {
	t.Helper()
	needRoot(t)
	prefix := fmt.Sprintf("icmpgw-tb-%d", os.Getpid())
	l := &lab{cli: prefix + "-cli", rtr: prefix + "-rtr", srv: prefix + "-srv"}
	names := []string{l.cli, l.rtr, l.srv}
	for _, n := range names {
		if _, err := os.Stat("/run/netns/" + n); err == nil {
			t.Fatalf("netns %s exists; not touching it", n)
		}
	}
	rootForward := readRootSysctl(t, "net/ipv4/ip_forward")
	t.Cleanup(func() {
		for _, n := range names {
			if err := netns.DeleteNamed(n); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.EINVAL) {
				t.Errorf("delete netns %s: %v", n, err)
			}
		}
	})
	handles := map[string]netns.NsHandle{}
	t.Cleanup(func() {
		for _, h := range handles {
			h.Close()
		}
	})
	for _, n := range names {
		h, err := newNamed(n)
		if err != nil {
			t.Fatalf("create netns %s: %v", n, err)
		}
		handles[n] = h
	}
	nl := map[string]*netlink.Handle{}
	t.Cleanup(func() {
		for _, h := range nl {
			h.Close()
		}
	})
	for _, n := range names {
		h, err := netlink.NewHandleAt(handles[n], unix.NETLINK_ROUTE)
		if err != nil {
			t.Fatalf("netlink handle in %s: %v", n, err)
		}
		nl[n] = h
	}
	cli, rtr, srv := nl[l.cli], nl[l.rtr], nl[l.srv]

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("lab: %s: %v", what, err)
		}
	}
	link := func(h *netlink.Handle, ns, name string) netlink.Link {
		t.Helper()
		lk, err := h.LinkByName(name)
		must(fmt.Sprintf("find %s in %s", name, ns), err)
		return lk
	}
	for _, n := range names {
		must("lo up in "+n, nl[n].LinkSetUp(link(nl[n], n, "lo")))
	}
	// Each veth pair is made from inside the client or server namespace,
	// with its peer placed in the router's: nothing touches the root
	// namespace.
	must("veth gw0/r0", cli.LinkAdd(&netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: "gw0"}, PeerName: "r0",
		PeerNamespace: netlink.NsFd(int(handles[l.rtr])),
	}))
	must("veth gw0/r1", srv.LinkAdd(&netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: "gw0", MTU: serverMTU}, PeerName: "r1",
		PeerNamespace: netlink.NsFd(int(handles[l.rtr])),
	}))
	addr := func(h *netlink.Handle, ns, dev string, ip net.IP) netlink.Link {
		t.Helper()
		lk := link(h, ns, dev)
		must(fmt.Sprintf("add %s to %s in %s", ip, dev, ns),
			h.AddrAdd(lk, &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(24, 32)}}))
		must(fmt.Sprintf("set %s up in %s", dev, ns), h.LinkSetUp(lk))
		return lk
	}
	cliGW0 := addr(cli, l.cli, "gw0", cliAddr)
	srvGW0 := addr(srv, l.srv, "gw0", srvAddr)
	r0 := addr(rtr, l.rtr, "r0", rtrCli)
	addr(rtr, l.rtr, "r1", rtrSrv)

	must("client default route", cli.RouteAdd(&netlink.Route{LinkIndex: cliGW0.Attrs().Index, Gw: rtrCli}))
	must("server default route", srv.RouteAdd(&netlink.Route{LinkIndex: srvGW0.Attrs().Index, Gw: rtrSrv}))
	for _, r := range []struct {
		dst string
		typ int
	}{
		{"198.18.0.64/26", unix.RTN_UNREACHABLE},
		{"198.18.0.128/26", unix.RTN_PROHIBIT},
		{"198.18.0.192/26", unix.RTN_BLACKHOLE},
	} {
		must("router route "+r.dst, rtr.RouteAdd(&netlink.Route{Dst: mustNet(r.dst), Type: r.typ}))
	}
	must("router route 198.18.1.0/24", rtr.RouteAdd(&netlink.Route{
		Dst: mustNet("198.18.1.0/24"), Gw: redirGW, LinkIndex: r0.Attrs().Index,
	}))
	for _, nb := range []struct {
		h  *netlink.Handle
		ns string
		lk netlink.Link
	}{{rtr, l.rtr, r0}, {cli, l.cli, cliGW0}} {
		must("static neighbour in "+nb.ns, nb.h.NeighAdd(&netlink.Neigh{
			LinkIndex: nb.lk.Attrs().Index, Family: unix.AF_INET, State: netlink.NUD_PERMANENT,
			IP: redirGW, HardwareAddr: redirHW,
		}))
	}

	// Forwarding inside the router namespace only; no per-destination
	// ICMP rate limit on either side that sends errors (but see the
	// routing-error limit in the lab comment).
	setSysctl(t, l.rtr, "net/ipv4/ip_forward", "1")
	setSysctl(t, l.rtr, "net/ipv4/icmp_ratelimit", "0")
	setSysctl(t, l.srv, "net/ipv4/icmp_ratelimit", "0")
	for _, dev := range []string{"all", "gw0"} {
		setSysctl(t, l.cli, "net/ipv4/conf/"+dev+"/accept_redirects", "1")
		setSysctl(t, l.cli, "net/ipv4/conf/"+dev+"/secure_redirects", "0")
	}
	if got := readRootSysctl(t, "net/ipv4/ip_forward"); got != rootForward {
		t.Fatalf("root namespace ip_forward changed from %s to %s", rootForward, got)
	}
	return l
}

// newNamed creates the namespace name (bind-mounted under /run/netns) from
// a locked thread that returns to its own namespace afterwards.
func newNamed(name string) (netns.NsHandle, error) {
	h := netns.None()
	err := tun.WithThread(func() error {
		var err error
		h, err = netns.NewNamed(name)
		return err
	})
	if err != nil && h.IsOpen() {
		h.Close()
	}
	return h, err
}

// setSysctl writes value to /proc/sys/key from a thread inside ns, so it
// changes ns only, and reads it back there.
func setSysctl(t *testing.T, ns, key, value string) {
	t.Helper()
	var got []byte
	err := inNetns(ns, func() error {
		p := "/proc/sys/" + key
		if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
			return err
		}
		var err error
		got, err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatalf("sysctl %s=%s in %s: %v", key, value, ns, err)
	}
	if s := strings.TrimSpace(string(got)); s != value {
		t.Fatalf("sysctl %s in %s: got %s after writing %s", key, ns, s, value)
	}
}

// readRootSysctl reads /proc/sys/key from the test's own namespace.
func readRootSysctl(t *testing.T, key string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/" + key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return strings.TrimSpace(string(b))
}
