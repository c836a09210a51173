package routing

import (
	"testing"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun/packet"
	"github.com/icmpgw/icmpgw/tun/tuntest"
)

// FuzzProcess feeds arbitrary bytes to the packet path and checks its
// invariants: it never panics; everything it sends is valid IPv4 with good
// checksums that fits the egress MTU; no datagram leaves with TTL 0; no
// ICMP error answers an ICMP error; errors are at most 576 bytes.
func FuzzProcess(f *testing.F) {
	f.Add(tuntest.Ping(client, server, 1, 8), false)
	f.Add(tuntest.UDP(client, netUnr, 64, 8), false)
	f.Add(tuntest.Ping(client, r1eth0, 64, 8), false)
	f.Add(tuntest.Build(tuntest.Datagram{Src: client, Dst: server, Protocol: packet.ProtocolUDP, Payload: make([]byte, 1450)}), true)
	r := testRouter(f, responder.Policy{NoRateLimit: true})
	out := NewOutput()
	f.Fuzz(func(t *testing.T, b []byte, fromServer bool) {
		in := r.Ifaces[0]
		if fromServer {
			in = r.Ifaces[1]
		}
		origICMPError := false
		if ip := packet.IPv4(b); ip.Validate() == packet.Valid && ip.Protocol() == packet.ProtocolICMP {
			icmp := packet.ICMPv4(ip.Payload())
			origICMPError = len(icmp) < 1 || !packet.IsQuery(icmp.Type())
		}
		out.Reset()
		o := r.Process(in, b, out)
		if o >= NumOutcomes {
			t.Fatalf("outcome %d out of range", o)
		}
		for _, e := range out.Packets {
			ip := packet.IPv4(e.Data)
			if p := ip.Validate(); p != packet.Valid {
				t.Fatalf("sent an invalid datagram (%v): % x", p, e.Data)
			}
			if len(e.Data) > e.Iface.MTU {
				t.Fatalf("sent %d bytes on a %d-byte MTU", len(e.Data), e.Iface.MTU)
			}
			if ip.TTL() == 0 {
				t.Fatal("sent a datagram with TTL 0")
			}
			if ip.Protocol() != packet.ProtocolICMP || ip.IsFragment() || ip.Src() == packet.IPv4(b).Src() {
				continue // forwarded, not ours
			}
			icmp := packet.ICMPv4(ip.Payload())
			if packet.Checksum(icmp, 0) != 0 {
				t.Fatal("ICMP checksum does not verify")
			}
			if icmp.Type() != ipv4.ICMPTypeEchoReply {
				if len(e.Data) > responder.MaxErrorLen {
					t.Fatalf("ICMP error of %d bytes", len(e.Data))
				}
				if origICMPError {
					t.Fatal("an ICMP error answered an ICMP error")
				}
			}
		}
	})
}
