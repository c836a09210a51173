package routing

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/icmpgw/icmpgw/tun/packet"
)

// maxDatagram is the largest IPv4 datagram.
const maxDatagram = 65535

// Serve reads datagrams from in's device until it is closed, a batch at
// a time, and handles each batch as Receive does. It returns nil once the
// device is closed, or the read error that stopped it. Run one Serve per
// interface whose device is not an in-process link calling Receive.
func (r *Router) Serve(in *Interface) error {
	batch := in.Dev.BatchSize()
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, maxDatagram)
	}
	sizes := make([]int, batch)
	pkts := make([][]byte, 0, batch)
	out := NewOutput()
	for {
		n, err := in.Dev.Read(bufs, sizes)
		pkts = pkts[:0]
		for i := range n {
			pkts = append(pkts, bufs[i][:sizes[i]])
		}
		r.handle(in, pkts, out)
		if errors.Is(err, os.ErrClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("routing: read from %s: %w", in.Dev.Name(), err)
		}
	}
}

// Receive handles datagrams that arrived on in, on the caller's
// goroutine: an in-process link calls it instead of queueing, so a hop
// between two virtual routers is a function call. Process may rewrite
// the datagrams in place; they are the caller's again when Receive
// returns. Receive is safe for concurrent use.
func (r *Router) Receive(in *Interface, pkts [][]byte) {
	out := r.outputs.Get().(*Output)
	r.handle(in, pkts, out)
	r.outputs.Put(out)
}

// handle processes pkts into out and sends the result.
func (r *Router) handle(in *Interface, pkts [][]byte, out *Output) {
	out.Reset()
	for _, p := range pkts {
		r.Process(in, p, out)
	}
	r.Send(out)
}

// maxDelayed bounds the ICMP messages held back by Policy.Delay at once;
// beyond it they are dropped and counted, as a slow path's queue would.
const maxDelayed = 4096

// Send writes out's datagrams to their devices, in order. Consecutive
// datagrams for one interface go in one Write, so a device that coalesces
// (GRO) sees a whole batch. A failed write is counted, not returned: the
// datagram is lost, as on a congested link.
func (r *Router) Send(out *Output) {
	pkts := out.Packets
	for i := 0; i < len(pkts); {
		e := pkts[i]
		if e.Delay > 0 {
			r.sendLater(e)
			i++
			continue
		}
		batch := out.batch[:0]
		for ; i < len(pkts) && pkts[i].Iface == e.Iface && pkts[i].Delay == 0; i++ {
			batch = append(batch, pkts[i].Data)
		}
		r.write(e.Iface, batch)
		out.batch = batch[:0]
	}
}

// write writes datagrams to ifc, counts them and returns how many were
// written. A device that fails part of a Write reports how many it wrote;
// the counters take them to be the first ones.
func (r *Router) write(ifc *Interface, pkts [][]byte) int {
	n, err := ifc.Dev.Write(pkts)
	n = min(max(n, 0), len(pkts))
	if err != nil && n == len(pkts) {
		n = 0 // a device that fails without saying which: count them all
	}
	if lost := len(pkts) - n; lost > 0 {
		r.stats.writeErrors.Add(uint64(lost))
		ifc.txErrors.Add(uint64(lost))
	}
	var bytes int
	for _, p := range pkts[:n] {
		bytes += len(p)
	}
	ifc.txPackets.Add(uint64(n))
	ifc.txBytes.Add(uint64(bytes))
	return n
}

// sendLater writes a copy of e, an ICMP message, after e.Delay, and
// counts it as sent once written.
func (r *Router) sendLater(e Egress) {
	if r.delayed.Add(1) > maxDelayed {
		r.delayed.Add(-1)
		r.stats.delayedLost.Add(1)
		return
	}
	data := append([]byte(nil), e.Data...)
	time.AfterFunc(e.Delay, func() {
		defer r.delayed.Add(-1)
		if !e.Iface.Up() {
			r.stats.delayedLost.Add(1)
			return
		}
		if r.write(e.Iface, [][]byte{data}) == 1 {
			icmp := packet.ICMPv4(packet.IPv4(data).Payload())
			r.countSent(icmp.Type(), icmp.Code())
		}
	})
}
