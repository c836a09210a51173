package responder

import (
	"net/netip"

	"github.com/icmpgw/icmpgw/tun/packet"
)

// Suppress says why an ICMP error was not sent. The zero value, Send,
// means it may be sent.
type Suppress uint8

// Reasons not to send an error. The first group are the RFC's never-send
// rules (MayError); the rest are the router's policy.
const (
	Send              Suppress = iota
	AboutICMPError             // RFC 1122 §3.2.2: not about an ICMP error message
	AboutFragment              // RFC 1122 §3.2.2: not about a non-initial fragment
	AboutMulticastDst          // RFC 1122 §3.2.2: not about a datagram to a broadcast or multicast address
	AboutNonUniqueSrc          // RFC 1122 §3.2.2, RFC 1812 §4.3.2.7: not to a source that is not a single host
	PolicySilent               // the router's policy sends no errors
	RateLimited                // RFC 1812 §4.3.2.8: the destination's token bucket is empty
	RedirectBackoff            // the host ignored earlier redirects (Linux's back-off)
	NoRouteBack                // no route leads back to the source
	Blackholed                 // a blackhole route: silence by design (RFC 1812 §5.2.7.1)
	NumSuppress                // number of reasons, for counter arrays
)

var suppressNames = [NumSuppress]string{
	"send", "about-icmp-error", "about-fragment", "about-multicast-dst",
	"about-non-unique-src", "policy-silent", "rate-limited", "redirect-backoff", "no-route-back", "blackhole",
}

func (s Suppress) String() string {
	if s < NumSuppress {
		return suppressNames[s]
	}
	return "unknown-suppress"
}

// MayError applies the rules of RFC 1812 §4.3.2.7 (after RFC 1122
// §3.2.2) to a datagram that would draw an ICMP error; orig has passed
// packet.IPv4.Validate. It returns Send or the first rule that forbids it.
// Subnet-directed broadcasts are the router's to recognise: it knows its
// subnets and drops those datagrams before asking.
func MayError(orig packet.IPv4) Suppress {
	// "An ICMP error message MUST NOT be sent as the result of receiving
	// ... a datagram which is not the first fragment".
	if orig.FragmentOffset() != 0 {
		return AboutFragment
	}
	// "... an ICMP error message". Types not known to be queries are taken
	// for errors.
	if orig.Protocol() == packet.ProtocolICMP {
		icmp := packet.ICMPv4(orig.Payload())
		if len(icmp) < 1 || !packet.IsQuery(icmp.Type()) {
			return AboutICMPError
		}
	}
	// "... a datagram destined to an IP broadcast or IP multicast address".
	if dst := orig.Dst(); dst.IsMulticast() || dst == limitedBroadcast {
		return AboutMulticastDst
	}
	// "... a datagram whose source address does not define a single host --
	// e.g., a zero address, a loopback address, a broadcast address, a
	// multicast address, or a Class E address."
	if !UniqueHost(orig.Src()) {
		return AboutNonUniqueSrc
	}
	return Send
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// UniqueHost reports whether a names one host: not in 0.0.0.0/8 or
// 127.0.0.0/8, not multicast, not Class E or the limited broadcast
// (RFC 1812 §4.2.2.11, §5.3.7).
func UniqueHost(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	// 0/8, 127/8, multicast 224/4 and class E 240/4 (with the limited
	// broadcast): each is decided by the first octet.
	switch first := a.As4()[0]; {
	case first == 0, first == 127, first >= 224:
		return false
	}
	return true
}
