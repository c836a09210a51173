package routing

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun"
	"github.com/icmpgw/icmpgw/tun/packet"
)

// Interface is one of a router's links.
type Interface struct {
	// Name names the interface in routes and logs, e.g. "eth0".
	Name string
	// Addr is the router's address on the link, with the link's prefix
	// length (e.g. 198.51.100.1/24).
	Addr netip.Prefix
	// MTU is the link MTU; datagrams longer than this are fragmented or
	// draw Fragmentation Needed.
	MTU int
	// NoRedirects stops the router from sending Redirects on this link.
	NoRedirects bool
	// Dev is the device behind the link.
	Dev tun.Device

	broadcast netip.Addr  // the subnet's directed broadcast address
	down      atomic.Bool // administratively down: nothing in or out

	rxPackets, rxBytes, txPackets, txBytes, txErrors atomic.Uint64
}

// InterfaceStats counts what crossed an interface.
type InterfaceStats struct {
	RxPackets, RxBytes, TxPackets, TxBytes, TxErrors uint64
}

// Stats returns the interface's counters.
func (ifc *Interface) Stats() InterfaceStats {
	return InterfaceStats{
		RxPackets: ifc.rxPackets.Load(), RxBytes: ifc.rxBytes.Load(),
		TxPackets: ifc.txPackets.Load(), TxBytes: ifc.txBytes.Load(), TxErrors: ifc.txErrors.Load(),
	}
}

// Up reports whether the interface is up.
func (ifc *Interface) Up() bool { return !ifc.down.Load() }

// Router forwards IPv4 between its interfaces and sends the ICMP a router
// sends. Process is safe for concurrent use, one goroutine per interface,
// each with its own Output. Counters are read with Stats.
type Router struct {
	Ifaces []*Interface
	// Routes is the table the packet path reads. Change it through
	// AddRoute, DeleteRoute and SetUp, which keep it in step with the
	// interfaces' states.
	Routes *Table
	// Now is the clock of the rate limiter; nil means time.Now.
	Now func() time.Time
	// OnDecision, if set, sees every ICMP message the router sends (errors
	// and Echo Replies) or suppresses, and every datagram a blackhole
	// route drops. It runs on
	// the packet path: it must be quick, and must not keep Orig. Set it
	// before the router serves.
	OnDecision func(Decision)

	policy atomic.Pointer[policyState]
	ipID   atomic.Uint32
	stats  counters

	delayed atomic.Int64 // ICMP messages held back by Policy.Delay
	outputs sync.Pool    // of *Output, for Receive
	frags   reassembler  // datagrams to the router, in pieces

	configMu sync.Mutex
	config   map[netip.Prefix]Route // every route, whatever its interface's state
}

// policyState is a policy and the limiter it makes, swapped as one.
type policyState struct {
	responder.Policy
	limiter *responder.Limiter
}

// New returns a router with the given interfaces, a routing table holding
// their connected subnets, and policy.
func New(ifaces []*Interface, policy responder.Policy) *Router {
	r := &Router{Ifaces: ifaces, Routes: new(Table), config: make(map[netip.Prefix]Route)}
	r.outputs.New = func() any { return NewOutput() }
	r.SetPolicy(policy)
	for _, ifc := range ifaces {
		ifc.broadcast = broadcastOf(ifc.Addr)
		r.config[ifc.Addr.Masked()] = Route{Prefix: ifc.Addr.Masked(), Kind: Unicast, Iface: ifc}
	}
	r.publish()
	return r
}

// AddRoute adds rt, replacing any route for the same prefix. Routes,
// interface states and policy may change while the router forwards; each
// change reaches the packet path as one new table.
func (r *Router) AddRoute(rt Route) {
	r.configMu.Lock()
	defer r.configMu.Unlock()
	r.config[rt.Prefix.Masked()] = rt
	r.publish()
}

// AddNewRoute adds rt unless a route for its prefix exists (connected
// subnets included), as `ip route add` refuses one; it reports whether it
// added rt.
func (r *Router) AddNewRoute(rt Route) bool {
	r.configMu.Lock()
	defer r.configMu.Unlock()
	if _, ok := r.config[rt.Prefix.Masked()]; ok {
		return false
	}
	r.config[rt.Prefix.Masked()] = rt
	r.publish()
	return true
}

