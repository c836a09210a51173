package scenarios_test

// TestAmplification checks issue #6's promise: with its rate limits on by
// default, icmpgw is no better an amplifier than a Linux router. The same
// floods go from a client namespace through a Linux router namespace (the
// kernel twin) and through icmpgw's default lab, one after the other,
// each into a fresh lab; the ICMP each draws back to the client is counted
// by the client's kernel (/proc/net/snmp, read inside the namespace) and
// checked one by one on a raw ICMP socket there.
//
//	kernel twin: PREFIXkclient ── veth ── PREFIXkrouter (ip_forward=1) ── veth ── PREFIXkserver
//	icmpgw:      PREFIXclient  ── TUN ──  r1 in this process (scenarios.Build) ── TUN ── PREFIXserver
//
//	client gw0 198.51.100.2/24 MTU 1500, default via .1; server gw0
//	203.0.113.2/24 MTU 1400, default via .1; router .1 on each; IPv6 off.
//
// The twin has no route for 198.18.0.0/26, as scripts/kernel-lab.sh: a
// Linux router answers a datagram with no route with Net Unreachable,
// which is what icmpgw's `unreachable net 198.18.0.0/26` draws; an
// `ip route add unreachable` route would draw Host Unreachable (code 1).
// Either way ip_error charges it twice. The twin keeps the kernel's
// default ICMP limits (icmp_ratelimit 1000 ms, icmp_ratemask,
// icmp_msgs_per_sec 1000, icmp_msgs_burst 50, all per namespace), and
// r1 keeps the default lab's policy, the one `icmpgw up` runs with.
//
// Both figures are deterministic while a flood takes well under a second:
// Linux's per-destination bucket holds 6 s and an error costs 1 s, so a
// TTL=1 burst draws 6 Time Exceeded; ip_error charges a routing error 1 s
// from a 5 s bucket before icmp_send charges the same bucket again, so a
// burst to a prefix with no route draws 2 Net Unreachable. The test
// asserts icmpgw's count equals the kernel's, not the constants, so a
// kernel that changes its limiter fails here with both figures printed.
//
// Traffic stays inside the namespaces the test creates, which are named
// icmpgw-ta<pid>-... and deleted by name even on failure; nothing changes
// in the root namespace, which the test checks at the end.

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/scenarios"
	"github.com/icmpgw/icmpgw/tun"
	"github.com/icmpgw/icmpgw/tun/packet"
)

const (
	floodCount  = 1000                   // datagrams per flood
	floodSize   = 64                     // UDP payload bytes, as scripts/bench/udpsend.py sends
	floodPort   = 33434                  // traceroute's first port
	floodSettle = time.Second            // wait for stragglers before counting
	floodMax    = 500 * time.Millisecond // slower than this is no burst: the limiter refills one error a second
	rawBuffer   = 4 << 20                // the raw socket's receive buffer: room for 1000 errors and more
	// tunQueue is how many datagrams the client's TUN device holds for
	// icmpgw (its txqueuelen, 500); the rest of a burst that comes faster
	// than icmpgw reads is dropped there. A race-built router that wakes
	// late gets only these: the limiter's figures still apply.
	tunQueue      = 500
	operUpTimeout = 5 * time.Second // the twin's links become operational
)

// clientAddr is the client's address in both labs.
var clientAddr = netip.MustParseAddr("198.51.100.2")

// A flood is one workload run through both routers.
type flood struct {
	name, desc string
	dst        netip.Addr
	ttl        int
	typ        ipv4.ICMPType
	code       packet.Code
	what       string // the error it draws, as a person says it
	counter    string // the client's Icmp counter that counts it
}

var floods = []flood{
	{
		name: "ttl1", desc: "TTL=1 flood", dst: server, ttl: 1,
		typ: ipv4.ICMPTypeTimeExceeded, code: packet.CodeTTLExceeded,
		what: "Time Exceeded", counter: "InTimeExcds",
	},
	{
		name: "no-route", desc: "flood to 198.18.0.1 (no route)", dst: netip.MustParseAddr("198.18.0.1"), ttl: 64,
		typ: ipv4.ICMPTypeDestinationUnreachable, code: packet.CodeNetUnreachable,
		what: "Net Unreachable", counter: "InDestUnreachs",
	},
}

