package scenarios

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/tun/packet"
)

// Heard is one ICMP message a router sent to a host.
type Heard struct {
	At    time.Duration // since the topology came up
	Host  string
	Type  ipv4.ICMPType
	Code  packet.Code
	From  netip.Addr
	About netip.Addr // the destination of the quoted datagram, for errors
}

// maxHeard bounds the record; a flood keeps its first messages.
const maxHeard = 100000

// Recorder keeps the ICMP messages routers send to hosts. It is safe for
// concurrent use.
type Recorder struct {
	mu    sync.Mutex
	heard []Heard
}

// tap returns the wire tap for host's link.
func (r *Recorder) tap(t *Topology, host string) func([]byte) {
	return func(b []byte) {
		ip := packet.IPv4(b)
		if ip.Validate() != packet.Valid || ip.Protocol() != packet.ProtocolICMP || ip.IsFragment() {
			return
		}
		icmp := packet.ICMPv4(ip.Payload())
		if len(icmp) < packet.ICMPHeaderLen {
			return
		}
		h := Heard{At: time.Since(t.Start), Host: host, Type: icmp.Type(), Code: icmp.Code(), From: ip.Src()}
		if quoted := packet.IPv4(icmp.Body()); !packet.IsQuery(h.Type) && len(quoted) >= packet.IPv4MinHeaderLen {
			h.About = quoted.Dst()
		}
		r.mu.Lock()
		if len(r.heard) < maxHeard {
			r.heard = append(r.heard, h)
		}
		r.mu.Unlock()
	}
}

// All returns what was heard so far, in order.
func (r *Recorder) All() []Heard {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Heard(nil), r.heard...)
}

// Matches reports whether h matches m.
func (m ICMPMatch) Matches(h Heard) bool {
	return (m.AnyType || h.Type == m.Type) &&
		(m.Code == nil || *m.Code == h.Code) &&
		(!m.From.IsValid() || m.From == h.From) &&
		(!m.About.IsValid() || m.About == h.About)
}