// DeleteRoute removes the route for exactly p and reports whether there was
// one.
func (r *Router) DeleteRoute(p netip.Prefix) bool {
	r.configMu.Lock()
	defer r.configMu.Unlock()
	if _, ok := r.config[p.Masked()]; !ok {
		return false
	}
	delete(r.config, p.Masked())
	r.publish()
	return true
}

// SetUp brings ifc up or down. While it is down, datagrams arriving on it
// are dropped and every route through it is withdrawn, as when a Linux
// interface goes down: lookups fall through to less specific routes, or to
// none (Net Unreachable).
func (r *Router) SetUp(ifc *Interface, up bool) {
	r.configMu.Lock()
	defer r.configMu.Unlock()
	ifc.down.Store(!up)
	r.publish()
}

// publish replaces the table with the configured routes whose interface is
// up. The caller holds configMu.
func (r *Router) publish() {
	routes := make([]Route, 0, len(r.config))
	for _, rt := range r.config {
		if rt.Kind != Unicast || rt.Iface.Up() {
			routes = append(routes, rt)
		}
	}
	r.Routes.Replace(routes)
}

// SetPolicy replaces the router's ICMP policy, with a fresh rate limiter.
// It is safe to call while the router forwards.
func (r *Router) SetPolicy(p responder.Policy) {
	r.policy.Store(&policyState{p, p.NewLimiter()})
}

// Policy returns the router's ICMP policy.
func (r *Router) Policy() responder.Policy { return r.policy.Load().Policy }

