package responder

import (
	"net/netip"
	"time"
)

// Policy is how one router answers: its ICMP "personality". The zero
// Policy behaves like a Linux router: it sends every error the RFCs allow,
// quotes as much as fits in 576 bytes, and limits errors to a burst of 6
// and then 1 per second per destination.
type Policy struct {
	// Silent sends no ICMP errors at all; Echo Requests are still answered.
	Silent bool
	// Quote caps how many bytes of the offending datagram an error quotes;
	// 0 quotes as much as fits in 576 bytes. The quote never shrinks below
	// the IP header and 8 bytes of payload (RFC 792).
	Quote int
	// QuoteAll quotes the whole datagram, as far as the egress MTU allows
	// (some routers do; RFC 1812 §4.3.2.3 asks for no more than 576).
	QuoteAll bool
	// Source picks the source address of errors; the zero value is the
	// address of the interface the error leaves by (Linux's default).
	Source Source
	// SourceAddr is the address errors come from when Source is
	// SourceFixed.
	SourceAddr netip.Addr
	// TTL is the TTL of the datagrams the router originates; 0 means 64.
	TTL uint8
	// NoRedirects stops Redirects on every interface.
	NoRedirects bool
	// NoEcho leaves Echo Requests to the router unanswered.
	NoEcho bool
	// Delay holds back every ICMP message the router originates, as a
	// router answering from its slow path does; forwarding is not delayed.
	Delay time.Duration
	// NoRateLimit turns the per-destination limit off.
	NoRateLimit bool
	// RateInterval is the time one error costs once the burst is spent;
	// 0 means DefaultInterval.
	RateInterval time.Duration
	// RateBurst is how many errors a destination may draw at once; 0
	// means DefaultBurst.
	RateBurst int
}

// NewLimiter returns the Limiter that p describes.
func (p Policy) NewLimiter() *Limiter {
	if p.NoRateLimit {
		return NewLimiter(0, 0)
	}
	interval, burst := p.RateInterval, p.RateBurst
	if interval == 0 {
		interval = DefaultInterval
	}
	if burst == 0 {
		burst = DefaultBurst
	}
	return NewLimiter(interval, burst)
}

// Source is where a router's ICMP errors come from.
type Source uint8

// Sources of ICMP errors.
const (
	// SourceOutgoing is the address of the interface the error leaves by
	// (RFC 1812 §4.3.2.4; Linux's default).
	SourceOutgoing Source = iota
	// SourceIncoming is the address of the interface the offending
	// datagram arrived on (Linux's icmp_errors_use_inbound_ifaddr=1).
	SourceIncoming
	// SourceFixed is Policy.SourceAddr.
	SourceFixed
)

// OriginTTL is the TTL of datagrams the router originates under p.
func (p Policy) OriginTTL() uint8 {
	if p.TTL == 0 {
		return TTL
	}
	return p.TTL
}
