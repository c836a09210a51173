package routing

import (
	"bytes"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun/packet"
	"github.com/icmpgw/icmpgw/tun/tuntest"
)

var (
	client   = netip.MustParseAddr("198.51.100.2")
	server   = netip.MustParseAddr("203.0.113.2")
	r1eth0   = netip.MustParseAddr("198.51.100.1")
	r1eth1   = netip.MustParseAddr("203.0.113.1")
	netUnr   = netip.MustParseAddr("198.18.0.1")
	hostUnr  = netip.MustParseAddr("198.18.0.65")
	prohib   = netip.MustParseAddr("198.18.0.129")
	blackh   = netip.MustParseAddr("198.18.0.193")
	redirDst = netip.MustParseAddr("198.18.1.1")
	redirGW  = netip.MustParseAddr("198.51.100.254")
	noRoute  = netip.MustParseAddr("198.19.0.1")
)

// testRouter is the default lab's router: eth0 198.51.100.1/24 (MTU 1500)
// toward the client, eth1 203.0.113.1/24 (MTU 1400) toward the server,
// and the demo routes.
func testRouter(t testing.TB, policy responder.Policy) *Router {
	t.Helper()
	eth0 := &Interface{Name: "eth0", Addr: netip.MustParsePrefix("198.51.100.1/24"), MTU: 1500, Dev: tuntest.Discard{}}
	eth1 := &Interface{Name: "eth1", Addr: netip.MustParsePrefix("203.0.113.1/24"), MTU: 1400, Dev: tuntest.Discard{}}
	r := New([]*Interface{eth0, eth1}, policy)
	for _, s := range []string{
		"unreachable net 198.18.0.0/26",
		"unreachable host 198.18.0.64/26",
		"prohibit 198.18.0.128/26",
		"blackhole 198.18.0.192/26",
		"198.18.1.0/24 via 198.51.100.254",
	} {
		rt, err := ParseRoute(s, r.Ifaces)
		if err != nil {
			t.Fatal(err)
		}
		r.AddRoute(rt)
	}
	return r
}

// sent is what one Process call is expected to send.
type sent struct {
	iface  string
	checks []tuntest.Checker
}

func quoteOf(b []byte) tuntest.Checker { return tuntest.Quotes(b) }

func icmpErr(iface string, from, to netip.Addr, typ ipv4.ICMPType, code packet.Code, word2 [4]byte, quote []byte) sent {
	return sent{iface, []tuntest.Checker{
		tuntest.Src(from), tuntest.Dst(to), tuntest.TTL(64), tuntest.TOS(0xc0),
		tuntest.ICMP(tuntest.Type(typ), tuntest.Code(code), tuntest.Word2(word2), quoteOf(quote)),
	}}
}

func withTTL(b []byte, ttl uint8) []byte {
	c := append([]byte(nil), b...)
	packet.IPv4(c).SetTTL(ttl)
	packet.IPv4(c).SetChecksum()
	return c
}