// Process takes one datagram that arrived on in and decides its fate, top
// to bottom in the order of RFC 1812 §5.2 (and of Linux's ip_rcv,
// ip_route_input and ip_forward). Whatever must be sent — the datagram
// itself, its fragments, an ICMP message — is appended to out. Process
// may rewrite b in place (TTL, checksum) and out may alias it; it must
// not be used again until out has been sent. It does not allocate.
func (r *Router) Process(in *Interface, b []byte, out *Output) Outcome {
	pkt := packet.IPv4(b)
	in.rxPackets.Add(1)
	in.rxBytes.Add(uint64(len(b)))
	if !in.Up() {
		return r.count(DropIfaceDown)
	}

	// RFC 1812 §5.2.2: "A router MUST verify the IP header ... before
	// performing any processing"; one that fails is silently discarded.
	// A header sound but for an option goes on to the martian checks
	// first, and draws Parameter Problem below.
	valid := pkt.Validate()
	if valid != packet.Valid && valid != packet.BadOptions {
		r.stats.malformed[valid].Add(1)
		return r.count(DropMalformed)
	}
	pkt = pkt[:pkt.TotalLen()] // drop link padding
	src, dst := pkt.Src(), pkt.Dst()

	// RFC 1812 §5.3.7: a router SHOULD NOT forward a datagram whose source
	// is not a single host, nor one to 0/8 or 127/8. One that claims to
	// come from the router itself, or from a connected subnet's broadcast
	// address, is spoofed (Linux: martian source).
	dstNet := dst.As4()[0] // 0/8, 127/8 and 224/3 are decided by the first octet
	if !responder.UniqueHost(src) || dstNet == 0 || dstNet == 127 || r.isLocal(src) || r.isBroadcast(src) {
		return r.count(DropMartian)
	}
	// RFC 1812 §5.3.5: limited and directed broadcasts are not forwarded
	// here, and there is no multicast routing.
	if dstNet >= 224 || r.isBroadcast(dst) { // multicast, class E, limited broadcast
		return r.count(DropBroadcast)
	}
	// A malformed option draws Parameter Problem pointing at it, as Linux
	// does (ip_options_compile, RFC 1812 §4.3.3.5) once routing has let
	// the datagram in: martians and broadcasts were dropped above unanswered.
	if valid == packet.BadOptions {
		r.stats.malformed[valid].Add(1)
		r.sendError(in, pkt, netip.Addr{}, responder.ParamProblem(pkt.BadOptionPointer()), out)
		return r.count(DropMalformed)
	}
	// Linux drops source-routed datagrams, to itself or through it
	// (accept_source_route=0), as RFC 1812 §5.2.4.1 allows a router
	// configured to.
	if pkt.HasSourceRoute() {
		return r.count(DropSourceRoute)
	}
	if r.isLocal(dst) {
		return r.deliver(in, pkt, out)
	}

	route, ok := r.Routes.Lookup(dst)
	if !ok {
		// RFC 1812 §5.2.7.1: no route → Destination Unreachable, net.
		r.sendError(in, pkt, netip.Addr{}, responder.RouteError(packet.CodeNetUnreachable), out)
		return r.count(DropNoRoute)
	}
	switch route.Kind {
	case Blackhole:
		if r.OnDecision != nil {
			r.OnDecision(Decision{Suppressed: responder.Blackholed, In: in, Orig: pkt})
		}
		return r.count(DropBlackhole)
	case Unreachable:
		r.sendError(in, pkt, netip.Addr{}, responder.RouteError(route.Code), out)
		return r.count(DropUnreachable)
	}

	// RFC 1812 §5.3.1: "the router MUST discard it if the TTL is 0 or 1
	// ... and send an ICMP Time Exceeded". Checked on the forwarding path
	// only, after the lookup, as Linux does (§4.2.2.9: a router MUST NOT
	// check the TTL of a datagram addressed to itself).
	if pkt.TTL() <= 1 {
		r.sendError(in, pkt, netip.Addr{}, responder.TimeExceeded(), out)
		return r.count(DropTTL)
	}

	egress := route.Iface
	// RFC 1191 §4: too big with DF set → Fragmentation Needed carrying the
	// next-hop MTU; never rate limited, path MTU discovery depends on it.
	if len(pkt) > egress.MTU && pkt.DF() {
		r.sendError(in, pkt, netip.Addr{}, responder.FragNeeded(egress.MTU), out)
		return r.count(DropFragNeeded)
	}

	// RFC 1812 §5.2.7.2: a router SHOULD send a Redirect when the datagram
	// leaves by the interface it came in on, its source is on that subnet,
	// and it carries no source route (those were dropped above). Only Host
	// redirects; the datagram is still forwarded.
	if nextHop := route.NextHop(dst); egress == in && !in.NoRedirects && !r.policy.Load().NoRedirects &&
		in.Addr.Contains(src) && in.Addr.Contains(nextHop) && nextHop != src {
		r.sendError(in, pkt, netip.Addr{}, responder.Redirect(nextHop), out)
	}

	// RFC 791 §3.2; RFC 1624 for the checksum.
	pkt.DecTTL()
	// RFC 1812 §5.2.4.2-3: record route and timestamp options are
	// updated, with the addresses Linux records (ip_forward_options).
	if pkt.HeaderLen() > packet.IPv4MinHeaderLen && pkt.StampOptions(in.Addr.Addr(), egress.Addr.Addr(), r.now(), r.isLocal) {
		pkt.SetChecksum()
	}
	if !out.add(egress, pkt) {
		return r.count(DropTooSmallMTU)
	}
	return r.count(Forwarded)
}

