package probe

import (
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Probe timeouts: long enough for a veth round trip on a loaded machine,
// short enough that a blackhole costs little.
const (
	answerTimeout    = 2 * time.Second
	blackholeTimeout = 500 * time.Millisecond
)

var (
	router       = netip.MustParseAddr("198.51.100.1")
	server       = netip.MustParseAddr("203.0.113.2")
	newGateway   = netip.MustParseAddr("198.51.100.254")
	netUnreach   = netip.MustParseAddr("198.18.0.1")   // no route at the router
	hostUnreach  = netip.MustParseAddr("198.18.0.65")  // unreachable route
	prohibited   = netip.MustParseAddr("198.18.0.129") // prohibit route
	blackholed   = netip.MustParseAddr("198.18.0.193") // blackhole route
	redirected   = netip.MustParseAddr("198.18.1.1")   // via 198.51.100.254, same link
	tracePort    = uint16(33434)
	closedPort   = uint16(9)
	listenerPort = uint16(8080)
)

// icmpErr is the Result of an ICMP error report.
func icmpErr(typ, code uint8, from netip.Addr, errno syscall.Errno) Result {
	return Result{ICMP: true, Type: typ, Code: code, From: from, Errno: errno}
}

func TestEcho(t *testing.T) {
	l := newLab(t)
	tests := []struct {
		name    string
		dst     netip.Addr
		ttl     int
		timeout time.Duration
		want    Result
	}{
		// Routing errors first: see lab.
		{"net unreachable", netUnreach, 0, answerTimeout, icmpErr(3, 0, router, unix.ENETUNREACH)},
		{"reply", server, 0, answerTimeout, Result{Reply: true, ICMP: true, Type: 0, From: server}},
		// Linux reports Time Exceeded on a raw socket as EHOSTUNREACH (raw_err).
		{"ttl 1", server, 1, answerTimeout, icmpErr(11, 0, router, unix.EHOSTUNREACH)},
		{"blackhole", blackholed, 0, blackholeTimeout, Result{Timeout: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Echo(l.cli, tt.dst, tt.ttl, tt.timeout)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Echo(%s, ttl %d) = %q %+v, want %q %+v", tt.dst, tt.ttl, got, got, tt.want, tt.want)
			}
		})
	}
}

func TestUDP(t *testing.T) {
	l := newLab(t)
	df1450 := UDPOptions{Size: 1450, DontFragment: true}
	// Routing errors before Time Exceeded and Fragmentation Needed: see lab.
	tests := []struct {
		name    string
		dst     netip.AddrPort
		opt     UDPOptions
		timeout time.Duration
		want    Result
	}{
		{"port unreachable", netip.AddrPortFrom(server, tracePort), UDPOptions{}, answerTimeout,
			icmpErr(3, 3, server, unix.ECONNREFUSED)},
		{"net unreachable", netip.AddrPortFrom(netUnreach, tracePort), UDPOptions{}, answerTimeout,
			icmpErr(3, 0, router, unix.ENETUNREACH)},
		{"host unreachable", netip.AddrPortFrom(hostUnreach, tracePort), UDPOptions{}, answerTimeout,
			icmpErr(3, 1, router, unix.EHOSTUNREACH)},
		{"admin prohibited", netip.AddrPortFrom(prohibited, tracePort), UDPOptions{}, answerTimeout,
			icmpErr(3, 13, router, unix.EHOSTUNREACH)},
		{"blackhole", netip.AddrPortFrom(blackholed, tracePort), UDPOptions{}, blackholeTimeout,
			Result{Timeout: true}},
		{"ttl 1", netip.AddrPortFrom(server, tracePort), UDPOptions{TTL: 1}, answerTimeout,
			icmpErr(11, 0, router, unix.EHOSTUNREACH)},
		{"frag needed", netip.AddrPortFrom(server, tracePort), df1450, answerTimeout,
			Result{ICMP: true, Type: 3, Code: 4, From: router, Errno: unix.EMSGSIZE, Info: 1400}},
		// The client cached path MTU 1400 from the last row: now the
		// kernel refuses the datagram itself, and nothing is sent.
		{"frag needed again: cached path MTU", netip.AddrPortFrom(server, tracePort), df1450, answerTimeout,
			Result{Errno: unix.EMSGSIZE, Info: 1400}},
		// Without DF the kernel fragments to the cached MTU; the server
		// reassembles and answers Port Unreachable.
		{"no DF after PMTU: fragmented", netip.AddrPortFrom(server, tracePort), UDPOptions{Size: 1450}, answerTimeout,
			icmpErr(3, 3, server, unix.ECONNREFUSED)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UDP(l.cli, tt.dst, tt.opt, tt.timeout)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("UDP(%s, %+v) = %q %+v, want %q %+v", tt.dst, tt.opt, got, got, tt.want, tt.want)
			}
		})
	}
}

