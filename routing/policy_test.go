package routing

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun/packet"
	"github.com/icmpgw/icmpgw/tun/tuntest"
)

// process runs one datagram arriving on eth0 through r.
func process(r *Router, b []byte) (Outcome, *Output) {
	out := NewOutput()
	return r.Process(r.Ifaces[0], append([]byte(nil), b...), out), out
}

func TestInterfaceDown(t *testing.T) {
	r := testRouter(t, responder.Policy{NoRateLimit: true})
	eth1 := r.Ifaces[1]
	r.AddRoute(Route{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Kind: Unreachable, Code: packet.CodeHostUnreachable})

	r.SetUp(eth1, false)
	// The connected route through eth1 is withdrawn: the default route
	// (unreachable host) answers instead.
	o, out := process(r, tuntest.Ping(client, server, 64, 8))
	if o != DropUnreachable || len(out.Packets) != 1 {
		t.Fatalf("eth1 down: outcome %v with %d datagrams, want unreachable-route and one error", o, len(out.Packets))
	}
	tuntest.CheckIPv4(t, out.Packets[0].Data, tuntest.ICMP(tuntest.Type(ipv4.ICMPTypeDestinationUnreachable), tuntest.Code(1)))
	if o := r.Process(eth1, tuntest.Ping(server, client, 64, 8), NewOutput()); o != DropIfaceDown {
		t.Errorf("arriving on a down interface: %v, want interface-down", o)
	}
	r.DeleteRoute(netip.MustParsePrefix("0.0.0.0/0"))
	if o, _ := process(r, tuntest.Ping(client, server, 64, 8)); o != DropNoRoute {
		t.Errorf("eth1 down, no default: %v, want no-route", o)
	}

	r.SetUp(eth1, true)
	if o, out := process(r, tuntest.Ping(client, server, 64, 8)); o != Forwarded || out.Packets[0].Iface != eth1 {
		t.Errorf("eth1 up again: %v, want forwarded on eth1", o)
	}
}

func TestPolicyPersonality(t *testing.T) {
	fixed := netip.MustParseAddr("198.18.9.9")
	ttl1 := tuntest.UDP(client, server, 1, 1000)
	tests := []struct {
		name   string
		policy responder.Policy
		in     []byte
		want   Outcome
		checks []tuntest.Checker
	}{
		{"source incoming", responder.Policy{Source: responder.SourceIncoming}, tuntest.UDP(client, server, 1, 8), DropTTL,
			[]tuntest.Checker{tuntest.Src(r1eth0)}},
		{"source fixed", responder.Policy{Source: responder.SourceFixed, SourceAddr: fixed}, tuntest.UDP(client, server, 1, 8), DropTTL,
			[]tuntest.Checker{tuntest.Src(fixed)}},
		{"ttl 255", responder.Policy{TTL: 255}, tuntest.UDP(client, server, 1, 8), DropTTL,
			[]tuntest.Checker{tuntest.TTL(255)}},
		{"echo reply ttl 255", responder.Policy{TTL: 255}, tuntest.Ping(client, r1eth0, 64, 8), Answered,
			[]tuntest.Checker{tuntest.TTL(255)}},
		{"no echo", responder.Policy{NoEcho: true}, tuntest.Ping(client, r1eth0, 64, 8), DropEchoIgnored, nil},
		{"no redirects router-wide", responder.Policy{NoRedirects: true}, tuntest.Ping(client, redirDst, 64, 8), Forwarded,
			[]tuntest.Checker{tuntest.Dst(redirDst)}},
		{"quote all", responder.Policy{QuoteAll: true}, ttl1, DropTTL,
			[]tuntest.Checker{tuntest.Len(28 + len(ttl1)), tuntest.ICMP(tuntest.Quotes(ttl1))}},
		{"quote rfc792", responder.Policy{Quote: 28}, ttl1, DropTTL,
			[]tuntest.Checker{tuntest.Len(28 + 28)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRouter(t, tt.policy)
			o, out := process(r, tt.in)
			if o != tt.want {
				t.Fatalf("outcome %v, want %v", o, tt.want)
			}
			if tt.checks == nil {
				if len(out.Packets) != 0 {
					t.Fatalf("sent %d datagrams, want none", len(out.Packets))
				}
				return
			}
			if len(out.Packets) != 1 {
				t.Fatalf("sent %d datagrams, want 1", len(out.Packets))
			}
			tuntest.CheckIPv4(t, out.Packets[0].Data, tt.checks...)
		})
	}
}