// deliver handles a datagram addressed to one of the router's own
// addresses.
func (r *Router) deliver(in *Interface, pkt packet.IPv4, out *Output) Outcome {
	if pkt.IsFragment() {
		whole, o := r.reassemble(in, pkt)
		if whole == nil {
			return r.count(o)
		}
		// The last piece completes the datagram: it is the one counted.
		pkt = whole
	}
	switch pkt.Protocol() {
	case packet.ProtocolICMP:
		icmp := packet.ICMPv4(pkt.Payload())
		if len(icmp) < packet.ICMPHeaderLen || packet.Checksum(icmp, 0) != 0 {
			return r.count(DropBadICMP)
		}
		policy := r.policy.Load()
		switch icmp.Type() {
		case ipv4.ICMPTypeEcho:
			if policy.NoEcho {
				return r.count(DropEchoIgnored)
			}
		case ipv4.ICMPTypeTimestamp:
			// RFC 1812 §4.3.3.8: a router MAY answer Timestamps; Linux
			// does, given the originate timestamp (icmp_timestamp).
			if len(icmp) < packet.ICMPHeaderLen+4 {
				return r.count(DropBadICMP)
			}
		default:
			return r.count(Consumed) // replies and errors end here
		}
		// RFC 1122 §3.2.2.6: every host MUST answer Echo Requests; the
		// reply's source is the address the request was sent to.
		egress, ok := r.routeBack(pkt.Src())
		if !ok {
			return r.count(DropNoRouteBack)
		}
		// RFC 1122 §3.2.2.6: record route and timestamp options come back,
		// updated with the router's address (Linux: ip_options_echo).
		hasOptions, isTimestamp := pkt.HeaderLen() > packet.IPv4MinHeaderLen, icmp.Type() == ipv4.ICMPTypeTimestamp
		var now time.Time // read once, and only for what stamps it
		if hasOptions || isTimestamp {
			now = r.now()
		}
		var optBuf [packet.IPv4MaxHeaderLen - packet.IPv4MinHeaderLen]byte
		opts := optBuf[:0]
		if hasOptions {
			if opts, ok = pkt.AppendEchoOptions(opts, pkt.Dst(), now, r.isLocal); !ok {
				return r.count(DropEchoOptions)
			}
		}
		start := len(out.arena)
		o := responder.Origin{Src: pkt.Dst(), ID: r.nextID(), TTL: policy.OriginTTL()}
		reply := ipv4.ICMPTypeEchoReply
		if isTimestamp {
			reply = ipv4.ICMPTypeTimestampReply
			out.arena = responder.AppendTimestampReply(out.arena, o, pkt, opts, packet.Timestamp(now))
		} else {
			out.arena = responder.AppendEchoReply(out.arena, o, pkt, opts)
		}
		out.addOriginated(egress, out.arena[start:], policy.Delay)
		if policy.Delay == 0 { // a delayed one counts once written (sendLater)
			r.countSent(reply, 0)
		}
		if r.OnDecision != nil {
			r.OnDecision(Decision{Reason: responder.Reason{Type: reply}, In: in, Out: egress, From: o.Src, Orig: pkt})
		}
		return r.count(Answered)
	case packet.ProtocolUDP:
		// A UDP datagram that is truncated or fails its checksum is
		// dropped before any port is looked at (RFC 1122 §4.1.3.4).
		if !udpValid(pkt) {
			return r.count(DropBadTransport)
		}
		// RFC 1122 §3.2.2.1: no listener → Port Unreachable, from the
		// address that was asked.
		r.sendError(in, pkt, pkt.Dst(), responder.Unreachable(packet.CodePortUnreachable), out)
		return r.count(DropPortUnreachable)
	case packet.ProtocolTCP:
		// No port is open: answer as a closed port does, with a RST (RFC
		// 793 §3.4), as Linux does; never a RST to a RST.
		if !responder.TCPValid(pkt) {
			return r.count(DropBadTransport)
		}
		if responder.IsTCPReset(pkt) {
			return r.count(Consumed)
		}
		egress, ok := r.routeBack(pkt.Src())
		if !ok {
			return r.count(DropNoRouteBack)
		}
		start := len(out.arena)
		o := responder.Origin{Src: pkt.Dst(), ID: r.nextID(), TTL: r.policy.Load().OriginTTL()}
		out.arena = responder.AppendTCPReset(out.arena, o, pkt)
		out.add(egress, out.arena[start:])
		return r.count(DropTCPReset)
	}
	// RFC 1122 §3.2.2.1: a protocol the router does not speak →
	// Protocol Unreachable.
	r.sendError(in, pkt, pkt.Dst(), responder.Unreachable(packet.CodeProtocolUnreachable), out)
	return r.count(DropProtoUnreachable)
}