func TestProcess(t *testing.T) {
	ping := tuntest.Ping(client, server, 64, 56)
	pingTTL1 := tuntest.Ping(client, server, 1, 56)
	udpTTL1 := tuntest.UDP(client, server, 1, 32)
	bigDF := tuntest.Build(tuntest.Datagram{Src: client, Dst: server, DF: true, Protocol: packet.ProtocolUDP, Payload: tuntest.UDPPayload(40000, 33434, 1450)})
	big1000TTL1 := tuntest.UDP(client, server, 1, 1000)
	toRedirect := tuntest.Ping(client, redirDst, 64, 8)
	echoToR1 := tuntest.Ping(client, r1eth1, 1, 8) // TTL 1: a router MUST NOT check the TTL of its own datagrams
	udpToR1 := tuntest.UDP(client, r1eth0, 64, 4)
	synToR1 := tuntest.TCP(client, r1eth0, 40000, 80, 1000, 0, 0x02)
	ackToR1 := tuntest.TCP(client, r1eth0, 40000, 80, 1000, 777, 0x10)
	rstToR1 := tuntest.TCP(client, r1eth0, 40000, 80, 1000, 0, 0x04)
	proto253 := tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, Protocol: 253, Payload: make([]byte, 8)})
	errToR1 := tuntest.Build(tuntest.Datagram{Src: server, Dst: r1eth1, Protocol: packet.ProtocolICMP, Payload: icmpMsg(3, 3, ping[:28])})
	teTTL1 := tuntest.Build(tuntest.Datagram{Src: server, Dst: client, TTL: 1, Protocol: packet.ProtocolICMP, Payload: icmpMsg(11, 0, ping[:28])})
	fragTTL1 := withFragment(tuntest.UDP(client, server, 1, 32), false, 1480)
	badSum := append([]byte(nil), ping...)
	badSum[10] ^= 0xff
	udpSummed := udpWithChecksum(client, r1eth0, 4)
	udpBadSum := append([]byte(nil), udpSummed...)
	udpBadSum[len(udpBadSum)-1] ^= 0x01 // payload changed, checksum not
	udpShort := tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, Protocol: packet.ProtocolUDP, Payload: []byte{0x9c, 0x40, 0x82, 0x9a}})
	lsrrToR1 := tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, Protocol: packet.ProtocolICMP, Options: []byte{131, 7, 4, 203, 0, 113, 2, 0}, Payload: tuntest.EchoPayload(7, 1, 8)})
	shortICMPError := tuntest.Build(tuntest.Datagram{Src: client, Dst: netUnr, Protocol: packet.ProtocolICMP, Payload: []byte{3, 3, 0, 0}})

	tests := []struct {
		name   string
		in     []byte
		policy responder.Policy
		want   Outcome
		sent   []sent
	}{
		{
			name: "forward/decrements TTL, RFC 791",
			in:   ping, want: Forwarded,
			sent: []sent{{"eth1", []tuntest.Checker{tuntest.Src(client), tuntest.Dst(server), tuntest.TTL(63), tuntest.Len(len(ping))}}},
		},
		{
			name: "ttl/1 draws Time Exceeded quoting the whole datagram, RFC 1812 §5.3.1",
			in:   pingTTL1, want: DropTTL,
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeTimeExceeded, 0, [4]byte{}, pingTTL1)},
		},
		{
			name: "ttl/UDP probe quoted as it arrived, TTL 1",
			in:   udpTTL1, want: DropTTL,
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeTimeExceeded, 0, [4]byte{}, udpTTL1)},
		},
		{
			name: "quote/fills 576 bytes, RFC 1812 §4.3.2.3",
			in:   big1000TTL1, want: DropTTL,
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeTimeExceeded, 0, [4]byte{}, big1000TTL1[:548])},
		},
		{
			name: "quote/policy of 28 bytes",
			in:   big1000TTL1, want: DropTTL, policy: responder.Policy{Quote: 28},
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeTimeExceeded, 0, [4]byte{}, big1000TTL1[:28])},
		},
		{
			name: "unreachable/no route is net, code 0",
			in:   tuntest.Ping(client, noRoute, 64, 8), want: DropNoRoute,
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeDestinationUnreachable, 0, [4]byte{}, tuntest.Ping(client, noRoute, 64, 8))},
		},
		{
			name: "unreachable/net route, code 0",
			in:   tuntest.UDP(client, netUnr, 64, 4), want: DropUnreachable,
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeDestinationUnreachable, 0, [4]byte{}, tuntest.UDP(client, netUnr, 64, 4))},
		},
		{
			name: "unreachable/host route, code 1",
			in:   tuntest.UDP(client, hostUnr, 64, 4), want: DropUnreachable,
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeDestinationUnreachable, 1, [4]byte{}, tuntest.UDP(client, hostUnr, 64, 4))},
		},
		{
			name: "unreachable/prohibit route, code 13",
			in:   tuntest.UDP(client, prohib, 64, 4), want: DropUnreachable,
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeDestinationUnreachable, 13, [4]byte{}, tuntest.UDP(client, prohib, 64, 4))},
		},
		{
			name: "unreachable/route checked before TTL, as Linux",
			in:   tuntest.UDP(client, hostUnr, 1, 4), want: DropUnreachable,
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeDestinationUnreachable, 1, [4]byte{}, tuntest.UDP(client, hostUnr, 1, 4))},
		},
		{
			name: "blackhole/silent, RFC 1812 §5.2.7.1",
			in:   tuntest.UDP(client, blackh, 64, 4), want: DropBlackhole,
		},
		{
			name: "mtu/DF too big draws Fragmentation Needed with MTU 1400, RFC 1191 §4",
			in:   bigDF, want: DropFragNeeded,
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeDestinationUnreachable, 4, [4]byte{0, 0, 0x05, 0x78}, bigDF[:548])},
		},
		{
			name: "redirect/host, and still forwarded, RFC 1812 §5.2.7.2",
			in:   toRedirect, want: Forwarded,
			sent: []sent{
				icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeRedirect, 1, redirGW.As4(), toRedirect),
				{"eth0", []tuntest.Checker{tuntest.Dst(redirDst), tuntest.TTL(63)}},
			},
		},
		{
			name: "local/Echo Reply from the address asked, TTL 1 accepted, RFC 1122 §3.2.2.6",
			in:   echoToR1, want: Answered,
			sent: []sent{{"eth0", []tuntest.Checker{tuntest.Src(r1eth1), tuntest.Dst(client), tuntest.TTL(64),
				tuntest.ICMP(tuntest.Type(ipv4.ICMPTypeEchoReply), tuntest.Code(0), tuntest.Word2([4]byte{0, 7, 0, 1}), tuntest.Quotes(packet.IPv4(echoToR1).Payload()[8:]))}}},
		},
		{
			name: "local/UDP draws Port Unreachable from the address asked",
			in:   udpToR1, want: DropPortUnreachable,
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeDestinationUnreachable, 3, [4]byte{}, udpToR1)},
		},
		{
			name: "local/TCP SYN draws a RST|ACK acknowledging it, RFC 793 §3.4",
			in:   synToR1, want: DropTCPReset,
			sent: []sent{{"eth0", []tuntest.Checker{tuntest.Src(r1eth0), tuntest.Dst(client), tuntest.TCPReset(80, 40000, 0, 1001, 0x14)}}},
		},
		{
			name: "local/TCP ACK draws a RST with its sequence number",
			in:   ackToR1, want: DropTCPReset,
			sent: []sent{{"eth0", []tuntest.Checker{tuntest.TCPReset(80, 40000, 777, 0, 0x04)}}},
		},
		{name: "local/no RST answers a RST", in: rstToR1, want: Consumed},
		{
			name: "local/protocol 253 draws Protocol Unreachable",
			in:   proto253, want: DropProtoUnreachable,
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeDestinationUnreachable, 2, [4]byte{}, proto253)},
		},
		{name: "local/ICMP error to the router is consumed", in: errToR1, want: Consumed},
		{
			name: "local/UDP with a good checksum draws Port Unreachable",
			in:   udpSummed, want: DropPortUnreachable,
			sent: []sent{icmpErr("eth0", r1eth0, client, ipv4.ICMPTypeDestinationUnreachable, 3, [4]byte{}, udpSummed)},
		},
		{name: "local/UDP with a bad checksum is dropped silently, RFC 1122 §4.1.3.4", in: udpBadSum, want: DropBadTransport},
		{name: "local/UDP shorter than its header is dropped silently", in: udpShort, want: DropBadTransport},
		{name: "local/ICMP of 1 byte is dropped", in: tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, Protocol: packet.ProtocolICMP, Payload: []byte{8}}), want: DropBadICMP},
		{name: "local/ICMP of 7 bytes is dropped", in: tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, Protocol: packet.ProtocolICMP, Payload: make([]byte, 7)}), want: DropBadICMP},
		{name: "local/source-routed echo to the router is dropped as Linux does", in: lsrrToR1, want: DropSourceRoute},
		{name: "never/about a truncated ICMP error", in: shortICMPError, want: DropUnreachable},
		{name: "local/first fragment to the router is held for reassembly", in: withFragment(tuntest.Ping(client, r1eth0, 64, 8), true, 0), want: DropFragmentHeld},
		{name: "never/about an ICMP error, RFC 1122 §3.2.2", in: teTTL1, want: DropTTL},
		{name: "never/about a non-initial fragment, RFC 1122 §3.2.2", in: fragTTL1, want: DropTTL},
		{name: "policy/silent router sends no error", in: pingTTL1, want: DropTTL, policy: responder.Policy{Silent: true}},
		{name: "martian/source 0.0.0.0, RFC 1812 §5.3.7", in: tuntest.Ping(netip.MustParseAddr("0.0.0.0"), server, 64, 8), want: DropMartian},
		{name: "martian/source is a connected subnet's broadcast address", in: tuntest.UDP(netip.MustParseAddr("198.51.100.255"), server, 1, 8), want: DropMartian},
		{name: "martian/destination 127.0.0.1", in: tuntest.Ping(client, netip.MustParseAddr("127.0.0.1"), 64, 8), want: DropMartian},
		{name: "broadcast/limited, not forwarded", in: tuntest.Ping(client, netip.MustParseAddr("255.255.255.255"), 64, 8), want: DropBroadcast},
		{name: "broadcast/directed to a connected subnet", in: tuntest.Ping(client, netip.MustParseAddr("203.0.113.255"), 64, 8), want: DropBroadcast},
		{name: "broadcast/multicast", in: tuntest.Ping(client, netip.MustParseAddr("224.0.0.1"), 64, 8), want: DropBroadcast},
		{name: "malformed/bad header checksum, RFC 1812 §5.2.2", in: badSum, want: DropMalformed},
		{name: "malformed/truncated", in: ping[:19], want: DropMalformed},
		{name: "source route/LSRR dropped as Linux does", in: tuntest.Build(tuntest.Datagram{Src: client, Dst: server, Protocol: packet.ProtocolUDP, Options: []byte{131, 7, 4, 203, 0, 113, 2, 0}, Payload: tuntest.UDPPayload(1, 2, 0)}), want: DropSourceRoute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRouter(t, tt.policy)
			out := NewOutput()
			in := append([]byte(nil), tt.in...)
			if got := r.Process(r.Ifaces[0], in, out); got != tt.want {
				t.Errorf("outcome %v, want %v", got, tt.want)
			}
			if len(out.Packets) != len(tt.sent) {
				t.Fatalf("sent %d datagrams, want %d", len(out.Packets), len(tt.sent))
			}
			for i, w := range tt.sent {
				if got := out.Packets[i].Iface.Name; got != w.iface {
					t.Errorf("datagram %d leaves by %s, want %s", i, got, w.iface)
				}
				tuntest.CheckIPv4(t, out.Packets[i].Data, w.checks...)
			}
		})
	}
}

