package routing

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun/tuntest"
	"github.com/icmpgw/icmpgw/tun/wire"
)

// chain builds n routers in a row, joined by perfect in-process links,
// as bench.sh's chain5.yaml: the first router's eth0 faces 198.51.100.0/24,
// the last one's eth1 203.0.113.0/24 (a Discard device).
func chain(tb testing.TB, n int) (routers []*Router) {
	tb.Helper()
	var prev *wire.Port
	for i := range n {
		inPort := prev
		eth0 := &Interface{Name: "eth0", MTU: 1500, Dev: tuntest.Discard{}, Addr: netip.MustParsePrefix("198.51.100.1/24")}
		if i > 0 {
			eth0.Addr = netip.MustParsePrefix(fmt.Sprintf("198.18.0.%d/30", 4*(i-1)+2))
			eth0.Dev = prev
		}
		eth1 := &Interface{Name: "eth1", MTU: 1500, Dev: tuntest.Discard{}, Addr: netip.MustParsePrefix("203.0.113.1/24")}
		if i < n-1 {
			l := wire.NewPair("a", "b", 1500, 1, uint64(i))
			tb.Cleanup(func() { l.Close() })
			eth1.Addr = netip.MustParsePrefix(fmt.Sprintf("198.18.0.%d/30", 4*i+1))
			eth1.Dev, prev = l.A, l.B
		}
		r := New([]*Interface{eth0, eth1}, responder.Policy{NoRateLimit: true})
		if i < n-1 {
			rt, err := ParseRoute(fmt.Sprintf("default via 198.18.0.%d", 4*i+2), r.Ifaces)
			if err != nil {
				tb.Fatal(err)
			}
			r.AddRoute(rt)
		}
		if i > 0 {
			inPort.SetReceiver(func(pkts [][]byte) { r.Receive(eth0, pkts) })
		}
		routers = append(routers, r)
	}
	return routers
}

// BenchmarkChain is one 64-byte UDP datagram through 1 and through 5
// routers joined by perfect links: the difference is what 4 more hops
// cost (bench.sh's virtual-hops figure, without the TUN devices).
func BenchmarkChain(b *testing.B) {
	for _, n := range []int{1, 5} {
		b.Run(fmt.Sprintf("routers=%d", n), func(b *testing.B) {
			routers := chain(b, n)
			r, in, last := routers[0], routers[0].Ifaces[0], routers[n-1]
			tmpl := tuntest.UDP(client, server, 64, 36)
			pkt := append([]byte(nil), tmpl...)
			batch := [][]byte{pkt}
			b.ReportAllocs()
			for b.Loop() {
				copy(pkt, tmpl)
				r.Receive(in, batch)
			}
			if got, sent := last.Stats().Outcomes[Forwarded], r.Stats().Received; got != sent {
				b.Fatalf("the last router forwarded %d of %d datagrams: %+v", got, sent, last.Stats().Outcomes)
			}
		})
	}
}