func TestTCP(t *testing.T) {
	l := newLab(t)
	listen(t, l.srv, netip.AddrPortFrom(server, listenerPort))
	tests := []struct {
		name    string
		dst     netip.AddrPort
		timeout time.Duration
		want    Result
	}{
		{"connected", netip.AddrPortFrom(server, listenerPort), answerTimeout, Result{Reply: true, From: server}},
		{"reset", netip.AddrPortFrom(server, closedPort), answerTimeout,
			Result{Reply: true, From: server, Errno: unix.ECONNREFUSED}},
		{"net unreachable", netip.AddrPortFrom(netUnreach, 80), answerTimeout, icmpErr(3, 0, router, unix.ENETUNREACH)},
		{"host unreachable", netip.AddrPortFrom(hostUnreach, 80), answerTimeout, icmpErr(3, 1, router, unix.EHOSTUNREACH)},
		{"admin prohibited", netip.AddrPortFrom(prohibited, 80), answerTimeout, icmpErr(3, 13, router, unix.EHOSTUNREACH)},
		{"blackhole", netip.AddrPortFrom(blackholed, 80), blackholeTimeout, Result{Timeout: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TCP(l.cli, tt.dst, tt.timeout)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("TCP(%s) = %q %+v, want %q %+v", tt.dst, got, got, tt.want, tt.want)
			}
		})
	}
}

// listen opens a TCP listener on addr inside ns until the test ends. The
// kernel completes handshakes into its backlog; nobody accepts.
func listen(t *testing.T, ns string, addr netip.AddrPort) {
	t.Helper()
	fd, err := socketIn(ns, unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_TCP)
	if err != nil {
		t.Fatalf("listener in %s: %v", ns, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}); err != nil {
		t.Fatalf("bind %s in %s: %v", addr, ns, err)
	}
	if err := unix.Listen(fd, 8); err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, ns, err)
	}
}

func TestProto(t *testing.T) {
	l := newLab(t)
	got, err := Proto(l.cli, server, 253, answerTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if want := icmpErr(3, 2, server, unix.ENOPROTOOPT); got != want {
		t.Errorf("Proto(%s, 253) = %q %+v, want %q %+v", server, got, got, want, want)
	}
}

func TestRedirect(t *testing.T) {
	l := newLab(t)
	via, dev, err := RouteGet(l.cli, redirected)
	if err != nil {
		t.Fatal(err)
	}
	if via != router || dev != "gw0" {
		t.Fatalf("before the redirect: RouteGet(%s) = via %s dev %s, want via %s dev gw0", redirected, via, dev, router)
	}

	got, err := Redirect(l.cli, redirected, answerTimeout)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{ICMP: true, Type: 5, Code: 1, From: router, Gateway: newGateway}
	if got != want {
		t.Fatalf("Redirect(%s) = %q %+v, want %q %+v", redirected, got, got, want, want)
	}

	// The raw socket sees the Redirect just before the kernel's ICMP code
	// handles it; wait, boundedly, for the route cache to follow.
	for range 50 {
		if via, dev, err = RouteGet(l.cli, redirected); err != nil || via == newGateway {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if via != newGateway || dev != "gw0" {
		t.Errorf("after the redirect: RouteGet(%s) = via %s dev %s, want via %s dev gw0", redirected, via, dev, newGateway)
	}
	// Redirects are per destination: the rest of the network still goes
	// through the router.
	if via, _, err := RouteGet(l.cli, netip.MustParseAddr("198.18.1.2")); err != nil || via != router {
		t.Errorf("RouteGet(198.18.1.2) = via %s, %v; want via %s", via, err, router)
	}
}

// TestArgs checks that bad arguments fail before any socket exists, with
// the probe and the step in the message.
func TestArgs(t *testing.T) {
	v6 := netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name string
		run  func() (Result, error)
		want string
	}{
		{"echo without netns", func() (Result, error) { return Echo("", server, 0, time.Second) },
			"probe: echo to 203.0.113.2 in netns : check netns: no network namespace named"},
		{"echo to IPv6", func() (Result, error) { return Echo("x", v6, 0, time.Second) },
			"probe: echo to 2001:db8::1 in netns x: check destination: not an IPv4 address"},
		{"echo ttl 256", func() (Result, error) { return Echo("x", server, 256, time.Second) },
			"probe: echo to 203.0.113.2 in netns x: check ttl: got 256, want 0 (kernel default) or 1 to 255"},
		{"udp zero timeout", func() (Result, error) { return UDP("x", netip.AddrPortFrom(server, 1), UDPOptions{}, 0) },
			"probe: udp to 203.0.113.2:1 in netns x: check timeout: got 0s, want a positive duration"},
		{"udp size", func() (Result, error) {
			return UDP("x", netip.AddrPortFrom(server, 1), UDPOptions{Size: 70000}, time.Second)
		}, "probe: udp to 203.0.113.2:1 in netns x: check size: got 70000, want 0 (meaning 32) to 65507"},
		{"tcp without netns", func() (Result, error) { return TCP("", netip.AddrPortFrom(server, 1), time.Second) },
			"probe: tcp to 203.0.113.2:1 in netns : check netns"},
		{"proto 255", func() (Result, error) { return Proto("x", server, 255, time.Second) },
			"probe: protocol 255 to 203.0.113.2 in netns x: check protocol: got 255, want 1 to 254"},
		{"redirect to IPv6", func() (Result, error) { return Redirect("x", v6, time.Second) },
			"probe: redirect probe to 2001:db8::1 in netns x: check destination"},
		{"missing netns", func() (Result, error) {
			return UDP("icmpgw-tb-no-such-netns", netip.AddrPortFrom(server, 1), UDPOptions{}, time.Second)
		}, "probe: udp to 203.0.113.2:1 in netns icmpgw-tb-no-such-netns: create socket: open netns:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.run()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %+v, %v; want error starting %q", got, err, tt.want)
			}
			if got != (Result{}) {
				t.Errorf("got Result %+v with the error, want the zero Result", got)
			}
		})
	}
	if _, _, err := RouteGet("", server); !errors.Is(err, errNoNetns) {
		t.Errorf("RouteGet without netns: got %v, want errNoNetns", err)
	}
}

