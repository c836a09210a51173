package routing

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/icmpgw/icmpgw/tun/packet"
)

// linearLookup is the obvious longest-prefix match, the Table's oracle.
func linearLookup(routes []Route, dst netip.Addr) (Route, bool) {
	best, found := Route{}, false
	for _, r := range routes {
		if r.Prefix.Contains(dst) && (!found || r.Prefix.Bits() > best.Prefix.Bits()) {
			best, found = r, true
		}
	}
	return best, found
}

func randomPrefix(rng *rand.Rand) netip.Prefix {
	a := netip.AddrFrom4([4]byte{198, byte(18 + rng.IntN(2)), byte(rng.Uint32()), byte(rng.Uint32())})
	return netip.PrefixFrom(a, 15+rng.IntN(18)).Masked()
}

func TestTableAgainstLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var tbl Table
	byPrefix := map[netip.Prefix]Route{}
	for i := range 2000 {
		r := Route{Prefix: randomPrefix(rng), Kind: Unreachable, Code: packet.Code(i % 14)}
		tbl.Add(r)
		byPrefix[r.Prefix] = r
		if i%7 == 0 {
			p := randomPrefix(rng)
			_, had := byPrefix[p]
			if got := tbl.Delete(p); got != had {
				t.Fatalf("Delete(%v) = %v, want %v", p, got, had)
			}
			delete(byPrefix, p)
		}
	}
	var routes []Route
	for _, r := range byPrefix {
		routes = append(routes, r)
	}
	for range 20000 {
		dst := netip.AddrFrom4([4]byte{198, byte(18 + rng.IntN(2)), byte(rng.Uint32()), byte(rng.Uint32())})
		got, gotOK := tbl.Lookup(dst)
		want, wantOK := linearLookup(routes, dst)
		if got != want || gotOK != wantOK {
			t.Fatalf("Lookup(%v) = %v %v, want %v %v", dst, got, gotOK, want, wantOK)
		}
	}
	if got := len(tbl.Routes()); got != len(routes) {
		t.Errorf("Routes() has %d, want %d", got, len(routes))
	}
}

// TestTableConcurrent runs lookups while the table is replaced; run it with
// -race. Every lookup sees one whole snapshot: both routes from the same
// generation.
func TestTableConcurrent(t *testing.T) {
	var tbl Table
	a, b := netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("198.18.1.0/24")
	tbl.Replace([]Route{{Prefix: a, Code: 0}, {Prefix: b, Code: 0}})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for gen := range 2000 {
			c := packet.Code(gen % 2)
			tbl.Replace([]Route{{Prefix: a, Code: c}, {Prefix: b, Code: c}})
		}
	}()
	for range 20000 {
		if _, ok := tbl.Lookup(netip.MustParseAddr("198.18.0.9")); !ok {
			t.Fatal("a lookup saw an empty table during Replace")
		}
	}
	wg.Wait()
}

func TestParseRoute(t *testing.T) {
	eth0 := &Interface{Name: "eth0", Addr: netip.MustParsePrefix("198.51.100.1/24")}
	ifaces := []*Interface{eth0}
	for _, tt := range []struct {
		in, want, err string
	}{
		{in: "203.0.113.0/24 via 198.51.100.2", want: "203.0.113.0/24 via 198.51.100.2 dev eth0"},
		{in: "default via 198.51.100.2", want: "default via 198.51.100.2 dev eth0"},
		{in: "203.0.113.0/24 dev eth0", want: "203.0.113.0/24 dev eth0"},
		{in: "unreachable 198.18.0.64/26", want: "unreachable host 198.18.0.64/26"},
		{in: "unreachable net 198.18.0.0/26", want: "unreachable net 198.18.0.0/26"},
		{in: "unreachable port 198.18.0.0/26", want: "unreachable port 198.18.0.0/26"},
		{in: "prohibit 198.18.0.128/26", want: "prohibit 198.18.0.128/26"},
		{in: "unreachable prohibited 198.18.0.128/26", want: "prohibit 198.18.0.128/26"},
		{in: "blackhole 198.18.0.192/26", want: "blackhole 198.18.0.192/26"},
		{in: "", err: "empty route"},
		{in: "198.51.100/24 via 198.51.100.2", err: `prefix: got "198.51.100/24", want an IPv4 prefix`},
		{in: "198.18.0.1/24 via 198.51.100.2", err: "host bits set; want 198.18.0.0/24"},
		{in: "198.18.0.0/24 via 203.0.113.9", err: "gateway 203.0.113.9 is on none of the router's subnets"},
		{in: "198.18.0.0/24 via 198.51.100.1", err: "gateway 198.51.100.1 is the router's own address on eth0"},
		{in: "198.18.0.0/24 via 198.51.100.255", err: "gateway 198.51.100.255 is the broadcast address of eth0's subnet"},
		{in: "198.18.0.0/24 via nowhere", err: `via: got "nowhere"`},
		{in: "198.18.0.0/24 dev eth9", err: `no interface named "eth9"`},
		{in: "198.18.0.0/24", err: "needs via or dev"},
		{in: "blackhole 198.18.0.0/24 via 198.51.100.2", err: `unexpected "via" after the prefix of a blackhole route`},
		{in: "198.18.0.0/24 metric 5", err: `unexpected "metric"`},
		{in: "198.18.0.0/24 via", err: `"via" needs a value`},
	} {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRoute(tt.in, ifaces)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("parsed as %q, want %q", got, tt.want)
			}
		})
	}
}

func BenchmarkLookup(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	var tbl Table
	for range 10000 {
		tbl.Add(Route{Prefix: randomPrefix(rng), Kind: Blackhole})
	}
	dst := netip.MustParseAddr("198.18.77.9")
	b.ReportAllocs()
	for b.Loop() {
		tbl.Lookup(dst)
	}
}