// tally is what one flood drew through one router.
type tally struct {
	sent    int           // datagrams the client's socket took
	reached uint64        // datagrams the router received meanwhile
	dropped uint64        // datagrams the client's gw0 dropped on the way out
	took    time.Duration // sending them
	snmp    int64         // the client's f.counter delta
	inMsgs  int64         // the client's Icmp InMsgs delta: every ICMP message
	heard   int           // on the raw socket: f's error from r1 about the flood
	other   []string      // on the raw socket: anything else
	detail  string        // the router's own view
	global  int64         // the kernel twin: errors its namespace's global limit held back
}

func (c tally) String() string {
	s := fmt.Sprintf("sent %d in %v, the client's gw0 dropped %d, the router received %d; the client's kernel counted %d of them and %d ICMP in all, its raw socket %d",
		c.sent, c.took.Round(10*time.Microsecond), c.dropped, c.reached, c.snmp, c.inMsgs, c.heard)
	if len(c.other) > 0 {
		s += fmt.Sprintf(" and %d other: %s", len(c.other), strings.Join(c.other, "; "))
	}
	if c.detail != "" {
		s += "; " + c.detail
	}
	return s
}

func TestAmplification(t *testing.T) {
	needRoot(t)
	before := snapshotHost(t)
	for _, f := range floods {
		t.Run(f.name, func(t *testing.T) {
			prefix := fmt.Sprintf("icmpgw-ta%d-%s-", os.Getpid(), f.name)
			kernel := kernelFlood(t, prefix, f)
			icmpgw := icmpgwFlood(t, prefix, f)
			t.Logf("%s of %d: kernel: %v", f.desc, floodCount, kernel)
			t.Logf("%s of %d: icmpgw: %v", f.desc, floodCount, icmpgw)
			for _, side := range []struct {
				name string
				c    tally
			}{{"kernel", kernel}, {"icmpgw", icmpgw}} {
				checkTally(t, f, side.name, side.c)
			}
			k, i := kernel.snmp, icmpgw.snmp
			var note string
			if kernel.global > 0 {
				// Older kernels keep that limit for the whole machine,
				// not per namespace: other tests' ICMP may spend it.
				note = fmt.Sprintf(" (the kernel's global limit held back %d: not the per-destination limit this test compares)", kernel.global)
			}
			switch {
			case i > k:
				t.Errorf("%s of %d: kernel sent %d %s, icmpgw %d: icmpgw amplifies more%s", f.desc, floodCount, k, f.what, i, note)
			case i < k:
				t.Errorf("%s of %d: kernel sent %d %s, icmpgw %d: icmpgw no longer limits as Linux does%s", f.desc, floodCount, k, f.what, i, note)
			}
		})
	}
	checkHost(t, before)
}

// checkTally fails t unless c is a fair measurement of f through side's
// router: the flood was a burst, every datagram of it reached the router
// or was dropped by the client's gw0 (at most all but tunQueue), and
// everything the client heard was f's error from the router, counted
// alike by the client's kernel and its raw socket.
func checkTally(t *testing.T, f flood, side string, c tally) {
	t.Helper()
	if c.sent != floodCount {
		t.Errorf("%s: %s: the client's socket took %d of %d datagrams", side, f.desc, c.sent, floodCount)
	}
	if c.took > floodMax {
		t.Errorf("%s: %s: sending took %v, more than %v: not a burst, so the limiter's figures do not apply", side, f.desc, c.took, floodMax)
	}
	if least := uint64(min(tunQueue, c.sent)); c.reached < least || c.reached+c.dropped != uint64(c.sent) {
		t.Errorf("%s: %s: of %d datagrams sent the router received %d and the client's gw0 dropped %d; want at least %d received and none lost elsewhere",
			side, f.desc, c.sent, c.reached, c.dropped, least)
	}
	if len(c.other) > 0 {
		t.Errorf("%s: %s: the client heard ICMP other than %s from %v: %s", side, f.desc, f.what, r1, strings.Join(c.other, "; "))
	}
	if int64(c.heard) != c.snmp || c.inMsgs != c.snmp+int64(len(c.other)) {
		t.Errorf("%s: %s: the client's kernel counted %d %s (%s) and %d ICMP in all, its raw socket %d and %d other",
			side, f.desc, c.snmp, f.what, f.counter, c.inMsgs, c.heard, len(c.other))
	}
	if c.snmp == 0 {
		t.Errorf("%s: %s: no %s at all", side, f.desc, f.what)
	}
}