// sendError sends the ICMP error reason about orig back toward orig's
// source, unless a never-send rule, the policy or the rate limiter says
// no. from is the source address to use; the zero Addr means the address
// of the interface the error leaves by (RFC 1812 §4.3.2.4, Linux's
// default).
func (r *Router) sendError(in *Interface, orig packet.IPv4, from netip.Addr, reason responder.Reason, out *Output) {
	policy := r.policy.Load()
	why := responder.MayError(orig)
	if why == responder.Send && policy.Silent {
		why = responder.PolicySilent
	}
	var egress *Interface
	if why == responder.Send {
		var ok bool
		if egress, ok = r.routeBack(orig.Src()); !ok {
			why = responder.NoRouteBack
		}
	}
	if why == responder.Send {
		why = policy.limiter.Allow(orig.Src(), reason, r.now())
	}
	if why != responder.Send {
		r.stats.suppressed[why].Add(1)
		if r.OnDecision != nil {
			r.OnDecision(Decision{Reason: reason, Suppressed: why, In: in, Orig: orig})
		}
		return
	}
	if !from.IsValid() {
		switch policy.Source {
		case responder.SourceIncoming:
			from = in.Addr.Addr()
		case responder.SourceFixed:
			from = policy.SourceAddr
		default:
			from = egress.Addr.Addr()
		}
	}
	maxLen := min(responder.MaxErrorLen, egress.MTU)
	if policy.QuoteAll {
		maxLen = egress.MTU
	}
	start := len(out.arena)
	o := responder.Origin{Src: from, ID: r.nextID(), TTL: policy.OriginTTL()}
	out.arena = responder.AppendError(out.arena, o, orig, reason, maxLen, policy.Quote)
	out.addOriginated(egress, out.arena[start:], policy.Delay)
	if policy.Delay == 0 { // a delayed one counts once written (sendLater)
		r.countSent(reason.Type, reason.Code)
	}
	if r.OnDecision != nil {
		r.OnDecision(Decision{Reason: reason, In: in, Out: egress, From: from, Orig: orig})
	}
}

// countSent counts an ICMP message sent, by type and, for Destination
// Unreachable and Time Exceeded, by code.
func (r *Router) countSent(t ipv4.ICMPType, code packet.Code) {
	r.stats.sent[t].Add(1)
	if t == ipv4.ICMPTypeDestinationUnreachable && code < 16 {
		r.stats.unreachable[code].Add(1)
	}
	if t == ipv4.ICMPTypeTimeExceeded && code < 2 {
		r.stats.timeExceeded[code].Add(1)
	}
}

// Decision is one ICMP decision of a router: an error it sent, or one it
// did not send and why.
type Decision struct {
	Reason     responder.Reason   // the error's type and code; zero for a blackhole
	Suppressed responder.Suppress // responder.Send when it was sent
	In         *Interface         // where the offending datagram arrived
	Out        *Interface         // where the error left; nil when not sent
	From       netip.Addr         // the error's source, when sent
	Orig       packet.IPv4        // the offending datagram; valid only during the call
}

// routeBack finds the interface by which the router reaches src, as for
// any datagram it originates.
func (r *Router) routeBack(src netip.Addr) (*Interface, bool) {
	route, ok := r.Routes.Lookup(src)
	if !ok || route.Kind != Unicast {
		return nil, false
	}
	return route.Iface, true
}

// udpValid checks a UDP header's length field and, when it is not zero,
// its checksum over the pseudo-header (RFC 768).
func udpValid(pkt packet.IPv4) bool {
	udp := pkt.Payload()
	if len(udp) < 8 {
		return false
	}
	n := int(udp[4])<<8 | int(udp[5])
	if n < 8 || n > len(udp) {
		return false
	}
	if udp[6] == 0 && udp[7] == 0 {
		return true // no checksum
	}
	return packet.Checksum(udp[:n], packet.PseudoHeaderSum(pkt, n)) == 0
}

func (r *Router) isLocal(dst netip.Addr) bool {
	for _, ifc := range r.Ifaces {
		if ifc.Addr.Addr() == dst {
			return true
		}
	}
	return false
}

func (r *Router) isBroadcast(dst netip.Addr) bool {
	for _, ifc := range r.Ifaces {
		if ifc.broadcast == dst {
			return true
		}
	}
	return false
}

func (r *Router) nextID() uint16 { return uint16(r.ipID.Add(1)) }

func (r *Router) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Router) count(o Outcome) Outcome {
	r.stats.outcomes[o].Add(1)
	return o
}

// broadcastOf is the directed broadcast address of p's subnet; none for
// /31 and /32 (RFC 3021).
func broadcastOf(p netip.Prefix) netip.Addr {
	if p.Bits() >= 31 {
		return netip.Addr{}
	}
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
