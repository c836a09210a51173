package routing

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// maxDatagram is the largest IPv4 datagram.
const maxDatagram = 65535

// Serve reads datagrams from in's device until it is closed, passes each
// to Process and sends what Process produced. It returns nil once the
// device is closed, or the read error that stopped it. Run one Serve per
// interface.
func (r *Router) Serve(in *Interface) error {
	batch := in.Dev.BatchSize()
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, maxDatagram)
	}
	sizes := make([]int, batch)
	out := NewOutput()
	for {
		n, err := in.Dev.Read(bufs, sizes)
		for i := range n {
			out.Reset()
			r.Process(in, bufs[i][:sizes[i]], out)
			r.Send(out)
		}
		if errors.Is(err, os.ErrClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("routing: read from %s: %w", in.Dev.Name(), err)
		}
	}
}

// maxDelayed bounds the ICMP messages held back by Policy.Delay at once;
// beyond it they are dropped and counted, as a slow path's queue would.
const maxDelayed = 4096

// Send writes out's datagrams to their devices, in order. A failed write
// is counted, not returned: the datagram is lost, as on a congested link.
func (r *Router) Send(out *Output) {
	for _, e := range out.Packets {
		if e.Delay > 0 {
			r.sendLater(e)
			continue
		}
		out.one[0] = e.Data
		r.write(e.Iface, out.one[:])
	}
}

// write writes one datagram and counts it.
func (r *Router) write(ifc *Interface, one [][]byte) {
	if _, err := ifc.Dev.Write(one); err != nil {
		r.stats.writeErrors.Add(1)
		ifc.txErrors.Add(1)
		return
	}
	ifc.txPackets.Add(1)
	ifc.txBytes.Add(uint64(len(one[0])))
}

// sendLater writes a copy of e after e.Delay.
func (r *Router) sendLater(e Egress) {
	if r.delayed.Add(1) > maxDelayed {
		r.delayed.Add(-1)
		r.stats.writeErrors.Add(1)
		return
	}
	data := append([]byte(nil), e.Data...)
	time.AfterFunc(e.Delay, func() {
		defer r.delayed.Add(-1)
		if !e.Iface.Up() {
			return
		}
		r.write(e.Iface, [][]byte{data})
	})
}