// udpWithChecksum is a UDP datagram whose checksum is computed over the
// pseudo-header (RFC 768).
func udpWithChecksum(src, dst netip.Addr, n int) []byte {
	b := tuntest.UDP(src, dst, 64, n)
	for i := range n {
		b[28+i] = byte(i + 1)
	}
	ip := packet.IPv4(b)
	udp := ip.Payload()
	sum := packet.Checksum(udp, packet.PseudoHeaderSum(ip, len(udp)))
	udp[6], udp[7] = byte(sum>>8), byte(sum)
	return b
}

func icmpMsg(typ, code uint8, body []byte) []byte {
	b := append(make([]byte, 8), body...)
	b[0], b[1] = typ, code
	packet.ICMPv4(b).SetChecksum()
	return b
}

func withFragment(b []byte, mf bool, offset int) []byte {
	c := append([]byte(nil), b...)
	packet.IPv4(c).SetFragment(mf, offset)
	packet.IPv4(c).SetChecksum()
	return c
}

func TestSuppressedCounted(t *testing.T) {
	r := testRouter(t, responder.Policy{})
	teTTL1 := tuntest.Build(tuntest.Datagram{Src: server, Dst: client, TTL: 1, Protocol: packet.ProtocolICMP, Payload: icmpMsg(11, 0, make([]byte, 28))})
	r.Process(r.Ifaces[1], teTTL1, NewOutput())
	r.Process(r.Ifaces[0], withFragment(tuntest.UDP(client, server, 1, 32), false, 1480), NewOutput())
	r.Process(r.Ifaces[0], withTTL(tuntest.Ping(client, server, 64, 8), 1), NewOutput())
	s := r.Stats()
	if s.Suppressed[responder.AboutICMPError] != 1 || s.Suppressed[responder.AboutFragment] != 1 {
		t.Errorf("suppressed %v, want one about-icmp-error and one about-fragment", s.Suppressed)
	}
	if s.Sent[ipv4.ICMPTypeTimeExceeded] != 1 || s.Received != 3 || s.Outcomes[DropTTL] != 3 {
		t.Errorf("sent %d Time Exceeded, received %d, %d ttl drops; want 1, 3, 3", s.Sent[11], s.Received, s.Outcomes[DropTTL])
	}
}

