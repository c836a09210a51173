package responder

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/tun/packet"
	"github.com/icmpgw/icmpgw/tun/tuntest"
)

var (
	client = netip.MustParseAddr("198.51.100.2")
	server = netip.MustParseAddr("203.0.113.2")
	r1     = netip.MustParseAddr("198.51.100.1")
)

// Echo Request 198.51.100.2 → 203.0.113.2, TTL 1.
var echoTTL1 = []byte{
	0x45, 0x00, 0x00, 0x1c, // version 4, IHL 5, TOS 0, total length 28
	0x00, 0x07, 0x00, 0x00, // ID 7, no flags, fragment offset 0
	0x01, 0x01, 0x53, 0xa2, // TTL 1, protocol 1 (ICMP), header checksum 0x53a2
	0xc6, 0x33, 0x64, 0x02, // source 198.51.100.2
	0xcb, 0x00, 0x71, 0x02, // destination 203.0.113.2
	0x08, 0x00, 0xf7, 0xf7, // type 8 (Echo), code 0, ICMP checksum 0xf7f7
	0x00, 0x07, 0x00, 0x01, // identifier 7, sequence 1
}

// Time Exceeded from 198.51.100.1 about echoTTL1, IP ID 1.
var timeExceeded = []byte{
	0x45, 0xc0, 0x00, 0x38, // version 4, IHL 5, TOS 0xc0 (internetwork control), total length 56
	0x00, 0x01, 0x00, 0x00, // ID 1, no flags (DF clear, as Linux), offset 0
	0x40, 0x01, 0x25, 0x9a, // TTL 64, protocol 1, header checksum 0x259a
	0xc6, 0x33, 0x64, 0x01, // source 198.51.100.1: the interface the error leaves by
	0xc6, 0x33, 0x64, 0x02, // destination 198.51.100.2: the offending datagram's source
	0x0b, 0x00, 0xf4, 0xff, // type 11 (Time Exceeded), code 0 (TTL), ICMP checksum 0xf4ff
	0x00, 0x00, 0x00, 0x00, // unused
	// the whole offending datagram, as it arrived (TTL 1)
	0x45, 0x00, 0x00, 0x1c, 0x00, 0x07, 0x00, 0x00, 0x01, 0x01, 0x53, 0xa2,
	0xc6, 0x33, 0x64, 0x02, 0xcb, 0x00, 0x71, 0x02,
	0x08, 0x00, 0xf7, 0xf7, 0x00, 0x07, 0x00, 0x01,
}

// Fragmentation Needed from 198.51.100.1 about echoTTL1, next-hop MTU
// 1400, IP ID 2.
var fragNeeded = []byte{
	0x45, 0xc0, 0x00, 0x38, // version 4, IHL 5, TOS 0xc0, total length 56
	0x00, 0x02, 0x00, 0x00, // ID 2
	0x40, 0x01, 0x25, 0x99, // TTL 64, protocol 1, header checksum 0x2599
	0xc6, 0x33, 0x64, 0x01, // source 198.51.100.1
	0xc6, 0x33, 0x64, 0x02, // destination 198.51.100.2
	0x03, 0x04, 0xf7, 0x83, // type 3 (Destination Unreachable), code 4 (fragmentation needed), checksum 0xf783
	0x00, 0x00, 0x05, 0x78, // unused, next-hop MTU 1400 (RFC 1191 §4)
	0x45, 0x00, 0x00, 0x1c, 0x00, 0x07, 0x00, 0x00, 0x01, 0x01, 0x53, 0xa2,
	0xc6, 0x33, 0x64, 0x02, 0xcb, 0x00, 0x71, 0x02,
	0x08, 0x00, 0xf7, 0xf7, 0x00, 0x07, 0x00, 0x01,
}

// Echo Request 198.51.100.2 → 198.51.100.1 (the router), TTL 64, and the
// Echo Reply to it, IP ID 3.
var (
	echoToRouter = []byte{
		0x45, 0x00, 0x00, 0x1c, // version 4, IHL 5, TOS 0, total length 28
		0x00, 0x07, 0x00, 0x00, // ID 7
		0x40, 0x01, 0x26, 0x70, // TTL 64, protocol 1, header checksum 0x2670
		0xc6, 0x33, 0x64, 0x02, // source 198.51.100.2
		0xc6, 0x33, 0x64, 0x01, // destination 198.51.100.1
		0x08, 0x00, 0xf7, 0xf7, // type 8 (Echo), code 0, checksum 0xf7f7
		0x00, 0x07, 0x00, 0x01, // identifier 7, sequence 1
	}
	echoReply = []byte{
		0x45, 0x00, 0x00, 0x1c, // version 4, IHL 5, TOS 0 (the request's), total length 28
		0x00, 0x03, 0x00, 0x00, // ID 3
		0x40, 0x01, 0x26, 0x74, // TTL 64, protocol 1, header checksum 0x2674
		0xc6, 0x33, 0x64, 0x01, // source 198.51.100.1: the address asked
		0xc6, 0x33, 0x64, 0x02, // destination 198.51.100.2
		0x00, 0x00, 0xff, 0xf7, // type 0 (Echo Reply), code 0, checksum 0xfff7 (RFC 1624 update)
		0x00, 0x07, 0x00, 0x01, // identifier 7, sequence 1: copied
	}
)

