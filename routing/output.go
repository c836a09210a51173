package routing

import (
	"time"

	"github.com/icmpgw/icmpgw/tun/packet"
)

// arenaSize holds the ICMP messages most batches originate; fragments
// and long Echo Replies grow the arena, once, by append.
const arenaSize = 8 << 10

// Output collects what calls of Process send: datagrams, each with the
// interface it leaves by. Its memory is allocated once and reused; one
// Output belongs to one goroutine.
type Output struct {
	// Packets are sent in order. Data aliases the datagram that was
	// processed or the Output's own memory; it is valid until Reset.
	Packets []Egress

	arena []byte
	batch [][]byte // scratch for Device.Write
}

// Egress is one datagram to send.
type Egress struct {
	Iface *Interface
	Data  []byte
	// Delay holds an originated ICMP message back (Policy.Delay).
	Delay time.Duration
}

// NewOutput returns an empty Output.
func NewOutput() *Output {
	return &Output{
		Packets: make([]Egress, 0, 256),
		arena:   make([]byte, 0, arenaSize),
		batch:   make([][]byte, 0, 256),
	}
}

// Reset empties o for the next datagram or batch.
func (o *Output) Reset() {
	o.Packets = o.Packets[:0]
	o.arena = o.arena[:0]
}

// addOriginated queues a datagram the router originated, held back by
// delay.
func (o *Output) addOriginated(ifc *Interface, pkt packet.IPv4, delay time.Duration) {
	if delay <= 0 {
		o.add(ifc, pkt)
		return
	}
	n := len(o.Packets)
	o.add(ifc, pkt)
	for i := n; i < len(o.Packets); i++ {
		o.Packets[i].Delay = delay
	}
}

// add queues pkt on ifc, fragmenting it when it is longer than the MTU (RFC
// 791 §3.2); the caller has already sent Fragmentation Needed for DF
// datagrams. It reports false when the MTU cannot carry a fragment.
func (o *Output) add(ifc *Interface, pkt packet.IPv4) bool {
	if len(pkt) <= ifc.MTU {
		o.Packets = append(o.Packets, Egress{Iface: ifc, Data: pkt})
		return true
	}
	hl := pkt.HeaderLen()
	// The first fragment carries every option, later ones only the options
	// whose copy flag is set; every fragment but the last carries a
	// multiple of 8 bytes of data.
	var optBuf [packet.IPv4MaxHeaderLen]byte
	laterOpts := pkt.AppendCopiedOptions(optBuf[:0])
	laterHL := packet.IPv4MinHeaderLen + len(laterOpts)
	if (ifc.MTU-hl)&^7 < 8 {
		return false
	}
	payload := pkt[hl:]
	baseOffset, lastMF := pkt.FragmentOffset(), pkt.MF()
	for off, h := 0, hl; off < len(payload); h = laterHL {
		n := min((ifc.MTU-h)&^7, len(payload)-off)
		start := len(o.arena)
		o.arena = append(o.arena, pkt[:packet.IPv4MinHeaderLen]...)
		if off == 0 {
			o.arena = append(o.arena, pkt[packet.IPv4MinHeaderLen:hl]...)
		} else {
			o.arena = append(o.arena, laterOpts...)
		}
		o.arena = append(o.arena, payload[off:off+n]...)
		frag := packet.IPv4(o.arena[start:])
		frag.SetHeaderLen(h)
		frag.SetTotalLen(len(frag))
		off += n
		frag.SetFragment(off < len(payload) || lastMF, baseOffset+off-n)
		frag.SetChecksum()
		o.Packets = append(o.Packets, Egress{Iface: ifc, Data: frag})
	}
	return true
}
