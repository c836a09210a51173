package routing

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun/tuntest"
)

// TestServeChannels runs the router over in-memory links, one Serve per
// interface as icmpgw does, while the routing table and policy change
// under it; run with -race.
func TestServeChannels(t *testing.T) {
	toClient, toServer := tuntest.NewChannel("client", 1500), tuntest.NewChannel("server", 1400)
	eth0 := &Interface{Name: "eth0", Addr: netip.MustParsePrefix("198.51.100.1/24"), MTU: 1500, Dev: toClient}
	eth1 := &Interface{Name: "eth1", Addr: netip.MustParsePrefix("203.0.113.1/24"), MTU: 1400, Dev: toServer}
	r := New([]*Interface{eth0, eth1}, responder.Policy{NoRateLimit: true})
	var wg sync.WaitGroup
	for _, ifc := range r.Ifaces {
		wg.Go(func() {
			if err := r.Serve(ifc); err != nil {
				t.Errorf("Serve(%s) = %v, want nil after Close", ifc.Name, err)
			}
		})
	}
	wg.Go(func() { // a control plane changing things meanwhile
		for i := range 200 {
			r.AddRoute(Route{Prefix: netip.MustParsePrefix("198.18.0.0/24"), Kind: Unreachable, Code: 1})
			r.DeleteRoute(netip.MustParsePrefix("198.18.0.0/24"))
			r.SetPolicy(responder.Policy{NoRateLimit: true, Quote: 28 + i%2})
		}
	})

	const n = 100
	for range n {
		toClient.In <- tuntest.Ping(client, server, 64, 56)
		toClient.In <- tuntest.Ping(client, server, 1, 56)
	}
	recv := func(c *tuntest.Channel) []byte {
		select {
		case b := <-c.Out:
			return b
		case <-time.After(5 * time.Second):
			t.Fatalf("nothing written to %s", c.Name())
			return nil
		}
	}
	for range n {
		tuntest.CheckIPv4(t, recv(toServer), tuntest.Src(client), tuntest.Dst(server), tuntest.TTL(63))
		tuntest.CheckIPv4(t, recv(toClient), tuntest.Src(r1eth0), tuntest.Dst(client),
			tuntest.ICMP(tuntest.Type(ipv4.ICMPTypeTimeExceeded), tuntest.Code(0)))
	}
	toClient.Close()
	toServer.Close()
	wg.Wait()
	if got := eth0.Stats(); got.RxPackets != 2*n || got.TxPackets != n {
		t.Errorf("eth0 stats %+v, want %d received and %d sent", got, 2*n, n)
	}
	if got := eth1.Stats(); got.RxPackets != 0 || got.TxPackets != n || got.TxBytes != n*84 {
		t.Errorf("eth1 stats %+v, want %d sent, %d bytes", got, n, n*84)
	}
	s := r.Stats()
	if s.Received != 2*n || s.Outcomes[Forwarded] != n || s.Outcomes[DropTTL] != n || s.Sent[ipv4.ICMPTypeTimeExceeded] != n {
		t.Errorf("received %d, forwarded %d, ttl %d, time exceeded sent %d; want %d, %d, %d, %d",
			s.Received, s.Outcomes[Forwarded], s.Outcomes[DropTTL], s.Sent[ipv4.ICMPTypeTimeExceeded], 2*n, n, n, n)
	}
}
