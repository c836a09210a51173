package tun

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/songgao/water"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// CreateIn opens a TUN device called name inside the named network
// namespace ns (one under /run/netns, see CreateNamespace) and returns it
// as a Device. The netdev is created in ns and never appears in the
// namespace the router runs in; the file descriptor stays with this
// process, so packets the kernel in ns routes to the link are read here,
// and packets written here arrive on the link in ns.
//
// The device opens with IFF_NO_PI: every frame is a bare IP datagram.
// If mtu is positive, CreateIn sets the link's MTU to it; if it is 0 the
// kernel's default stays. The link is left down and without addresses:
// configure it with Apply. Closing the Device removes the link.
//
// The calling goroutine's thread never changes namespace: the device is
// opened on a separate goroutine locked to its OS thread, which moves into
// ns and back (see withThread).
func CreateIn(ns, name string, mtu int) (Device, error) {
	// water.New leaks the descriptor when TUNSETIFF fails, and a leaked
	// TUN descriptor keeps its namespace alive after DeleteNamespace. The
	// usual cause is a name already in use, which checkCreate checks.
	if err := checkCreate(ns, name, mtu); err != nil {
		return nil, err
	}
	var ifce *water.Interface
	err := InNamespace(ns, func() error {
		// Opening /dev/net/tun binds the file to the namespace of the
		// opening thread; TUNSETIFF then creates the netdev there.
		var err error
		ifce, err = water.New(water.Config{
			DeviceType:             water.TUN,
			PlatformSpecificParams: water.PlatformSpecificParams{Name: name},
		})
		return err
	})
	if err != nil {
		if ifce != nil {
			ifce.Close()
		}
		return nil, fmt.Errorf("tun: create %s in netns %s: %w", name, ns, err)
	}
	d := &waterDevice{rwc: ifce.ReadWriteCloser, name: ns + "/" + name}
	if got := ifce.Name(); got != name {
		d.Close()
		return nil, fmt.Errorf("tun: create %s in netns %s: kernel named the device %q", name, ns, got)
	}
	if d.mtu, err = setMTU(ns, name, mtu); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// checkCreate checks the arguments of CreateIn and CreateOffloadIn, and
// that ns has no link called name yet.
func checkCreate(ns, name string, mtu int) error {
	if err := checkNamespaceName(ns); err != nil {
		return err
	}
	if err := checkLinkName(name); err != nil {
		return err
	}
	if mtu < 0 {
		return fmt.Errorf("tun: create %s in netns %s: mtu %d: want 0 (kernel default) or a positive MTU", name, ns, mtu)
	}
	return checkNoLink(ns, name)
}

// checkNoLink returns an error wrapping fs.ErrExist if ns has a link
// called name.
func checkNoLink(ns, name string) error {
	h, err := handleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	_, err = h.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		return nil
	case err == nil:
		return fmt.Errorf("tun: create %s in netns %s: link %w", name, ns, fs.ErrExist)
	default:
		return fmt.Errorf("tun: find link %s in netns %s: %w", name, ns, err)
	}
}

// setMTU sets link's MTU in ns to mtu, unless mtu is 0, and returns the
// link's MTU as the kernel reports it afterwards.
func setMTU(ns, name string, mtu int) (int, error) {
	h, err := handleAt(ns)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	link, err := h.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("tun: find link %s in netns %s: %w", name, ns, err)
	}
	if mtu == 0 || link.Attrs().MTU == mtu {
		return link.Attrs().MTU, nil
	}
	if err := h.LinkSetMTU(link, mtu); err != nil {
		return 0, fmt.Errorf("tun: set mtu %d on %s in netns %s: %w", mtu, name, ns, err)
	}
	return mtu, nil
}

// waterDevice is a Device backed by a water TUN interface. Its file
// descriptor is non-blocking and registered with the Go runtime's poller,
// so Close unblocks a pending Read.
type waterDevice struct {
	rwc  io.ReadWriteCloser // *os.File from water
	name string             // "ns/link"
	mtu  int
}

