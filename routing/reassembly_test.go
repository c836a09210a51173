package routing

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun/packet"
	"github.com/icmpgw/icmpgw/tun/tuntest"
)

// fragments splits pkt for an MTU the way a sender would.
func fragments(pkt []byte, mtu int) [][]byte {
	out := NewOutput()
	out.add(&Interface{MTU: mtu}, packet.IPv4(append([]byte(nil), pkt...)))
	var fs [][]byte
	for _, e := range out.Packets {
		fs = append(fs, append([]byte(nil), e.Data...))
	}
	return fs
}

// TestReassemblyAnswersBigPing: a 3000-byte ping to the router, in three
// fragments that arrive out of order, is answered; the 3028-byte reply is
// fragmented for eth0's MTU of 1500.
func TestReassemblyAnswersBigPing(t *testing.T) {
	r := testRouter(t, responder.Policy{NoRateLimit: true})
	ping := tuntest.Ping(client, r1eth0, 64, 3000)
	fs := fragments(ping, 1400)
	if len(fs) != 3 {
		t.Fatalf("%d fragments, want 3", len(fs))
	}
	for i, f := range []int{2, 0} {
		if o, out := process(r, fs[f]); o != DropFragmentHeld || len(out.Packets) != 0 {
			t.Fatalf("fragment %d (%d): %v, %d sent; want fragment-held, nothing", i, f, o, len(out.Packets))
		}
	}
	o, out := process(r, fs[1])
	if o != Answered || len(out.Packets) != 3 {
		t.Fatalf("last fragment: %v with %d datagrams, want answered in 3 fragments", o, len(out.Packets))
	}
	var echo []byte
	for _, e := range out.Packets {
		tuntest.CheckIPv4(t, e.Data, tuntest.Src(r1eth0), tuntest.Dst(client))
		if len(e.Data) > 1500 {
			t.Errorf("reply fragment of %d bytes on MTU 1500", len(e.Data))
		}
		echo = append(echo, packet.IPv4(e.Data).Payload()...)
	}
	want := packet.IPv4(ping).Payload()
	if len(echo) != len(want) || echo[0] != 0 || !bytes.Equal(echo[4:], want[4:]) {
		t.Errorf("reassembled reply differs from the request beyond the type and checksum")
	}
	if packet.Checksum(echo, 0) != 0 {
		t.Error("the reply's ICMP checksum does not verify")
	}
}

// TestReassemblyTimeout: RFC 1122 §3.3.2 — Time Exceeded, code 1, when
// fragment zero came but the rest did not; nothing when it did not come.
func TestReassemblyTimeout(t *testing.T) {
	toClient := tuntest.NewChannel("client", 1500)
	r := testRouter(t, responder.Policy{NoRateLimit: true})
	r.Ifaces[0].Dev = toClient
	r.frags.timeout = 20 * time.Millisecond

	fs := fragments(tuntest.Ping(client, r1eth0, 64, 3000), 1400)
	process(r, fs[0])
	select {
	case b := <-toClient.Out:
		tuntest.CheckIPv4(t, b, tuntest.Src(r1eth0), tuntest.Dst(client),
			tuntest.ICMP(tuntest.Type(ipv4.ICMPTypeTimeExceeded), tuntest.Code(packet.CodeReassemblyExceeded)))
	case <-time.After(5 * time.Second):
		t.Fatal("no Time Exceeded after the reassembly timeout")
	}

	other := fragments(edit(tuntest.Ping(client, r1eth0, 64, 3000), func(b []byte) { b[5]++; resum(b) }), 1400)
	process(r, other[1])
	time.Sleep(100 * time.Millisecond)
	select {
	case <-toClient.Out:
		t.Error("Time Exceeded without fragment zero")
	default:
	}
	if got := r.Stats().ReassemblyTimeouts; got != 2 {
		t.Errorf("%d reassembly timeouts counted, want 2", got)
	}
}

// TestReassemblyBounded: a source gets at most a few datagrams in pieces.
func TestReassemblyBounded(t *testing.T) {
	r := testRouter(t, responder.Policy{NoRateLimit: true})
	held := 0
	for id := range 10 {
		p := tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, ID: uint16(id + 1), Protocol: packet.ProtocolICMP, Payload: tuntest.EchoPayload(7, 1, 3000)})
		if o, _ := process(r, fragments(p, 1400)[0]); o == DropFragmentHeld {
			held++
		}
	}
	if held != reassemblyPerSource {
		t.Errorf("%d datagrams held for one source, want %d", held, reassemblyPerSource)
	}
}
