package routing

// Outcome is what became of one received datagram. Each value indexes one
// counter; received = the sum over all outcomes.
type Outcome uint8

// Outcomes, roughly in the order Process reaches them.
const (
	Forwarded            Outcome = iota // sent on, whole or in fragments
	Answered                            // an Echo or Timestamp request to the router, answered
	Consumed                            // other ICMP to the router: replies, errors, queries it ignores
	DropMalformed                       // failed validation (RFC 1812 §5.2.2); see Malformed counters
	DropMartian                         // invalid source or destination (RFC 1812 §5.3.7)
	DropBroadcast                       // to a broadcast or multicast address: not forwarded
	DropSourceRoute                     // carries a source route option: dropped as Linux does by default
	DropFragmentHeld                    // a fragment to the router, held until its datagram is whole
	DropReassembly                      // a fragment to the router that cannot be reassembled (limits, bad length)
	DropBadICMP                         // ICMP to the router that is truncated or fails its checksum
	DropBadTransport                    // UDP or TCP to the router that is truncated or fails its checksum
	DropPortUnreachable                 // UDP to the router: Port Unreachable
	DropTCPReset                        // TCP to the router: answered with a RST
	DropProtoUnreachable                // other protocols to the router: Protocol Unreachable
	DropNoRoute                         // no route: Net Unreachable
	DropUnreachable                     // an unreachable or prohibit route
	DropBlackhole                       // a blackhole route
	DropTTL                             // TTL would reach 0: Time Exceeded
	DropFragNeeded                      // too big with DF set: Fragmentation Needed
	DropTooSmallMTU                     // too big, and the MTU cannot carry 8 bytes of payload
	DropNoRouteBack                     // an Echo Reply with no route back to its asker
	DropIfaceDown                       // arrived on an interface that is down
	DropEchoIgnored                     // an Echo Request the policy leaves unanswered
	DropEchoOptions                     // an Echo Request whose options leave no room for the reply's stamp: unanswered, as Linux
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{
	"forwarded", "answered", "consumed", "malformed", "martian", "broadcast",
	"source-routed", "fragment-held", "reassembly-failed", "bad-icmp", "bad-transport", "port-unreachable", "tcp-reset",
	"protocol-unreachable", "no-route", "unreachable-route", "blackhole",
	"ttl-exceeded", "frag-needed", "mtu-too-small", "no-route-back", "interface-down", "echo-ignored",
	"echo-options",
}

func (o Outcome) String() string {
	if o < NumOutcomes {
		return outcomeNames[o]
	}
	return "unknown-outcome"
}