// kernelFlood builds the kernel twin under prefix, sends f through it and
// deletes it again.
func kernelFlood(t *testing.T, prefix string, f flood) tally {
	t.Helper()
	client, router, srv := prefix+"kclient", prefix+"krouter", prefix+"kserver"
	names := []string{client, router, srv}
	refuseTaken(t, names...)
	deleteAtEnd(t, names...)
	defer func() {
		for _, ns := range names {
			if err := tun.DeleteNamespace(ns); err != nil {
				t.Errorf("delete the kernel twin: %v", err)
			}
		}
	}()
	buildKernelTwin(t, client, router, srv)
	received := func() (uint64, error) {
		s, err := readSNMP(router)
		return uint64(s["Ip"]["InReceives"]), err
	}
	c := measureFlood(t, client, f, received)
	// Older kernels have no OutRateLimitHost or OutRateLimitGlobal: 0.
	if s, err := readSNMP(router); err == nil {
		c.global = s["Icmp"]["OutRateLimitGlobal"]
		c.detail = fmt.Sprintf("router namespace: Icmp OutMsgs %d, OutRateLimitHost %d, OutRateLimitGlobal %d",
			s["Icmp"]["OutMsgs"], s["Icmp"]["OutRateLimitHost"], c.global)
	}
	return c
}

// buildKernelTwin builds the default lab with a Linux router namespace in
// icmpgw's place, as `scripts/bench.sh --compare` does: each veth pair is
// made inside the client's or server's namespace with its peer in the
// router's, so no link ever appears in the root namespace.
func buildKernelTwin(t *testing.T, client, router, srv string) {
	t.Helper()
	for _, ns := range []string{client, router, srv} {
		if err := tun.CreateNamespace(ns); err != nil {
			t.Fatalf("kernel twin: %v", err)
		}
	}
	for _, v := range []struct{ ns, peer string }{{client, "r0"}, {srv, "r1"}} {
		err := tun.InNamespace(v.ns, func() error {
			peerNS, err := netns.GetFromName(router)
			if err != nil {
				return err
			}
			defer peerNS.Close()
			// The package's netlink functions open their socket in the
			// calling thread's namespace: this one.
			return netlink.LinkAdd(&netlink.Veth{
				LinkAttrs: netlink.LinkAttrs{Name: "gw0"},
				PeerName:  v.peer, PeerNamespace: netlink.NsFd(int(peerNS)),
			})
		})
		if err != nil {
			t.Fatalf("kernel twin: veth gw0 in %s, %s in %s: %v", v.ns, v.peer, router, err)
		}
	}
	noIPv6 := []tun.Sysctl{
		{Key: "net/ipv6/conf/all/disable_ipv6", Value: "1"},
		{Key: "net/ipv6/conf/default/disable_ipv6", Value: "1"},
	}
	pfx := netip.MustParsePrefix
	links := []tun.Link{
		{Namespace: client, Name: "gw0", MTU: 1500, Addrs: []netip.Prefix{netip.PrefixFrom(clientAddr, 24)},
			Routes: []tun.Route{{Dst: pfx("0.0.0.0/0"), Via: r1}}, Sysctls: noIPv6, DisableIPv6: true},
		{Namespace: srv, Name: "gw0", MTU: 1400, Addrs: []netip.Prefix{pfx("203.0.113.2/24")},
			Routes: []tun.Route{{Dst: pfx("0.0.0.0/0"), Via: r2}}, Sysctls: noIPv6, DisableIPv6: true},
		// Forwarding in the router's namespace only; its ICMP limits
		// stay the kernel's defaults.
		{Namespace: router, Name: "r0", MTU: 1500, Addrs: []netip.Prefix{pfx("198.51.100.1/24")},
			Sysctls: append(noIPv6, tun.Sysctl{Key: "net/ipv4/ip_forward", Value: "1"}), DisableIPv6: true},
		{Namespace: router, Name: "r1", MTU: 1400, Addrs: []netip.Prefix{pfx("203.0.113.1/24")}, DisableIPv6: true},
	}
	for _, l := range links {
		if err := tun.Apply(l); err != nil {
			t.Fatalf("kernel twin: %v", err)
		}
	}
	// A veth whose peer was down when it came up has no qdisc until the
	// kernel's link watcher sees the carrier (it sets the operational
	// state too); until then it drops what is sent, and a lost ARP
	// request stalls the flood for the 1 s retransmit timer.
	for _, l := range links {
		var state netlink.LinkOperState
		up := func() bool {
			err := tun.InNamespace(l.Namespace, func() error {
				link, err := netlink.LinkByName(l.Name)
				if err == nil {
					state = link.Attrs().OperState
				}
				return err
			})
			return err == nil && state == netlink.OperUp
		}
		if !waitFor(operUpTimeout, nil, up) {
			t.Fatalf("kernel twin: %s in %s is %v after %v, want up", l.Name, l.Namespace, state, operUpTimeout)
		}
	}
}