// TestRateLimit checks Linux's per-destination bucket: a burst of 6, then
// one per second; Fragmentation Needed is never limited.
func TestRateLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	r := testRouter(t, responder.Policy{})
	r.Now = func() time.Time { return now }
	count := func(pkt []byte, n int) int {
		sent := 0
		for range n {
			out := NewOutput()
			r.Process(r.Ifaces[0], append([]byte(nil), pkt...), out)
			sent += len(out.Packets)
		}
		return sent
	}
	ttl1 := tuntest.UDP(client, server, 1, 8)
	if got := count(ttl1, 10); got != 6 {
		t.Errorf("10 TTL-1 probes at once drew %d errors, want 6", got)
	}
	now = now.Add(999 * time.Millisecond)
	if got := count(ttl1, 1); got != 0 {
		t.Errorf("after 999ms: %d errors, want 0", got)
	}
	now = now.Add(time.Millisecond)
	if got := count(ttl1, 3); got != 1 {
		t.Errorf("after 1s: %d errors, want 1", got)
	}
	bigDF := tuntest.Build(tuntest.Datagram{Src: client, Dst: server, DF: true, Protocol: packet.ProtocolUDP, Payload: tuntest.UDPPayload(1, 2, 1450)})
	if got := count(bigDF, 10); got != 10 {
		t.Errorf("10 DF datagrams over the MTU drew %d Fragmentation Needed, want 10 (never limited)", got)
	}
	if got := r.Stats().Suppressed[responder.RateLimited]; got != 7 {
		t.Errorf("rate-limited counter %d, want 7 (4 + 1 + 2)", got)
	}
}