var _ Device = (*waterDevice)(nil)

// Read implements tun.Device. It reads one packet into bufs[0], which
// should hold at least MTU bytes, and sets sizes[0].
func (d *waterDevice) Read(bufs [][]byte, sizes []int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	n, err := d.rwc.Read(bufs[0])
	if err != nil {
		return 0, d.wrap("read from", err)
	}
	sizes[0] = n
	return 1, nil
}

// Write implements tun.Device. It writes each packet in bufs as one frame
// and keeps going after a packet the kernel rejects (for example one whose
// first nibble is neither 4 nor 6); the errors are joined with
// errors.Join, each naming the packet's index. It stops at the first
// error that means the device is closed. While the link is down the
// kernel rejects every packet (EIO).
func (d *waterDevice) Write(bufs [][]byte) (int, error) {
	var errs []error
	n := 0
	for i, b := range bufs {
		m, err := d.rwc.Write(b)
		if err == nil && m != len(b) {
			err = io.ErrShortWrite
		}
		if err != nil {
			err = d.wrap(fmt.Sprintf("write packet %d (%d bytes) to", i, len(b)), err)
			errs = append(errs, err)
			if errors.Is(err, os.ErrClosed) {
				break
			}
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// wrap says which device failed. Errors that mean the descriptor is
// closed (os.ErrClosed after Close) or detached from its link (the netdev
// was deleted: EBADFD) wrap os.ErrClosed.
//
// A deleted link does not always show as EBADFD: the kernel also reports
// EPOLLERR, after which Go's poller fails every Read with "not pollable"
// before the read syscall runs. So any other error is followed by a probe
// of the descriptor (detached).
func (d *waterDevice) wrap(op string, err error) error {
	switch {
	case errors.Is(err, os.ErrClosed):
		return fmt.Errorf("tun: %s %s: %w", op, d.name, err)
	case errors.Is(err, syscall.EBADFD):
		return fmt.Errorf("tun: %s %s: %w (link deleted): %w", op, d.name, os.ErrClosed, err)
	case d.detached():
		return fmt.Errorf("tun: %s %s: %w (link deleted): %w", op, d.name, os.ErrClosed, err)
	default:
		return fmt.Errorf("tun: %s %s: %w", op, d.name, err)
	}
}

// detached reports whether the device's link is gone.
func (d *waterDevice) detached() bool {
	f, ok := d.rwc.(*os.File)
	return ok && detached(f)
}

// detached reports whether the TUN descriptor f has lost its link:
// TUNGETIFF fails with EBADFD once the netdev has been deleted.
func detached(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var ioctlErr error
	err = rc.Control(func(fd uintptr) {
		var ifr *unix.Ifreq
		if ifr, ioctlErr = unix.NewIfreq(""); ioctlErr == nil {
			ioctlErr = unix.IoctlIfreq(int(fd), unix.TUNGETIFF, ifr)
		}
	})
	return err == nil && errors.Is(ioctlErr, unix.EBADFD)
}

// BatchSize implements tun.Device. It is always 1.
func (d *waterDevice) BatchSize() int { return 1 }

// MTU implements tun.Device. It is the MTU the kernel reported once
// CreateIn had set it; a later change to the link is not seen here.
func (d *waterDevice) MTU() int { return d.mtu }

// Name implements tun.Device. It is "namespace/link".
func (d *waterDevice) Name() string { return d.name }

// Close implements tun.Device. Closing the only file descriptor of a
// non-persistent TUN device removes the link from its namespace, together
// with its addresses and routes. A blocked Read returns an error wrapping
// os.ErrClosed.
func (d *waterDevice) Close() error {
	if err := d.rwc.Close(); err != nil {
		return d.wrap("close", err)
	}
	return nil
}
