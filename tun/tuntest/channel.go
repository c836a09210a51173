// Package tuntest holds test helpers: an in-memory tun.Device, builders
// for the datagrams clients send, and checkers that read like sentences.
package tuntest

import (
	"fmt"
	"os"
	"sync"
)

// Channel is an in-memory tun.Device. Tests put datagrams for the router
// on In and take what the router wrote from Out.
type Channel struct {
	In  chan []byte // datagrams the router will read
	Out chan []byte // datagrams the router wrote (copies)

	name      string
	mtu       int
	closed    chan struct{}
	closeOnce sync.Once
}

// NewChannel returns a Channel whose queues hold 1024 datagrams.
func NewChannel(name string, mtu int) *Channel {
	return &Channel{
		In: make(chan []byte, 1024), Out: make(chan []byte, 1024),
		name: name, mtu: mtu, closed: make(chan struct{}),
	}
}

// Read implements tun.Device.
func (c *Channel) Read(bufs [][]byte, sizes []int) (int, error) {
	select {
	case p := <-c.In:
		sizes[0] = copy(bufs[0], p)
		return 1, nil
	case <-c.closed:
		return 0, fmt.Errorf("tuntest: read %s: %w", c.name, os.ErrClosed)
	}
}

// Write implements tun.Device. It copies each datagram; a full Out queue
// drops it, as a real link would.
func (c *Channel) Write(bufs [][]byte) (int, error) {
	for i, b := range bufs {
		select {
		case <-c.closed:
			return i, fmt.Errorf("tuntest: write %s: %w", c.name, os.ErrClosed)
		case c.Out <- append([]byte(nil), b...):
		default:
		}
	}
	return len(bufs), nil
}

// BatchSize implements tun.Device.
func (c *Channel) BatchSize() int { return 1 }

// MTU implements tun.Device.
func (c *Channel) MTU() int { return c.mtu }

// Name implements tun.Device.
func (c *Channel) Name() string { return c.name }

// Close implements tun.Device.
func (c *Channel) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

// Discard is a tun.Device that reads nothing and drops what is written,
// for benchmarks and allocation tests.
type Discard struct{}

// Read implements tun.Device; it reports the device closed.
func (Discard) Read([][]byte, []int) (int, error) { return 0, os.ErrClosed }

// Write implements tun.Device.
func (Discard) Write(bufs [][]byte) (int, error) { return len(bufs), nil }

// BatchSize implements tun.Device.
func (Discard) BatchSize() int { return 1 }

// MTU implements tun.Device.
func (Discard) MTU() int { return 1500 }

// Name implements tun.Device.
func (Discard) Name() string { return "discard" }

// Close implements tun.Device.
func (Discard) Close() error { return nil }
