package routing

import (
	"errors"
	"fmt"
	"os"
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

// Send writes out's datagrams to their devices, in order. A failed write
// is counted, not returned: the datagram is lost, as on a congested link.
func (r *Router) Send(out *Output) {
	for _, e := range out.Packets {
		out.one[0] = e.Data
		if _, err := e.Iface.Dev.Write(out.one[:]); err != nil {
			r.stats.writeErrors.Add(1)
		}
	}
}