func TestGoldenErrors(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"time exceeded", AppendError(nil, Origin{r1, 1, TTL}, echoTTL1, TimeExceeded(), MaxErrorLen, 0), timeExceeded},
		{"fragmentation needed", AppendError(nil, Origin{r1, 2, TTL}, echoTTL1, FragNeeded(1400), MaxErrorLen, 0), fragNeeded},
		{"echo reply", AppendEchoReply(nil, Origin{r1, 3, TTL}, echoToRouter, nil), echoReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Equal(tt.got, tt.want) {
				t.Errorf("got\n% x\nwant\n% x", tt.got, tt.want)
			}
		})
	}
}

// TestDecodedByXNet checks the builders against a second implementation:
// golang.org/x/net/icmp must parse each message to the same fields.
func TestDecodedByXNet(t *testing.T) {
	orig := tuntest.UDP(client, server, 1, 1000)
	gw := netip.MustParseAddr("198.51.100.254")
	for _, tt := range []struct {
		name   string
		reason Reason
		check  func(t *testing.T, m *icmp.Message)
	}{
		{"time exceeded", TimeExceeded(), func(t *testing.T, m *icmp.Message) {
			if b, ok := m.Body.(*icmp.TimeExceeded); !ok || !bytes.Equal(b.Data, orig[:548]) {
				t.Errorf("body %T does not quote 548 bytes of the original", m.Body)
			}
		}},
		{"port unreachable", Unreachable(packet.CodePortUnreachable), func(t *testing.T, m *icmp.Message) {
			if b, ok := m.Body.(*icmp.DstUnreach); !ok || !bytes.Equal(b.Data, orig[:548]) {
				t.Errorf("body %T does not quote 548 bytes of the original", m.Body)
			}
		}},
		{"redirect", Redirect(gw), func(t *testing.T, m *icmp.Message) {
			raw, ok := m.Body.(*icmp.RawBody)
			if !ok || !bytes.Equal(raw.Data[:4], gw.AsSlice()) {
				t.Errorf("redirect body %#v does not start with gateway %v", m.Body, gw)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := AppendError(nil, Origin{r1, 9, TTL}, orig, tt.reason, MaxErrorLen, 0)
			if len(b) != MaxErrorLen {
				t.Errorf("error of %d bytes, want %d", len(b), MaxErrorLen)
			}
			m, err := icmp.ParseMessage(1, b[20:])
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != tt.reason.Type || m.Code != int(tt.reason.Code) {
				t.Errorf("type %v code %d, want %v %d", m.Type, m.Code, tt.reason.Type, tt.reason.Code)
			}
			if packet.Checksum(b[20:], 0) != 0 || packet.Checksum(b[:20], 0) != 0 {
				t.Error("checksum does not verify")
			}
			tt.check(t, m)
		})
	}
}

func TestQuoteBounds(t *testing.T) {
	orig := tuntest.UDP(client, server, 1, 1000)
	short := tuntest.UDP(client, server, 1, 2) // 30 bytes
	for _, tt := range []struct {
		name   string
		orig   []byte
		maxLen int
		quote  int
		want   int
	}{
		{"fills 576", orig, MaxErrorLen, 0, 548},
		{"egress MTU below 576", orig, 300, 0, 272},
		{"policy 128", orig, MaxErrorLen, 128, 128},
		{"policy below header+8 is raised to it", orig, MaxErrorLen, 8, 28},
		{"short datagram quoted whole", short, MaxErrorLen, 0, 30},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := AppendError(nil, Origin{r1, 1, TTL}, tt.orig, TimeExceeded(), tt.maxLen, tt.quote)
			if got := len(b) - 28; got != tt.want {
				t.Errorf("quoted %d bytes, want %d", got, tt.want)
			}
		})
	}
}

