package responder

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// Linux's defaults, which the zero Policy takes.
const (
	// DefaultInterval is net.ipv4.icmp_ratelimit: one error per second
	// per destination once the burst is spent.
	DefaultInterval = time.Second
	// DefaultBurst is XRLIM_BURST_FACTOR: a destination may draw six
	// errors at once.
	DefaultBurst = 6
	// globalRate and globalBurst are net.ipv4.icmp_msgs_per_sec and
	// icmp_msgs_burst: a cap over all destinations together.
	globalRate  = 1000
	globalBurst = 50
	// routeErrorCost and routeErrorBurst are Linux's ip_rt_error_cost and
	// ip_rt_error_burst (HZ and 5*HZ), fixed in the kernel.
	routeErrorCost  = time.Second
	routeErrorBurst = 5
	// redirectLoad, redirectNumber and redirectSilence are Linux's
	// ip_rt_redirect_load, _number and _silence: after a redirect the next
	// waits redirectLoad << n; after nine the host is taken to ignore them
	// until it has been quiet for redirectSilence.
	redirectLoad    = 20 * time.Millisecond
	redirectNumber  = 9
	redirectSilence = redirectLoad << (redirectNumber + 1)

	// maxPeers bounds the per-destination state; a full bucket is the
	// same as no entry, so idle ones are swept when the map is this big.
	maxPeers = 4096
)

// bucket is Linux's xrlim token bucket (inet_peer_xrlim_allow): time
// accrues as tokens up to burst × interval, and a message costs interval.
type bucket struct {
	tokens time.Duration
	last   time.Time
}

func (b *bucket) allow(now time.Time, interval time.Duration, burst int) bool {
	b.tokens += now.Sub(b.last)
	b.last = now
	if limit := time.Duration(burst) * interval; b.tokens > limit {
		b.tokens = limit
	}
	if b.tokens >= interval {
		b.tokens -= interval
		return true
	}
	return false
}

type peer struct {
	errors       bucket
	redirects    int
	lastRedirect time.Time
}

// Limiter spaces the ICMP errors a router sends, per destination, as
// Linux does (RFC 1812 §4.3.2.8 asks for a limit and leaves its shape
// open). The zero Limiter is not usable; make one with NewLimiter. It is
// safe for concurrent use.
type Limiter struct {
	interval time.Duration
	burst    int
	off      bool

	mu     sync.Mutex
	global bucket
	peers  map[netip.Addr]*peer
}

// NewLimiter returns a limiter that lets each destination draw burst errors
// at once and then one per interval; errors from the routing table cost
// more (RouteError). interval <= 0 turns every error limit off, the
// routing table's included, which Linux cannot do; the Redirect back-off
// stays on.
func NewLimiter(interval time.Duration, burst int) *Limiter {
	return &Limiter{interval: interval, burst: burst, off: interval <= 0, peers: make(map[netip.Addr]*peer)}
}

// Allow reports whether the router may send r to dst now, and if not,
// why. Errors that RateLimited exempts always pass; Redirects follow
// Linux's back-off (ip_rt_send_redirect). It does not allocate once dst
// has been seen.
func (l *Limiter) Allow(dst netip.Addr, r Reason, now time.Time) Suppress {
	isRedirect := r.Type == ipv4.ICMPTypeRedirect
	if !isRedirect && (l.off || !r.RateLimited()) {
		return Send
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.peer(dst, now)
	if p == nil {
		return RateLimited
	}
	if isRedirect {
		return p.allowRedirect(now)
	}
	if r.routeError && !p.errors.allow(now, routeErrorCost, routeErrorBurst) {
		return RateLimited
	}
	if !l.global.allow(now, time.Second/globalRate, globalBurst) {
		return RateLimited
	}
	if !p.errors.allow(now, l.interval, l.burst) {
		return RateLimited
	}
	return Send
}

func (p *peer) allowRedirect(now time.Time) Suppress {
	if now.Sub(p.lastRedirect) > redirectSilence {
		p.redirects = 0
	}
	if p.redirects >= redirectNumber {
		p.lastRedirect = now // still being ignored: stay quiet
		return RedirectBackoff
	}
	if p.redirects == 0 || now.Sub(p.lastRedirect) > redirectLoad<<p.redirects {
		p.lastRedirect = now
		p.redirects++
		return Send
	}
	return RedirectBackoff
}

func (l *Limiter) peer(dst netip.Addr, now time.Time) *peer {
	if p, ok := l.peers[dst]; ok {
		return p
	}
	if len(l.peers) >= maxPeers {
		l.sweep(now)
		if len(l.peers) >= maxPeers {
			return nil // a flood from many sources: no state, no error
		}
	}
	// A new destination starts as a new inet_peer does: no tokens, but
	// last seen 60 s ago, so that its first check finds a full bucket
	// whatever that check's burst.
	p := &peer{errors: bucket{last: now.Add(-60 * time.Second)}}
	l.peers[dst] = p
	return p
}

// sweep forgets destinations whose state is the same as a new entry's.
func (l *Limiter) sweep(now time.Time) {
	full := time.Duration(l.burst) * l.interval
	for a, p := range l.peers {
		if now.Sub(p.errors.last) >= full && now.Sub(p.lastRedirect) > redirectSilence {
			delete(l.peers, a)
		}
	}
}
