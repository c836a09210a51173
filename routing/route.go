package routing

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/icmpgw/icmpgw/tun/packet"
)

// Kind says what a route does with a datagram, in iproute2's words.
type Kind uint8

// Route kinds.
const (
	// Unicast forwards out of an interface, to a gateway or on-link.
	Unicast Kind = iota
	// Unreachable drops and sends Destination Unreachable with the route's
	// Code (iproute2 "unreachable"; "prohibit" is Unreachable with code 13).
	Unreachable
	// Blackhole drops without a word (iproute2 "blackhole").
	Blackhole
)

// Route is one entry of a Table.
type Route struct {
	Prefix netip.Prefix
	Kind   Kind
	// Iface is where Unicast routes leave; nil for other kinds.
	Iface *Interface
	// Via is the gateway; the zero Addr means the destination is on-link.
	Via netip.Addr
	// Code is the Destination Unreachable code an Unreachable route sends.
	Code packet.Code
}

// NextHop is where a datagram to dst goes next under r.
func (r Route) NextHop(dst netip.Addr) netip.Addr {
	if r.Via.IsValid() {
		return r.Via
	}
	return dst
}

// unreachableCodes are the words "unreachable" takes, and the code each
// sends. Linux's "ip route add unreachable" sends host (1) and a lookup
// with no route sends net (0); "prohibit" sends 13.
var unreachableCodes = []struct {
	word string
	code packet.Code
}{
	{"net", packet.CodeNetUnreachable},
	{"host", packet.CodeHostUnreachable},
	{"protocol", packet.CodeProtocolUnreachable},
	{"port", packet.CodePortUnreachable},
	{"prohibited", packet.CodeAdminProhibited},
}

// CodeName is the word ParseRoute takes for an unreachable code.
func CodeName(c packet.Code) string {
	if c == packet.CodeFragNeeded {
		return "fragmentation-needed"
	}
	for _, u := range unreachableCodes {
		if u.code == c {
			return u.word
		}
	}
	return fmt.Sprintf("code-%d", c)
}

func (r Route) String() string {
	switch r.Kind {
	case Unreachable:
		if r.Code == packet.CodeAdminProhibited {
			return "prohibit " + r.Prefix.String()
		}
		return "unreachable " + CodeName(r.Code) + " " + r.Prefix.String()
	case Blackhole:
		return "blackhole " + r.Prefix.String()
	}
	s := r.Prefix.String()
	if r.Prefix.Bits() == 0 {
		s = "default"
	}
	if r.Via.IsValid() {
		s += " via " + r.Via.String()
	}
	if r.Iface != nil {
		s += " dev " + r.Iface.Name
	}
	return s
}

// ParseRoute reads a route in iproute2's words:
//
//	203.0.113.0/24 via 198.51.100.2 [dev eth1]
//	203.0.113.0/24 dev eth1
//	default via 198.51.100.2
//	unreachable [net|host|protocol|port|prohibited] 198.18.0.0/26   (plain: host, as Linux)
//	prohibit 198.18.0.128/26
//	blackhole 198.18.0.192/26
//
// ifaces resolves "dev" and, when dev is left out, finds the interface
// whose subnet holds the gateway. Errors name the word that was wrong and
// what was expected.
func ParseRoute(s string, ifaces []*Interface) (Route, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Route{}, fmt.Errorf("empty route, want e.g. \"203.0.113.0/24 via 198.51.100.2\"")
	}
	var r Route
	switch f[0] {
	case "unreachable":
		r.Kind, r.Code, f = Unreachable, packet.CodeHostUnreachable, f[1:]
		for _, u := range unreachableCodes {
			if len(f) > 0 && f[0] == u.word {
				r.Code, f = u.code, f[1:]
			}
		}
	case "prohibit":
		r.Kind, r.Code, f = Unreachable, packet.CodeAdminProhibited, f[1:]
	case "blackhole":
		r.Kind, f = Blackhole, f[1:]
	}
	if len(f) == 0 {
		return Route{}, fmt.Errorf("route %q: missing prefix, want e.g. 198.18.0.0/26", s)
	}
	p, err := parsePrefix(f[0])
	if err != nil {
		return Route{}, fmt.Errorf("route %q: %v", s, err)
	}
	r.Prefix, f = p, f[1:]
	if r.Kind != Unicast {
		if len(f) > 0 {
			return Route{}, fmt.Errorf("route %q: unexpected %q after the prefix of a %s route", s, f[0], strings.Fields(s)[0])
		}
		return r, nil
	}
	for len(f) > 0 {
		if len(f) < 2 {
			return Route{}, fmt.Errorf("route %q: %q needs a value", s, f[0])
		}
		switch f[0] {
		case "via":
			gw, err := netip.ParseAddr(f[1])
			if err != nil || !gw.Is4() {
				return Route{}, fmt.Errorf("route %q: via: got %q, want an IPv4 address such as 198.51.100.2", s, f[1])
			}
			r.Via = gw
		case "dev":
			for _, ifc := range ifaces {
				if ifc.Name == f[1] {
					r.Iface = ifc
				}
			}
			if r.Iface == nil {
				return Route{}, fmt.Errorf("route %q: dev: no interface named %q", s, f[1])
			}
		default:
			return Route{}, fmt.Errorf("route %q: unexpected %q, want via, dev, or a kind (unreachable, prohibit, blackhole) first", s, f[0])
		}
		f = f[2:]
	}
	if !r.Via.IsValid() && r.Iface == nil {
		return Route{}, fmt.Errorf("route %q: a unicast route needs via or dev", s)
	}
	if r.Iface == nil {
		for _, ifc := range ifaces {
			if ifc.Addr.Contains(r.Via) {
				r.Iface = ifc
			}
		}
		if r.Iface == nil {
			return Route{}, fmt.Errorf("route %q: gateway %s is on none of the router's subnets", s, r.Via)
		}
	}
	// A gateway that is the router itself would have it forward, and
	// redirect, to itself; Linux refuses a broadcast one ("Nexthop has
	// invalid gateway").
	for _, ifc := range ifaces {
		switch {
		case !r.Via.IsValid():
		case r.Via == ifc.Addr.Addr():
			return Route{}, fmt.Errorf("route %q: gateway %s is the router's own address on %s", s, r.Via, ifc.Name)
		case r.Via == broadcastOf(ifc.Addr):
			return Route{}, fmt.Errorf("route %q: gateway %s is the broadcast address of %s's subnet", s, r.Via, ifc.Name)
		}
	}
	return r, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if s == "default" {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("prefix: got %q, want an IPv4 prefix such as 198.18.0.0/26 or default", s)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("prefix: got %q, which has host bits set; want %s", s, p.Masked())
	}
	return p, nil
}
