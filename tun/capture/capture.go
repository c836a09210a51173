// Package capture records what crosses a tun.Device as a pcapng file.
//
// Wrap returns a tun.Device that passes every call through to the device
// it wraps and writes each datagram read from it (received by the router
// on that interface) and each datagram written to it (sent) to a pcapng
// stream with one interface, link type LINKTYPE_IPV4 (228): a bare IPv4
// datagram per packet, which is what a TUN frame is (IFF_NO_PI). tshark
// and Wireshark dissect it as IPv4; each packet's direction is in its
// Enhanced Packet Block flags (frame.packet_flags_direction: 1 inbound,
// 2 outbound).
package capture

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/icmpgw/icmpgw/tun"
)

// LinkType is the pcapng link type of every capture: LINKTYPE_IPV4 (228),
// raw IPv4 with no link-layer header. LINKTYPE_RAW (101) would also do, but
// it leaves readers to guess IPv4 or IPv6 from the version nibble, and
// icmpgw only speaks IPv4.
const LinkType = layers.LinkTypeIPv4

var (
	inbound  = &pcapgo.NgEpbFlags{Direction: pcapgo.NgEpbFlagDirectionInbound}
	outbound = &pcapgo.NgEpbFlags{Direction: pcapgo.NgEpbFlagDirectionOutbound}
)

// Device is a tun.Device that records the datagrams crossing the device it
// wraps. Recording never changes a datagram, keeps no reference to it once
// the call returns, and never fails a Read or Write: recording errors are
// counted (Errors).
//
// Each datagram is written and flushed to the stream before Read returns
// it, or before Write hands it on, under a mutex shared by Read and Write.
// So the file is readable while the lab runs, and a datagram sent in
// answer to another never precedes it in the file.
//
// Device is safe for concurrent use as tun.Device requires.
type Device struct {
	dev  tun.Device
	errs atomic.Uint64

	mu      sync.Mutex // serializes w and guards closed
	w       *pcapgo.NgWriter
	closed  bool
	snaplen int
}

// Wrap writes a pcapng section and interface header to w, naming the
// interface name, flushes them, and returns a Device that records the
// datagrams crossing dev to w: their first snaplen bytes, or whole if
// snaplen is 0. The caller keeps w and closes it after Device.Close.
func Wrap(dev tun.Device, w io.Writer, name string, snaplen int) (*Device, error) {
	if snaplen < 0 {
		return nil, fmt.Errorf("capture: %s: snaplen %d: want 0 (whole datagrams) or more", name, snaplen)
	}
	intf := pcapgo.NgInterface{
		Name:                name,
		Description:         "icmpgw router interface " + dev.Name(),
		OS:                  runtime.GOOS,
		LinkType:            LinkType,
		TimestampResolution: 9,               // nanoseconds, as time.Time
		SnapLength:          uint32(snaplen), // 0: whole datagrams
	}
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Hardware:    runtime.GOARCH,
		OS:          runtime.GOOS,
		Application: "icmpgw",
	}}
	nw, err := pcapgo.NewNgWriterInterface(w, intf, opts)
	if err != nil {
		return nil, fmt.Errorf("capture: %s: write pcapng header: %w", name, err)
	}
	if err := nw.Flush(); err != nil {
		return nil, fmt.Errorf("capture: %s: write pcapng header: %w", name, err)
	}
	return &Device{dev: dev, w: nw, snaplen: snaplen}, nil
}

// record writes pkt with the time now and flushes it. It does not keep pkt.
func (d *Device) record(pkt []byte, dir *pcapgo.NgEpbFlags) {
	ci := gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(pkt), Length: len(pkt)}
	if d.snaplen > 0 && len(pkt) > d.snaplen {
		ci.CaptureLength, pkt = d.snaplen, pkt[:d.snaplen]
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	err := d.w.WritePacketWithOptions(ci, pkt, pcapgo.NgPacketOptions{Flags: dir})
	if err == nil {
		err = d.w.Flush()
	}
	if err != nil {
		d.errs.Add(1)
	}
}

// Read implements tun.Device. It records each datagram read before
// returning it.
func (d *Device) Read(bufs [][]byte, sizes []int) (int, error) {
	n, err := d.dev.Read(bufs, sizes)
	for i := range n {
		d.record(bufs[i][:sizes[i]], inbound)
	}
	return n, err
}

// Received records datagrams that reached the wrapped device's interface
// without a Read: those an in-process link hands to a router directly.
func (d *Device) Received(pkts [][]byte) {
	for _, b := range pkts {
		d.record(b, inbound)
	}
}

// Write implements tun.Device. It records each datagram as it is handed
// to the wrapped device, whether or not that device then delivers it.
func (d *Device) Write(bufs [][]byte) (int, error) {
	for _, b := range bufs {
		d.record(b, outbound)
	}
	return d.dev.Write(bufs)
}

// BatchSize implements tun.Device.
func (d *Device) BatchSize() int { return d.dev.BatchSize() }

// MTU implements tun.Device.
func (d *Device) MTU() int { return d.dev.MTU() }

// Name implements tun.Device.
func (d *Device) Name() string { return d.dev.Name() }

// Close implements tun.Device. It closes the wrapped device, then flushes
// the stream and stops recording; datagrams that cross afterwards are not
// recorded. It does not close the writer Wrap was given. Close may be
// called more than once; it returns the wrapped device's error.
func (d *Device) Close() error {
	err := d.dev.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		if ferr := d.w.Flush(); ferr != nil {
			d.errs.Add(1)
		}
	}
	return err
}

// Errors is the number of datagrams that could not be recorded (and
// failed flushes). Forwarding goes on regardless.
func (d *Device) Errors() uint64 { return d.errs.Load() }
