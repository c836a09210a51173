package tun

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
	wgtun "golang.zx2c4.com/wireguard/tun"
)

// headroom is what wireguard-go's Write needs in front of each packet for
// the virtio-net header (10 bytes), rounded up.
const headroom = 16

// maxCoalesced is the largest datagram GRO coalescing may build.
const maxCoalesced = 65535

// writeChunk is how many packets go to wireguard-go's Write at a time:
// enough for a whole 64 KiB super-packet of 1448-byte segments (45), and
// half the memory of its batch size of 128, since every buffer must have
// room to coalesce into.
const writeChunk = 64

// CreateOffloadIn is CreateIn for a device with the kernel's TUN offloads
// on (IFF_VNET_HDR, TUN_F_CSUM|TSO4|TSO6, and USO4/USO6 where the kernel
// has them). The host's kernel then hands over a TCP burst as one
// super-packet and one read returns it as up to BatchSize MTU-sized
// segments (GSO split); a Write of many segments of one flow reaches the
// kernel as one super-packet (GRO). The router still sees every segment
// on its own: offloads change how many system calls carry the packets,
// not which packets there are. The virtio-net handling is wireguard-go's
// (golang.zx2c4.com/wireguard/tun).
func CreateOffloadIn(ns, name string, mtu int) (Device, error) {
	if err := checkCreate(ns, name, mtu); err != nil {
		return nil, err
	}
	var dev wgtun.Device
	err := InNamespace(ns, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF: %w", err)
		}
		// Unmonitored: no netlink listener goroutines; icmpgw watches its
		// links itself.
		dev, _, err = wgtun.CreateUnmonitoredTUNFromFD(fd)
		if err != nil {
			unix.Close(fd)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tun: create %s in netns %s: %w", name, ns, err)
	}
	d, err := newOffloadDevice(dev, ns+"/"+name)
	if err != nil {
		dev.Close()
		return nil, err
	}
	if d.mtu, err = setMTU(ns, name, mtu); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// offloadDevice adapts a wireguard-go tun.Device to Device.
type offloadDevice struct {
	dev  wgtun.Device
	name string
	mtu  int

	// wbufs hold copies of the packets of one Write with headroom in
	// front and room behind for GRO to coalesce into.
	writeMu sync.Mutex
	wbufs   [][]byte

	dropped atomic.Uint64

	// queued's state, made once: Read allocates nothing.
	rawConn syscall.RawConn
	poll    func(fd uintptr)
	pollFd  [1]unix.PollFd
	pollN   int
}

var _ Device = (*offloadDevice)(nil)

func newOffloadDevice(dev wgtun.Device, name string) (*offloadDevice, error) {
	d := &offloadDevice{dev: dev, name: name, wbufs: make([][]byte, min(dev.BatchSize(), writeChunk))}
	for i := range d.wbufs {
		d.wbufs[i] = make([]byte, 0, headroom+maxCoalesced)
	}
	f, ok := dev.(interface{ File() *os.File })
	if !ok {
		return nil, fmt.Errorf("tun: %s: wireguard-go device has no File", name)
	}
	var err error
	if d.rawConn, err = f.File().SyscallConn(); err != nil {
		return nil, fmt.Errorf("tun: %s: %w", name, err)
	}
	d.poll = func(fd uintptr) {
		d.pollFd[0].Fd = int32(fd)
		d.pollN, _ = unix.Poll(d.pollFd[:], 0)
	}
	return d, nil
}

// maxBadReads is how many malformed super-packets in a row Read drops
// before it gives up and returns the error.
const maxBadReads = 64

// drainRoom is how many free buffers Read wants before it takes another
// queued packet: enough for a 64 KiB super-packet of 1 KiB segments.
const drainRoom = 64

// Read implements Device. It blocks for one packet (or super-packet),
// then takes whatever else the kernel has queued without waiting, while
// bufs has room: under load the batch grows and the Write it turns into
// can coalesce. bufs[0] must hold the largest datagram the host may send
// and each other buffer an MTU-sized segment. A super-packet that cannot
// be split (a malformed virtio-net header, a segment too large for its
// buffer) is dropped and counted in Dropped, as a NIC drops a bad frame.
func (d *offloadDevice) Read(bufs [][]byte, sizes []int) (int, error) {
	n, err := d.read(bufs, sizes)
	if err != nil {
		return 0, err
	}
	for len(bufs)-n >= drainRoom && d.queued() {
		m, err := d.read(bufs[n:], sizes[n:])
		if err != nil {
			break // the next Read reports it
		}
		n += m
	}
	return n, nil
}

// read reads one packet or super-packet, dropping bad ones.
func (d *offloadDevice) read(bufs [][]byte, sizes []int) (int, error) {
	for bad := 0; ; bad++ {
		n, err := d.dev.Read(bufs, sizes, 0)
		if err == nil && fits(bufs[:n], sizes) {
			return n, nil
		}
		if err == nil {
			err = errors.New("segment larger than its buffer")
		}
		if errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.EBADFD) || bad == maxBadReads || d.detached() {
			return 0, d.wrap("read from", err)
		}
		d.dropped.Add(1)
	}
}

