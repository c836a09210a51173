package responder

import "time"

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