// TestMayError has one row per rule of RFC 1812 §4.3.2.7 / RFC 1122 §3.2.2.
func TestMayError(t *testing.T) {
	build := func(d tuntest.Datagram) []byte { return tuntest.Build(d) }
	icmpOf := func(typ byte) []byte {
		b := make([]byte, 36)
		b[0] = typ
		packet.ICMPv4(b).SetChecksum()
		return b
	}
	frag := func(b []byte, off int) []byte {
		packet.IPv4(b).SetFragment(false, off)
		packet.IPv4(b).SetChecksum()
		return b
	}
	for _, tt := range []struct {
		name string
		orig []byte
		want Suppress
	}{
		{"udp probe: send", tuntest.UDP(client, server, 1, 8), Send},
		{"echo request: send", tuntest.Ping(client, server, 1, 8), Send},
		{"first fragment: send", frag(tuntest.UDP(client, server, 1, 8), 0), Send},
		{"about an ICMP error (Time Exceeded)", build(tuntest.Datagram{Src: client, Dst: server, Protocol: 1, Payload: icmpOf(11)}), AboutICMPError},
		{"about an ICMP error (Destination Unreachable)", build(tuntest.Datagram{Src: client, Dst: server, Protocol: 1, Payload: icmpOf(3)}), AboutICMPError},
		{"about an unknown ICMP type, taken for an error", build(tuntest.Datagram{Src: client, Dst: server, Protocol: 1, Payload: icmpOf(99)}), AboutICMPError},
		{"about a truncated ICMP message", build(tuntest.Datagram{Src: client, Dst: server, Protocol: 1}), AboutICMPError},
		{"about a non-initial fragment", frag(tuntest.UDP(client, server, 1, 8), 8), AboutFragment},
		{"to the limited broadcast", tuntest.UDP(client, netip.MustParseAddr("255.255.255.255"), 1, 8), AboutMulticastDst},
		{"to multicast", tuntest.UDP(client, netip.MustParseAddr("224.0.0.251"), 1, 8), AboutMulticastDst},
		{"from 0.0.0.0", tuntest.UDP(netip.MustParseAddr("0.0.0.0"), server, 1, 8), AboutNonUniqueSrc},
		{"from loopback", tuntest.UDP(netip.MustParseAddr("127.0.0.1"), server, 1, 8), AboutNonUniqueSrc},
		{"from multicast", tuntest.UDP(netip.MustParseAddr("224.0.0.1"), server, 1, 8), AboutNonUniqueSrc},
		{"from the limited broadcast", tuntest.UDP(netip.MustParseAddr("255.255.255.255"), server, 1, 8), AboutNonUniqueSrc},
		{"from class E", tuntest.UDP(netip.MustParseAddr("240.0.0.1"), server, 1, 8), AboutNonUniqueSrc},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := MayError(tt.orig); got != tt.want {
				t.Errorf("MayError = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLimiterLikeLinux(t *testing.T) {
	l := Policy{}.NewLimiter()
	now := time.Unix(0, 0)
	allowed := func(n int, r Reason, dst netip.Addr) int {
		c := 0
		for range n {
			if l.Allow(dst, r, now) == Send {
				c++
			}
		}
		return c
	}
	if got := allowed(10, TimeExceeded(), client); got != 6 {
		t.Errorf("burst: %d of 10 allowed, want 6", got)
	}
	if got := allowed(10, TimeExceeded(), server); got != 6 {
		t.Errorf("a second destination has its own bucket: %d of 10, want 6", got)
	}
	if got := allowed(10, FragNeeded(1400), client); got != 10 {
		t.Errorf("Fragmentation Needed: %d of 10, want 10", got)
	}
	now = now.Add(2500 * time.Millisecond)
	if got := allowed(10, Unreachable(packet.CodeHostUnreachable), client); got != 2 {
		t.Errorf("2.5 s later: %d allowed, want 2", got)
	}
	now = now.Add(time.Hour)
	if got := allowed(10, TimeExceeded(), client); got != 6 {
		t.Errorf("the bucket never holds more than the burst: %d, want 6", got)
	}
	off := Policy{NoRateLimit: true}.NewLimiter()
	for range 100 {
		if off.Allow(client, TimeExceeded(), now) != Send {
			t.Fatal("limit off still limits")
		}
	}
}

// TestRouteErrorsLikeLinux checks the extra charge of Linux's ip_error,
// measured against a Linux router: a burst of pings to an unrouted prefix
// draws 2 errors, and pings every 0.5 s draw 3 and then none.
func TestRouteErrorsLikeLinux(t *testing.T) {
	l := Policy{}.NewLimiter()
	now := time.Unix(0, 0)
	sent := 0
	for range 10 {
		if l.Allow(client, RouteError(packet.CodeNetUnreachable), now) == Send {
			sent++
		}
	}
	if sent != 2 {
		t.Errorf("a burst of 10 drew %d route errors, want 2", sent)
	}
	l, sent = Policy{}.NewLimiter(), 0
	var at []int
	for i := range 12 {
		if l.Allow(client, RouteError(packet.CodeNetUnreachable), now.Add(time.Duration(i)*500*time.Millisecond)) == Send {
			at = append(at, i)
		}
	}
	if len(at) != 3 || at[0] != 0 || at[1] != 1 || at[2] != 2 {
		t.Errorf("probes every 0.5 s drew errors at probes %v, want [0 1 2]", at)
	}
	// Like Linux with icmp_ratelimit=100ms: the route error's own 1 s charge
	// still finds a new destination's bucket full.
	fast := Policy{RateInterval: 100 * time.Millisecond}.NewLimiter()
	if fast.Allow(client, RouteError(packet.CodeNetUnreachable), now) != Send {
		t.Error("a 100ms limit suppresses the first route error")
	}
	off := Policy{NoRateLimit: true}.NewLimiter()
	for range 20 {
		if off.Allow(client, RouteError(packet.CodeHostUnreachable), now) != Send {
			t.Fatal("--ratelimit off still limits route errors")
		}
	}
}

// TestRedirectBackoff follows Linux's ip_rt_send_redirect: redirect n+1
// waits 20ms << n; after 9 the host is taken to ignore them until it has
// been quiet for 20.48 s.
func TestRedirectBackoff(t *testing.T) {
	l := Policy{NoRateLimit: true}.NewLimiter()
	gw := Redirect(netip.MustParseAddr("198.51.100.254"))
	now := time.Unix(0, 0)
	var sent []time.Duration
	start := now
	for range 30000 { // one datagram a millisecond for 30 s
		if l.Allow(client, gw, now) == Send {
			sent = append(sent, now.Sub(start))
		}
		now = now.Add(time.Millisecond)
	}
	want := []time.Duration{0, 41, 122, 283, 604, 1245, 2526, 5087, 10208}
	if len(sent) != len(want) {
		t.Fatalf("sent at %v, want %d redirects", sent, len(want))
	}
	for i, w := range want {
		if sent[i] != w*time.Millisecond {
			t.Errorf("redirect %d at %v, want %v", i, sent[i], w*time.Millisecond)
		}
	}
	now = now.Add(redirectSilence + time.Millisecond)
	if l.Allow(client, gw, now) != Send {
		t.Error("after 20.48 s of quiet a redirect is sent again")
	}
}

func TestLimiterBoundsState(t *testing.T) {
	l := Policy{}.NewLimiter()
	now := time.Unix(0, 0)
	for i := range maxPeers + 10 {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		l.Allow(a, TimeExceeded(), now)
	}
	if len(l.peers) > maxPeers {
		t.Errorf("%d destinations remembered, want at most %d", len(l.peers), maxPeers)
	}
}

func FuzzAppendError(f *testing.F) {
	f.Add(echoTTL1, uint8(11), uint8(0), 576, 0)
	f.Add(fragNeeded, uint8(3), uint8(4), 1400, 28)
	f.Fuzz(func(t *testing.T, orig []byte, typ, code uint8, maxLen, quote int) {
		if packet.IPv4(orig).Validate() != packet.Valid {
			return
		}
		orig = orig[:packet.IPv4(orig).TotalLen()]
		maxLen = min(max(maxLen, 68), MaxErrorLen)
		quote = min(max(quote, 0), MaxErrorLen)
		b := AppendError(nil, Origin{r1, 1, TTL}, orig, Reason{Type: ipv4.ICMPType(typ), Code: packet.Code(code)}, maxLen, quote)
		ip := packet.IPv4(b)
		if ip.Validate() != packet.Valid {
			t.Fatalf("built an invalid datagram % x", b)
		}
		if packet.Checksum(ip.Payload(), 0) != 0 {
			t.Fatal("ICMP checksum does not verify")
		}
		if len(b) > MaxErrorLen && len(b) > 28+packet.IPv4(orig).HeaderLen()+8 {
			t.Fatalf("error of %d bytes", len(b))
		}
		if !bytes.HasPrefix(orig, ip.Payload()[8:]) {
			t.Fatal("the quote is not a prefix of the original")
		}
	})
}
