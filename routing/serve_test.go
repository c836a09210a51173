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

// writeLog is a device that records each Write as one batch.
type writeLog struct {
	tuntest.Discard
	batches [][][]byte
}

func (w *writeLog) Write(bufs [][]byte) (int, error) {
	var batch [][]byte
	for _, b := range bufs {
		batch = append(batch, append([]byte(nil), b...))
	}
	w.batches = append(w.batches, batch)
	return len(bufs), nil
}

// TestReceiveBatchesWrites checks that Receive processes a batch in order
// and writes each run of datagrams for one interface in one Write, the
// order of everything kept.
func TestReceiveBatchesWrites(t *testing.T) {
	toClient, toServer := &writeLog{}, &writeLog{}
	eth0 := &Interface{Name: "eth0", Addr: netip.MustParsePrefix("198.51.100.1/24"), MTU: 1500, Dev: toClient}
	eth1 := &Interface{Name: "eth1", Addr: netip.MustParsePrefix("203.0.113.1/24"), MTU: 1400, Dev: toServer}
	r := New([]*Interface{eth0, eth1}, responder.Policy{NoRateLimit: true})
	r.Receive(eth0, [][]byte{
		tuntest.Ping(client, server, 64, 8),  // forwarded
		tuntest.Ping(client, server, 64, 9),  // forwarded
		tuntest.Ping(client, server, 1, 10),  // Time Exceeded
		tuntest.Ping(client, server, 64, 11), // forwarded
	})
	if got := len(toServer.batches); got != 2 || len(toServer.batches[0]) != 2 || len(toServer.batches[1]) != 1 {
		t.Fatalf("server link got %d writes, want 2 (of 2 datagrams, then 1)", got)
	}
	for i, want := range []int{8, 9, 11} {
		b := append(toServer.batches[0], toServer.batches[1]...)[i]
		tuntest.CheckIPv4(t, b, tuntest.Dst(server), tuntest.TTL(63), tuntest.Len(20+8+want))
	}
	if len(toClient.batches) != 1 || len(toClient.batches[0]) != 1 {
		t.Fatalf("client link got %d writes, want 1 of 1 datagram", len(toClient.batches))
	}
	tuntest.CheckIPv4(t, toClient.batches[0][0], tuntest.Src(r1eth0), tuntest.Dst(client),
		tuntest.ICMP(tuntest.Type(ipv4.ICMPTypeTimeExceeded), tuntest.Code(0)))
	if s := eth1.Stats(); s.TxPackets != 3 || s.TxBytes != 3*20+8+9+11+3*8 {
		t.Errorf("eth1 %+v, want 3 datagrams, %d bytes sent", s, 3*20+8+9+11+3*8)
	}
}

// TestReceiveAllocs checks that a hop through Receive, with its pooled
// Output, allocates nothing once warm.
func TestReceiveAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race; the allocation count holds only without it")
	}
	eth0 := &Interface{Name: "eth0", Addr: netip.MustParsePrefix("198.51.100.1/24"), MTU: 1500, Dev: tuntest.Discard{}}
	eth1 := &Interface{Name: "eth1", Addr: netip.MustParsePrefix("203.0.113.1/24"), MTU: 1400, Dev: tuntest.Discard{}}
	r := New([]*Interface{eth0, eth1}, responder.Policy{NoRateLimit: true})
	tmpl := tuntest.Ping(client, server, 64, 56)
	fwd, ttl1 := append([]byte(nil), tmpl...), tuntest.Ping(client, server, 1, 56)
	batch := [][]byte{fwd, ttl1}
	if n := testing.AllocsPerRun(1000, func() {
		copy(fwd, tmpl) // Process decremented its TTL
		r.Receive(eth0, batch)
	}); n != 0 {
		t.Errorf("Receive: %v allocs per batch, want 0", n)
	}
}