// icmpgwFlood builds icmpgw's default lab under prefix in this process,
// sends f through it and closes it again.
func icmpgwFlood(t *testing.T, prefix string, f flood) tally {
	t.Helper()
	client, srv := prefix+"client", prefix+"server"
	refuseTaken(t, client, srv)
	deleteAtEnd(t, client, srv)
	topo, err := scenarios.Build(scenarios.Default(), scenarios.Options{Prefix: prefix, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := topo.Close(); err != nil {
			t.Errorf("close icmpgw's lab: %v", err)
		}
	}()
	r := topo.Routers["r1"]
	if p := r.Policy(); p != (responder.Policy{}) {
		t.Fatalf("r1's policy is %+v, want the default lab's (the zero Policy: Linux's limits)", p)
	}
	c := measureFlood(t, topo.Namespace("client"), f, func() (uint64, error) { return r.Stats().Received, nil })
	s := r.Stats()
	c.detail = fmt.Sprintf("r1: %d ttl-exceeded, %d unreachable-route; sent %d Time Exceeded, %d Destination Unreachable; %d rate-limited",
		s.Outcomes[routing.DropTTL], s.Outcomes[routing.DropUnreachable],
		s.Sent[ipv4.ICMPTypeTimeExceeded], s.Sent[ipv4.ICMPTypeDestinationUnreachable], s.Suppressed[responder.RateLimited])
	return c
}

// measureFlood sends f from the namespace client and counts what comes back;
// received reads the router's count of datagrams received.
func measureFlood(t *testing.T, client string, f flood, received func() (uint64, error)) tally {
	t.Helper()
	raw, err := socketIn(client, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	if err != nil {
		t.Fatalf("raw ICMP socket in %s: %v", client, err)
	}
	defer unix.Close(raw)
	if err := unix.SetsockoptInt(raw, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rawBuffer); err != nil {
		t.Fatalf("raw ICMP socket in %s: SO_RCVBUFFORCE: %v", client, err)
	}
	snmp0, err := readSNMP(client)
	if err != nil {
		t.Fatal(err)
	}
	rx0, err := received()
	if err != nil {
		t.Fatal(err)
	}
	drop0, err := txDropped(client)
	if err != nil {
		t.Fatal(err)
	}

	var c tally
	port, err := sendFlood(client, f, &c)
	if err != nil {
		t.Fatalf("%s from %s: %v", f.desc, client, err)
	}
	time.Sleep(floodSettle)

	snmp1, err := readSNMP(client)
	if err != nil {
		t.Fatal(err)
	}
	rx1, err := received()
	if err != nil {
		t.Fatal(err)
	}
	drop1, err := txDropped(client)
	if err != nil {
		t.Fatal(err)
	}
	c.reached, c.dropped = rx1-rx0, drop1-drop0
	c.snmp = snmp1["Icmp"][f.counter] - snmp0["Icmp"][f.counter]
	c.inMsgs = snmp1["Icmp"]["InMsgs"] - snmp0["Icmp"]["InMsgs"]

	buf := make([]byte, 2048)
	for {
		n, _, err := unix.Recvfrom(raw, buf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil {
			t.Fatalf("read the raw ICMP socket in %s: %v", client, err)
		}
		if desc, ok := classifyError(buf[:n], f, port); ok {
			c.heard++
		} else {
			c.other = append(c.other, desc)
		}
	}
	return c
}

// sendFlood sends floodCount datagrams of f from one unconnected UDP
// socket in ns (so ICMP errors coming back do not stop it), as fast as the
// socket takes them, and records how many it took and how long that took
// in c. It returns the socket's port.
func sendFlood(ns string, f flood, c *tally) (port int, err error) {
	fd, err := socketIn(ns, unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, f.ttl); err != nil {
		return 0, fmt.Errorf("set IP_TTL: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: clientAddr.As4()}); err != nil {
		return 0, fmt.Errorf("bind: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, fmt.Errorf("getsockname: %w", err)
	}
	port = sa.(*unix.SockaddrInet4).Port
	to := &unix.SockaddrInet4{Addr: f.dst.As4(), Port: floodPort}
	payload := make([]byte, floodSize)
	var last error
	start := time.Now()
	for range floodCount {
		if err := unix.Sendto(fd, payload, 0, to); err != nil {
			last = err
			continue
		}
		c.sent++
	}
	c.took = time.Since(start)
	if c.sent == 0 {
		return port, fmt.Errorf("sendto: %w", last)
	}
	return port, nil
}

// classifyError reports whether pkt, an IPv4 datagram from the raw socket, is
// f's error from r1 about a datagram from port, or else describes it.
func classifyError(pkt []byte, f flood, port int) (string, bool) {
	ip := packet.IPv4(pkt)
	if len(pkt) < packet.IPv4MinHeaderLen || len(pkt) < ip.HeaderLen() || ip.HeaderLen() < packet.IPv4MinHeaderLen {
		return fmt.Sprintf("a %d-byte datagram too short for an IPv4 header", len(pkt)), false
	}
	icmp := packet.ICMPv4(pkt[ip.HeaderLen():])
	if len(icmp) < packet.ICMPHeaderLen {
		return fmt.Sprintf("a truncated ICMP message from %v", ip.Src()), false
	}
	desc := fmt.Sprintf("type %d code %d from %v", icmp.Type(), icmp.Code(), ip.Src())
	inner := packet.IPv4(icmp.Body())
	if len(inner) < packet.IPv4MinHeaderLen || inner.HeaderLen() < packet.IPv4MinHeaderLen || len(inner) < inner.HeaderLen()+8 {
		return desc + " quoting no UDP header", false
	}
	sport := int(inner[inner.HeaderLen()])<<8 | int(inner[inner.HeaderLen()+1])
	desc += fmt.Sprintf(" about %v -> %v proto %d from port %d", inner.Src(), inner.Dst(), inner.Protocol(), sport)
	ok := icmp.Type() == f.typ && icmp.Code() == f.code && ip.Src() == r1 &&
		inner.Protocol() == unix.IPPROTO_UDP && inner.Dst() == f.dst && sport == port
	return desc, ok
}

// txDropped reads how many datagrams the client's gw0, in the namespace
// ns, dropped on the way out.
func txDropped(ns string) (uint64, error) {
	var n uint64
	err := tun.InNamespace(ns, func() error {
		link, err := netlink.LinkByName("gw0")
		if err != nil {
			return err
		}
		if st := link.Attrs().Statistics; st != nil {
			n = st.TxDropped
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("gw0 in %s: %w", ns, err)
	}
	return n, nil
}

// readSNMP reads /proc/net/snmp as the namespace ns sees it: section
// ("Ip", "Icmp", ...), then counter name, to value.
func readSNMP(ns string) (map[string]map[string]int64, error) {
	var b []byte
	err := tun.InNamespace(ns, func() error {
		// /proc/net follows the process's main thread; thread-self/net
		// follows this thread, which is inside ns.
		var err error
		b, err = os.ReadFile("/proc/thread-self/net/snmp")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read /proc/net/snmp in %s: %w", ns, err)
	}
	// Two lines a section: "Ip: Forwarding DefaultTTL ...", then "Ip: 1 64 ...".
	out := make(map[string]map[string]int64)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) != len(vals) || len(names) == 0 || names[0] != vals[0] {
			return nil, fmt.Errorf("/proc/net/snmp in %s: lines %q and %q do not pair", ns, lines[i], lines[i+1])
		}
		section := make(map[string]int64, len(names)-1)
		for j := 1; j < len(names); j++ {
			n, err := strconv.ParseInt(vals[j], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("/proc/net/snmp in %s: %s %s: %w", ns, names[0], names[j], err)
			}
			section[names[j]] = n
		}
		out[strings.TrimSuffix(names[0], ":")] = section
	}
	return out, nil
}

// socketIn opens a socket in the namespace ns; it stays there whichever
// thread uses it later.
func socketIn(ns string, typ, proto int) (int, error) {
	fd := -1
	err := tun.InNamespace(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, proto)
		return err
	})
	if err != nil && fd >= 0 {
		unix.Close(fd) // made, but the thread could not come back
		fd = -1
	}
	return fd, err
}