func TestNoRedirectsPerInterface(t *testing.T) {
	r := testRouter(t, responder.Policy{})
	r.Ifaces[0].NoRedirects = true
	out := NewOutput()
	if got := r.Process(r.Ifaces[0], tuntest.Ping(client, redirDst, 64, 8), out); got != Forwarded || len(out.Packets) != 1 {
		t.Fatalf("outcome %v with %d datagrams, want forwarded alone", got, len(out.Packets))
	}
}

func TestFragment(t *testing.T) {
	// 1472 bytes of UDP payload into a 1400-byte MTU: RFC 791 §3.2, with one
	// option that is copied (security, type 130) and one that is not
	// (record route, type 7).
	opts := []byte{
		130, 4, 0xab, 0xcd, // a copied option (copy flag set), 4 bytes
		7, 3, 4, 0, // record route, 3 bytes, not copied; then EOL
	}
	payload := make([]byte, 1480)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	orig := tuntest.Build(tuntest.Datagram{Src: client, Dst: server, ID: 0x1234, Protocol: packet.ProtocolUDP, Options: opts, Payload: payload})
	r := testRouter(t, responder.Policy{})
	out := NewOutput()
	if got := r.Process(r.Ifaces[0], append([]byte(nil), orig...), out); got != Forwarded {
		t.Fatalf("outcome %v, want forwarded", got)
	}
	if len(out.Packets) != 2 {
		t.Fatalf("%d fragments, want 2", len(out.Packets))
	}
	first, second := packet.IPv4(out.Packets[0].Data), packet.IPv4(out.Packets[1].Data)
	tuntest.CheckIPv4(t, first, tuntest.Len(28+1368), tuntest.TTL(63))
	tuntest.CheckIPv4(t, second, tuntest.TTL(63))
	if first.HeaderLen() != 28 || !bytes.Equal(first.Options(), opts) {
		t.Errorf("first fragment options % x, want all of % x", first.Options(), opts)
	}
	if second.HeaderLen() != 24 || !bytes.Equal(second.Options(), []byte{130, 4, 0xab, 0xcd}) {
		t.Errorf("second fragment options % x, want only the copied one", second.Options())
	}
	if !first.MF() || first.FragmentOffset() != 0 || second.MF() || second.FragmentOffset() != 1368 {
		t.Errorf("MF/offset %v/%d and %v/%d, want true/0 and false/1368", first.MF(), first.FragmentOffset(), second.MF(), second.FragmentOffset())
	}
	if first.ID() != 0x1234 || second.ID() != 0x1234 {
		t.Errorf("IDs %#x, %#x, want 0x1234", first.ID(), second.ID())
	}
	if got := append(append([]byte(nil), first.Payload()...), second.Payload()...); !bytes.Equal(got, payload) {
		t.Error("reassembled payload differs from the original")
	}
}

