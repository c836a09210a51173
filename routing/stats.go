package routing

import (
	"sync/atomic"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun/packet"
)

type counters struct {
	outcomes     [NumOutcomes]atomic.Uint64
	malformed    [packet.NumProblems]atomic.Uint64
	suppressed   [responder.NumSuppress]atomic.Uint64
	sent         [256]atomic.Uint64 // ICMP sent, by type
	unreachable  [16]atomic.Uint64  // Destination Unreachable sent, by code
	timeExceeded [2]atomic.Uint64   // Time Exceeded sent, by code (TTL, reassembly)
	writeErrors  atomic.Uint64
	delayedLost  atomic.Uint64 // held back by Policy.Delay, never written
	// reassemblyTimeouts counts datagrams to the router given up in pieces.
	reassemblyTimeouts atomic.Uint64
}

// Stats is a snapshot of a router's counters. Received is the sum of
// Outcomes: every datagram ends in exactly one.
type Stats struct {
	Received    uint64
	Outcomes    [NumOutcomes]uint64
	Malformed   [packet.NumProblems]uint64
	Suppressed  [responder.NumSuppress]uint64
	Sent        [256]uint64
	Unreachable [16]uint64
	// TimeExceeded counts Time Exceeded sent, by code: 0 TTL, 1 reassembly.
	TimeExceeded [2]uint64
	WriteErrors  uint64
	// ICMP messages held back by Policy.Delay count in Sent once written:
	// DelayedHeld are still waiting, DelayedLost were never written (the
	// queue was full, or the interface went down meanwhile).
	DelayedHeld, DelayedLost uint64
	// ReassemblyTimeouts counts datagrams to the router whose pieces did
	// not all come in time; their fragments are counted as fragment-held.
	ReassemblyTimeouts uint64
}

// Stats returns a snapshot of the counters.
func (r *Router) Stats() Stats {
	var s Stats
	for i := range s.Outcomes {
		s.Outcomes[i] = r.stats.outcomes[i].Load()
		s.Received += s.Outcomes[i]
	}
	for i := range s.Malformed {
		s.Malformed[i] = r.stats.malformed[i].Load()
	}
	for i := range s.Suppressed {
		s.Suppressed[i] = r.stats.suppressed[i].Load()
	}
	for i := range s.Sent {
		s.Sent[i] = r.stats.sent[i].Load()
	}
	for i := range s.Unreachable {
		s.Unreachable[i] = r.stats.unreachable[i].Load()
	}
	for i := range s.TimeExceeded {
		s.TimeExceeded[i] = r.stats.timeExceeded[i].Load()
	}
	s.WriteErrors = r.stats.writeErrors.Load()
	s.DelayedHeld = uint64(max(r.delayed.Load(), 0))
	s.DelayedLost = r.stats.delayedLost.Load()
	s.ReassemblyTimeouts = r.stats.reassemblyTimeouts.Load()
	return s
}
