package probe

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/icmpgw/icmpgw/tun"
)

// errNoNetns is returned for an empty namespace name: a probe never runs in
// the caller's own namespace.
var errNoNetns = errors.New("no network namespace named (probes never run in the caller's namespace)")

// inNetns runs f on a locked OS thread that has joined the network
// namespace named ns (a name under /run/netns, as `ip netns` uses).
func inNetns(ns string, f func() error) error {
	if ns == "" {
		return errNoNetns
	}
	return tun.WithThread(func() error {
		target, err := netns.GetFromName(ns)
		if err != nil {
			return fmt.Errorf("open netns: %w", err)
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			return fmt.Errorf("enter netns: %w", err)
		}
		return f()
	})
}

// socketIn creates a socket in the network namespace named ns. The socket
// stays bound to that namespace whichever thread uses it later. typ gets
// SOCK_CLOEXEC added.
func socketIn(ns string, domain, typ, proto int) (int, error) {
	fd := -1
	err := inNetns(ns, func() error {
		var err error
		fd, err = unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		return nil
	})
	if err != nil && fd >= 0 {
		// Made, but the thread could not come back: do not hand it out.
		unix.Close(fd)
		fd = -1
	}
	return fd, err
}

// RouteGet asks the kernel of the namespace named ns which route it would
// use for dst, like `ip -n ns route get dst`: via is the next hop (the zero
// Addr for a directly connected destination) and dev the output device.
// Cached exceptions count, so after the client accepted a Redirect, via is
// the new gateway.
func RouteGet(ns string, dst netip.Addr) (via netip.Addr, dev string, err error) {
	fail := func(what string, err error) (netip.Addr, string, error) {
		return netip.Addr{}, "", fmt.Errorf("probe: route get %s in netns %s: %s: %w", dst, ns, what, err)
	}
	dst = dst.Unmap()
	if !dst.Is4() {
		return fail("check destination", errNotIPv4)
	}
	if ns == "" {
		return fail("open netns", errNoNetns)
	}
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		return fail("open netns", err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
	if err != nil {
		return fail("open netlink", err)
	}
	defer h.Close()
	routes, err := h.RouteGet(dst.AsSlice())
	if err != nil {
		return fail("RTM_GETROUTE", err)
	}
	if len(routes) == 0 {
		return fail("RTM_GETROUTE", errors.New("kernel returned no route"))
	}
	r := routes[0]
	if gw, ok := netip.AddrFromSlice(r.Gw); ok {
		via = gw.Unmap()
	}
	link, err := h.LinkByIndex(r.LinkIndex)
	if err != nil {
		return fail(fmt.Sprintf("look up link %d", r.LinkIndex), err)
	}
	return via, link.Attrs().Name, nil
}