func TestResultString(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Result{Reply: true, ICMP: true, From: server}, "echo reply from 203.0.113.2"},
		{Result{Reply: true, From: server}, "answer from 203.0.113.2"},
		{Result{Reply: true, From: server, Errno: unix.ECONNREFUSED}, "reset from 203.0.113.2 (ECONNREFUSED)"},
		{icmpErr(3, 0, router, unix.ENETUNREACH), "dest-unreach/net from 198.51.100.1 (ENETUNREACH)"},
		{icmpErr(3, 1, router, unix.EHOSTUNREACH), "dest-unreach/host from 198.51.100.1 (EHOSTUNREACH)"},
		{icmpErr(3, 2, server, unix.ENOPROTOOPT), "dest-unreach/protocol from 203.0.113.2 (ENOPROTOOPT)"},
		{icmpErr(3, 3, server, unix.ECONNREFUSED), "dest-unreach/port from 203.0.113.2 (ECONNREFUSED)"},
		{icmpErr(3, 13, router, unix.EHOSTUNREACH), "dest-unreach/admin-prohibited from 198.51.100.1 (EHOSTUNREACH)"},
		{icmpErr(3, 99, router, 0), "dest-unreach/code 99 from 198.51.100.1"},
		{Result{ICMP: true, Type: 3, Code: 4, From: router, Errno: unix.EMSGSIZE, Info: 1400},
			"frag-needed mtu 1400 from 198.51.100.1 (EMSGSIZE)"},
		{icmpErr(11, 0, router, unix.EHOSTUNREACH), "time-exceeded from 198.51.100.1 (EHOSTUNREACH)"},
		{icmpErr(11, 1, server, unix.EHOSTUNREACH), "time-exceeded/reassembly from 203.0.113.2 (EHOSTUNREACH)"},
		{Result{ICMP: true, Type: 5, Code: 1, From: router, Gateway: newGateway},
			"redirect host -> 198.51.100.254 from 198.51.100.1"},
		{Result{ICMP: true, Type: 12, From: router, Errno: unix.EPROTO, Info: 20},
			"param-problem pointer 20 from 198.51.100.1 (EPROTO)"},
		{icmpErr(42, 7, router, 0), "icmp type 42 code 7 from 198.51.100.1"},
		{Result{Errno: unix.EMSGSIZE, Info: 1400}, "local error mtu 1400 (EMSGSIZE)"},
		{Result{Errno: unix.ENETUNREACH}, "local error (ENETUNREACH)"},
		{Result{Timeout: true}, "no answer"},
		{Result{}, "no report"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}
