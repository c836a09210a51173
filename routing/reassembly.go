package routing

import (
	"net/netip"
	"sync"
	"time"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun/packet"
)

// Reassembly of datagrams addressed to the router itself (RFC 791 §3.2,
// RFC 1122 §3.3.2), so that a large ping to a router is answered as
// Linux answers it. Memory is bounded: a few datagrams per source, a
// total like Linux's ipfrag_high_thresh, and a lifetime like ipfrag_time.
const (
	reassemblyTimeout    = 30 * time.Second
	reassemblyMaxBytes   = 4 << 20
	reassemblyMaxFlows   = 256
	reassemblyPerSource  = 4
	reassemblyBlockWords = 65536 / 8 / 64 // one bit per 8-byte block
)

type fragKey struct {
	src, dst netip.Addr
	id       uint16
	proto    uint8
}

// fragFlow is one datagram being put back together.
type fragFlow struct {
	header   []byte // the first fragment's header, once it came
	payload  []byte // 65535 bytes at most, grown as needed
	have     [reassemblyBlockWords]uint64
	size     int // payload length, known once the last fragment came; -1 before
	timer    *time.Timer
	first    packet.IPv4 // fragment zero as it arrived, for Time Exceeded
	in       *Interface
	buffered int
}

type reassembler struct {
	timeout  time.Duration // 0: reassemblyTimeout; tests shorten it
	mu       sync.Mutex
	flows    map[fragKey]*fragFlow
	perSrc   map[netip.Addr]int
	buffered int
}

// reassemble adds frag, a valid fragment addressed to the router, to its
// datagram. It returns the whole datagram once every piece is in, and an
// outcome to count otherwise.
func (r *Router) reassemble(in *Interface, frag packet.IPv4) (packet.IPv4, Outcome) {
	ra := &r.frags
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.flows == nil {
		ra.flows, ra.perSrc = map[fragKey]*fragFlow{}, map[netip.Addr]int{}
	}
	key := fragKey{frag.Src(), frag.Dst(), frag.ID(), frag.Protocol()}
	f, ok := ra.flows[key]
	if !ok {
		if len(ra.flows) >= reassemblyMaxFlows || ra.perSrc[key.src] >= reassemblyPerSource {
			return nil, DropReassembly
		}
		f = &fragFlow{size: -1, in: in}
		ra.flows[key] = f
		ra.perSrc[key.src]++
		timeout := ra.timeout
		if timeout == 0 {
			timeout = reassemblyTimeout
		}
		f.timer = time.AfterFunc(timeout, func() { r.expire(key, f) })
	}
	off, data := frag.FragmentOffset(), frag.Payload()
	end := off + len(data)
	if end > 65535-packet.IPv4MinHeaderLen || (frag.MF() && len(data)%8 != 0) || (f.size >= 0 && end > f.size) ||
		ra.buffered+len(data) > reassemblyMaxBytes {
		ra.drop(key, f)
		return nil, DropReassembly
	}
	if !frag.MF() {
		if f.size >= 0 && f.size != end {
			ra.drop(key, f)
			return nil, DropReassembly
		}
		f.size = end
	}
	if off == 0 {
		f.header = append(f.header[:0], frag[:frag.HeaderLen()]...)
		f.first = append(packet.IPv4(nil), frag...)
	}
	if len(f.payload) < end {
		f.payload = append(f.payload, make([]byte, end-len(f.payload))...)
	}
	copy(f.payload[off:], data)
	for b := off / 8; b < (end+7)/8; b++ {
		f.have[b/64] |= 1 << (b % 64)
	}
	ra.buffered += len(data)
	f.buffered += len(data)
	if f.size < 0 || f.header == nil || !f.complete() {
		return nil, DropFragmentHeld
	}
	ra.drop(key, f)
	if len(f.header)+f.size > 65535 {
		return nil, DropReassembly
	}
	whole := packet.IPv4(append(append([]byte(nil), f.header...), f.payload[:f.size]...))
	whole.SetTotalLen(len(whole))
	whole.SetFragment(false, 0)
	whole.SetChecksum()
	return whole, Forwarded
}

func (f *fragFlow) complete() bool {
	for b := 0; b < (f.size+7)/8; b++ {
		if f.have[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// drop forgets a flow. The caller holds the lock.
func (ra *reassembler) drop(key fragKey, f *fragFlow) {
	if ra.flows[key] != f {
		return
	}
	f.timer.Stop()
	delete(ra.flows, key)
	if ra.perSrc[key.src]--; ra.perSrc[key.src] == 0 {
		delete(ra.perSrc, key.src)
	}
	ra.buffered -= f.buffered
}

// expire gives up on a datagram whose pieces did not all come in time.
// RFC 1122 §3.3.2 (after RFC 792): send Time Exceeded, code 1
// (reassembly), but only if fragment zero came, as Linux does.
func (r *Router) expire(key fragKey, f *fragFlow) {
	r.frags.mu.Lock()
	if r.frags.flows[key] != f {
		r.frags.mu.Unlock()
		return
	}
	r.frags.drop(key, f)
	r.frags.mu.Unlock()
	r.stats.reassemblyTimeouts.Add(1)
	if f.first == nil {
		return
	}
	out := NewOutput()
	r.sendError(f.in, f.first, f.first.Dst(), responder.ReassemblyTimeout(), out)
	r.Send(out)
}
