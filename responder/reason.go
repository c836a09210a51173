package responder

import (
	"net/netip"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/tun/packet"
)

// Reason is an ICMP error to send: its type and code, and the one field of
// the second header word that the type uses. Make one with the
// constructors below.
type Reason struct {
	Type    ipv4.ICMPType
	Code    packet.Code
	MTU     uint16     // Fragmentation Needed: next-hop MTU, RFC 1191 §4
	Gateway netip.Addr // Redirect: the better first hop, RFC 792
	Pointer uint8      // Parameter Problem: the octet at fault, RFC 792

	routeError bool // drawn by the routing table; see RouteError
}

// TimeExceeded is Time Exceeded, TTL exceeded in transit (RFC 792; RFC
// 1812 §5.3.1).
func TimeExceeded() Reason {
	return Reason{Type: ipv4.ICMPTypeTimeExceeded, Code: packet.CodeTTLExceeded}
}

// ReassemblyTimeout is Time Exceeded, fragment reassembly time exceeded
// (RFC 792; RFC 1122 §3.3.2).
func ReassemblyTimeout() Reason {
	return Reason{Type: ipv4.ICMPTypeTimeExceeded, Code: packet.CodeReassemblyExceeded}
}

// Unreachable is Destination Unreachable with the given code.
func Unreachable(code packet.Code) Reason {
	return Reason{Type: ipv4.ICMPTypeDestinationUnreachable, Code: code}
}

// ParamProblem is Parameter Problem, code 0, pointing at the header octet
// at fault: RFC 792 sends it for a problem no other message covers, "with
// incorrect arguments in an option" its example; 20 is the first option's
// type.
func ParamProblem(pointer int) Reason {
	return Reason{Type: ipv4.ICMPTypeParameterProblem, Pointer: uint8(pointer)}
}

// RouteError is Destination Unreachable drawn by the routing table: no
// route, or an unreachable or prohibit route. Linux (ip_error) charges
// these to the destination's bucket once more before the usual limit, at
// 1 s apiece with a burst of 5 s, so a burst draws 2 such errors, not 6,
// and steady probing every 0.5 s draws 3 and then none.
func RouteError(code packet.Code) Reason {
	r := Unreachable(code)
	r.routeError = true
	return r
}

// FragNeeded is Destination Unreachable, fragmentation needed and DF set,
// carrying the next-hop MTU (RFC 1191 §4).
func FragNeeded(mtu int) Reason {
	return Reason{Type: ipv4.ICMPTypeDestinationUnreachable, Code: packet.CodeFragNeeded, MTU: uint16(mtu)}
}

// Redirect is Redirect for Host naming gw (RFC 1812 §5.2.7.2: a router
// sends only Host redirects).
func Redirect(gw netip.Addr) Reason {
	return Reason{Type: ipv4.ICMPTypeRedirect, Code: packet.CodeRedirectHost, Gateway: gw}
}

// RateLimited reports whether this kind of error spends the per-destination
// tokens. Linux's icmp_ratemask limits Destination Unreachable, Source
// Quench, Time Exceeded and Parameter Problem, but exempts Fragmentation
// Needed, on which path MTU discovery depends; Redirects have their own
// back-off.
func (r Reason) RateLimited() bool {
	switch r.Type {
	case ipv4.ICMPTypeDestinationUnreachable:
		return r.Code != packet.CodeFragNeeded
	case ipv4.ICMPTypeTimeExceeded, ipv4.ICMPTypeParameterProblem:
		return true
	}
	return false
}