// queued reports whether a Read would find a packet at once: a poll(2)
// with no timeout. Reads are serialized, so nothing takes it meanwhile.
func (d *offloadDevice) queued() bool {
	d.pollFd[0] = unix.PollFd{Events: unix.POLLIN}
	d.pollN = 0
	if d.rawConn.Control(d.poll) != nil {
		return false
	}
	return d.pollN > 0 && d.pollFd[0].Revents&unix.POLLIN != 0
}

// fits reports whether every packet read fits its buffer.
func fits(bufs [][]byte, sizes []int) bool {
	for i := range bufs {
		if sizes[i] > len(bufs[i]) {
			return false
		}
	}
	return true
}

// Dropped counts the super-packets Read could not split.
func (d *offloadDevice) Dropped() uint64 { return d.dropped.Load() }

// Write implements Device. It copies the packets behind headroom,
// writeChunk at a time, and lets wireguard-go coalesce what it can.
func (d *offloadDevice) Write(bufs [][]byte) (int, error) {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	written := 0
	for len(bufs) > 0 {
		chunk := bufs[:min(len(bufs), len(d.wbufs))]
		bufs = bufs[len(chunk):]
		w := d.wbufs[:len(chunk)]
		for i, b := range chunk {
			w[i] = append(w[i][:headroom], b...)
		}
		if _, err := d.dev.Write(w, headroom); err != nil {
			// wireguard-go reports bytes, not packets, and joins the
			// errors of the packets the kernel refused.
			return written, d.wrap("write to", err)
		}
		written += len(chunk)
	}
	return written, nil
}

// wrap says which device failed; errors that mean the device is closed or
// its link deleted wrap os.ErrClosed.
func (d *offloadDevice) wrap(op string, err error) error {
	if errors.Is(err, os.ErrClosed) || errors.Is(err, syscall.EBADFD) || d.detached() {
		return fmt.Errorf("tun: %s %s: %w (%w)", op, d.name, os.ErrClosed, err)
	}
	return fmt.Errorf("tun: %s %s: %w", op, d.name, err)
}

// detached reports whether the device's link is gone; see
// waterDevice.wrap for why an error alone does not tell.
func (d *offloadDevice) detached() bool {
	f, ok := d.dev.(interface{ File() *os.File })
	return ok && detached(f.File())
}

// BatchSize implements Device.
func (d *offloadDevice) BatchSize() int { return d.dev.BatchSize() }

// MTU implements Device.
func (d *offloadDevice) MTU() int { return d.mtu }

// Name implements Device. It is "namespace/link".
func (d *offloadDevice) Name() string { return d.name }

// Close implements Device; closing the descriptor removes the link.
func (d *offloadDevice) Close() error {
	if err := d.dev.Close(); err != nil {
		return d.wrap("close", err)
	}
	return nil
}