func TestPolicyDelay(t *testing.T) {
	toClient := tuntest.NewChannel("client", 1500)
	r := testRouter(t, responder.Policy{Delay: 50 * time.Millisecond})
	r.Ifaces[0].Dev = toClient
	o, out := process(r, tuntest.UDP(client, server, 1, 8))
	if o != DropTTL || len(out.Packets) != 1 || out.Packets[0].Delay != 50*time.Millisecond {
		t.Fatalf("outcome %v, %d datagrams; want one Time Exceeded held back 50ms", o, len(out.Packets))
	}
	r.Send(out)
	select {
	case <-toClient.Out:
		t.Fatal("the delayed message was written at once")
	default:
	}
	select {
	case b := <-toClient.Out:
		tuntest.CheckIPv4(t, b, tuntest.ICMP(tuntest.Type(ipv4.ICMPTypeTimeExceeded)))
	case <-time.After(5 * time.Second):
		t.Fatal("the delayed message never came")
	}
	// Counted once written: the write and the count follow each other.
	deadline := time.Now().Add(5 * time.Second)
	for r.Stats().Sent[ipv4.ICMPTypeTimeExceeded] == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if s := r.Stats(); s.Sent[ipv4.ICMPTypeTimeExceeded] != 1 || s.TimeExceeded[0] != 1 || s.DelayedHeld != 0 {
		t.Errorf("sent %d Time Exceeded (code 0: %d), %d held; want 1, 1, 0", s.Sent[ipv4.ICMPTypeTimeExceeded], s.TimeExceeded[0], s.DelayedHeld)
	}
}

// TestPolicyDelayAccounting: messages a policy delay holds back are
// counted while held, and as lost when the queue is full or their
// interface goes down before they are due.
func TestPolicyDelayAccounting(t *testing.T) {
	r := testRouter(t, responder.Policy{Delay: time.Hour, NoRateLimit: true})
	for range maxDelayed + 3 {
		_, out := process(r, tuntest.UDP(client, server, 1, 8))
		r.Send(out)
	}
	if s := r.Stats(); s.DelayedHeld != maxDelayed || s.DelayedLost != 3 || s.WriteErrors != 0 || s.Sent[ipv4.ICMPTypeTimeExceeded] != 0 {
		t.Errorf("held %d, lost %d, write errors %d, sent %d; want %d, 3, 0, 0", s.DelayedHeld, s.DelayedLost, s.WriteErrors, s.Sent[ipv4.ICMPTypeTimeExceeded], maxDelayed)
	}

	r = testRouter(t, responder.Policy{Delay: 20 * time.Millisecond, NoRateLimit: true})
	_, out := process(r, tuntest.UDP(client, server, 1, 8))
	r.Send(out)
	r.SetUp(r.Ifaces[0], false)
	deadline := time.Now().Add(5 * time.Second)
	for r.Stats().DelayedHeld != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s := r.Stats(); s.DelayedHeld != 0 || s.DelayedLost != 1 || r.Ifaces[0].Stats().TxPackets != 0 {
		t.Errorf("held %d, lost %d, written %d; want 0, 1, 0", s.DelayedHeld, s.DelayedLost, r.Ifaces[0].Stats().TxPackets)
	}
}

func TestOnDecision(t *testing.T) {
	var got []Decision
	r := testRouter(t, responder.Policy{NoRateLimit: true})
	r.OnDecision = func(d Decision) { d.Orig = nil; got = append(got, d) }
	process(r, tuntest.UDP(client, server, 1, 8))
	process(r, tuntest.UDP(client, blackh, 64, 8))
	process(r, tuntest.Build(tuntest.Datagram{Src: client, Dst: server, TTL: 1, Protocol: packet.ProtocolICMP, Payload: []byte{3, 3, 0, 0}}))
	want := []Decision{
		{Reason: responder.TimeExceeded(), In: r.Ifaces[0], Out: r.Ifaces[0], From: r1eth0},
		{Suppressed: responder.Blackholed, In: r.Ifaces[0]},
		{Reason: responder.TimeExceeded(), Suppressed: responder.AboutICMPError, In: r.Ifaces[0]},
	}
	if len(got) != len(want) {
		t.Fatalf("%d decisions, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Reason != w.Reason || g.Suppressed != w.Suppressed || g.In != w.In || g.Out != w.Out || g.From != w.From {
			t.Errorf("decision %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestParameterProblem: a sound header with an option that overruns it
// draws Parameter Problem pointing at that option, as Linux's
// ip_options_compile does; the datagram is not forwarded.
func TestParameterProblem(t *testing.T) {
	r := testRouter(t, responder.Policy{NoRateLimit: true})
	bad := tuntest.Build(tuntest.Datagram{Src: client, Dst: server, Protocol: packet.ProtocolUDP,
		Options: []byte{
			1,          // NOP at octet 20
			7, 9, 4, 0, // record route claiming 9 bytes from octet 21: overruns the 24-byte header
			0, 0, 0,
		},
		Payload: tuntest.UDPPayload(1, 2, 8)})
	o, out := process(r, bad)
	if o != DropMalformed || len(out.Packets) != 1 {
		t.Fatalf("outcome %v with %d datagrams, want malformed and one Parameter Problem", o, len(out.Packets))
	}
	tuntest.CheckIPv4(t, out.Packets[0].Data, tuntest.Src(r1eth0), tuntest.Dst(client),
		tuntest.ICMP(tuntest.Type(ipv4.ICMPTypeParameterProblem), tuntest.Code(0), tuntest.Word2([4]byte{21, 0, 0, 0}), tuntest.Quotes(bad)))
	if got := r.Stats().Malformed[packet.BadOptions]; got != 1 {
		t.Errorf("bad-options counter %d, want 1", got)
	}
}