func TestForwardAllocs(t *testing.T) {
	r := testRouter(t, responder.Policy{NoRateLimit: true})
	out := NewOutput()
	for _, tt := range []struct {
		name string
		pkt  []byte
	}{
		{"forward", tuntest.Ping(client, server, 64, 56)},
		{"echo reply", tuntest.Ping(client, r1eth0, 64, 56)},
		{"time exceeded", tuntest.Ping(client, server, 1, 56)},
		{"forward, record route", tuntest.Build(tuntest.Datagram{Src: client, Dst: server, Protocol: packet.ProtocolUDP,
			Options: []byte{7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Payload: tuntest.UDPPayload(1, 2, 8)})},
		{"timestamp reply", tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, Protocol: packet.ProtocolICMP, Payload: icmpWithSum("0d0000001234000100010203aaaaaaaabbbbbbbb")})},
		{"echo reply, timestamp", tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, Protocol: packet.ProtocolICMP,
			Options: []byte{68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Payload: tuntest.EchoPayload(7, 1, 8)})},
	} {
		buf := make([]byte, len(tt.pkt))
		allocs := testing.AllocsPerRun(100, func() {
			copy(buf, tt.pkt)
			out.Reset()
			r.Process(r.Ifaces[0], buf, out)
			r.Send(out)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per datagram, want 0", tt.name, allocs)
		}
	}
}

func BenchmarkProcess(b *testing.B) {
	for _, size := range []int{64, 512, 1400} {
		for _, tt := range []struct {
			name string
			ttl  uint8
		}{{"forward", 64}, {"time-exceeded", 1}} {
			b.Run(tt.name+"/"+strconv.Itoa(size), func(b *testing.B) {
				r := testRouter(b, responder.Policy{NoRateLimit: true})
				pkt := tuntest.Build(tuntest.Datagram{Src: client, Dst: server, TTL: tt.ttl, Protocol: packet.ProtocolUDP, Payload: tuntest.UDPPayload(1, 2, size-28)})
				buf := make([]byte, len(pkt))
				out := NewOutput()
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					copy(buf, pkt)
					out.Reset()
					r.Process(r.Ifaces[0], buf, out)
					r.Send(out)
				}
			})
		}
	}
}
