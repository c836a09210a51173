package tun

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where named network namespaces are bind-mounted, as by
// `ip netns add`.
const netnsDir = "/run/netns"

// dumpAttempts bounds the retries of a netlink dump that the kernel
// interrupted because the table changed while it was being read.
const dumpAttempts = 5

// CreateNamespace creates a named network namespace, like `ip netns add
// name`, and brings its loopback link up. If the name is taken the error
// wraps fs.ErrExist and says how to remove the namespace.
//
// The calling goroutine's thread stays in its own namespace; see
// withThread.
func CreateNamespace(name string) error {
	if err := checkNamespaceName(name); err != nil {
		return err
	}
	exists, err := NamespaceExists(name)
	if err != nil {
		return err
	}
	if exists {
		return errExist(name)
	}
	err = WithThread(func() error {
		// NewNamed unshares this thread into a fresh namespace, then
		// bind-mounts it at /run/netns/name (O_EXCL, so a racing creator
		// fails here). withThread moves the thread back afterwards, on
		// success or failure.
		ns, err := netns.NewNamed(name)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return errExist(name)
			}
			// NewNamed leaves the file behind if the bind mount fails;
			// the DeleteNamespace below removes it.
			return fmt.Errorf("tun: create netns %s: %w", name, err)
		}
		defer ns.Close()
		h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("tun: netlink handle in netns %s: %w", name, err)
		}
		defer h.Close()
		lo, err := h.LinkByName("lo")
		if err == nil {
			err = h.LinkSetUp(lo)
		}
		if err != nil {
			return fmt.Errorf("tun: set lo up in netns %s: %w", name, err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// Do not leave a half-made namespace behind; one that existed
		// before (ErrExist) is not ours to delete.
		return errors.Join(err, DeleteNamespace(name))
	}
	return err
}

func errExist(name string) error {
	return fmt.Errorf("tun: create netns %s: %w (another lab may be using it; if a killed icmpgw left it, remove it with \"ip netns delete %s\")",
		name, fs.ErrExist, name)
}

// DeleteNamespace removes the named network namespace, like `ip netns
// delete name`. A missing namespace is not an error; a stale name left
// without its mount is removed too. The namespace itself lives on while a
// process or an open device (see CreateIn) still refers to it.
func DeleteNamespace(name string) error {
	if err := checkNamespaceName(name); err != nil {
		return err
	}
	p := filepath.Join(netnsDir, name)
	switch err := unix.Unmount(p, unix.MNT_DETACH); {
	case err == nil, errors.Is(err, unix.EINVAL): // EINVAL: not a mount point
	case errors.Is(err, unix.ENOENT):
		return nil
	default:
		return fmt.Errorf("tun: delete netns %s: unmount %s: %w", name, p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("tun: delete netns %s: %w", name, err)
	}
	return nil
}

// NamespaceExists reports whether name is taken under /run/netns.
func NamespaceExists(name string) (bool, error) {
	if err := checkNamespaceName(name); err != nil {
		return false, err
	}
	_, err := os.Lstat(filepath.Join(netnsDir, name))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("tun: netns %s: %w", name, err)
	}
}

// ListNamespaces returns the names under /run/netns that start with
// prefix, sorted. It returns no names and no error if /run/netns does not
// exist.
func ListNamespaces(prefix string) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tun: list netns: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Route is a route out of a Link.
type Route struct {
	Dst netip.Prefix // 0.0.0.0/0 is the default route; host bits are ignored
	Via netip.Addr   // zero: Dst is on the link itself
}

// Sysctl is one setting under /proc/sys, written from a thread inside the
// link's namespace so that it applies there. Only keys under net/ are
// accepted: the others are not per namespace and would change the whole
// machine.
type Sysctl struct {
	Key   string // path under /proc/sys, such as "net/ipv4/conf/gw0/accept_redirects"
	Value string // written as is, such as "0"
}

// Link is the desired state of one link in a named namespace. Apply makes
// it so. Zero fields mean "leave as is".
type Link struct {
	Namespace   string         // a name under /run/netns
	Name        string         // the link, such as one made by CreateIn
	MTU         int            // 0: keep the current MTU
	Addrs       []netip.Prefix // address and prefix length, such as 198.51.100.2/24
	Routes      []Route        // replaced (RouteReplace), so applying twice is harmless
	Sysctls     []Sysctl       // written before the link comes up
	DisableIPv6 bool           // set net/ipv6/conf/NAME/disable_ipv6=1 before the link comes up
}

// Apply brings l's link to the state l describes, through a netlink handle
// in l.Namespace: MTU, addresses (ones already there are kept), sysctls
// and disable_ipv6, link up, then routes. Applying the same Link again
// changes nothing. Apply adds; it does not remove addresses or routes that
// l does not list.
//
// Sysctls are written before the link comes up, so that the link never
// carries traffic under the kernel's defaults; in particular, with IPv6
// off from the start, no router solicitation or MLD report reaches the
// router.
func Apply(l Link) error {
	if err := l.check(); err != nil {
		return err
	}
	ns := l.Namespace
	h, err := handleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(l.Name)
	if err != nil {
		return fmt.Errorf("tun: find link %s in netns %s: %w", l.Name, ns, err)
	}

	if l.MTU != 0 && link.Attrs().MTU != l.MTU {
		if err := h.LinkSetMTU(link, l.MTU); err != nil {
			return fmt.Errorf("tun: set mtu %d on %s in netns %s: %w", l.MTU, l.Name, ns, err)
		}
	}

	have, err := dump(func() ([]netlink.Addr, error) { return h.AddrList(link, netlink.FAMILY_ALL) })
	if err != nil {
		return fmt.Errorf("tun: list addresses of %s in netns %s: %w", l.Name, ns, err)
	}
	for _, p := range l.Addrs {
		if slices.ContainsFunc(have, func(a netlink.Addr) bool { return addrPrefix(a) == p }) {
			continue
		}
		err := h.AddrAdd(link, &netlink.Addr{IPNet: ipNet(p)})
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("tun: add %s to %s in netns %s: %w", p, l.Name, ns, err)
		}
	}

	sysctls := l.Sysctls
	if l.DisableIPv6 {
		sysctls = append(slices.Clip(sysctls), Sysctl{
			Key:   "net/ipv6/conf/" + l.Name + "/disable_ipv6",
			Value: "1",
		})
	}
	if err := writeSysctls(ns, l.Name, sysctls); err != nil {
		return err
	}

	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("tun: set %s up in netns %s: %w", l.Name, ns, err)
	}

	for _, r := range l.Routes {
		nr := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(r.Dst.Masked())}
		if r.Via.IsValid() {
			// TUN is NOARP: the gateway is never resolved, the packet
			// just goes out of the link.
			nr.Gw = r.Via.Unmap().AsSlice()
		} else {
			nr.Scope = netlink.SCOPE_LINK
		}
		if err := h.RouteReplace(nr); err != nil {
			return fmt.Errorf("tun: add route %s to %s in netns %s: %w", r, l.Name, ns, err)
		}
	}
	return nil
}

// String formats r like `ip route`: "default via 198.51.100.1".
func (r Route) String() string {
	dst := r.Dst.Masked().String()
	if r.Dst.Bits() == 0 {
		dst = "default"
	}
	if r.Via.IsValid() {
		return dst + " via " + r.Via.String()
	}
	return dst
}

// check validates l before anything is changed.
func (l Link) check() error {
	if err := checkNamespaceName(l.Namespace); err != nil {
		return err
	}
	if err := checkLinkName(l.Name); err != nil {
		return err
	}
	where := fmt.Sprintf("link %s in netns %s", l.Name, l.Namespace)
	if l.MTU < 0 {
		return fmt.Errorf("tun: %s: mtu %d: want 0 (keep) or a positive MTU", where, l.MTU)
	}
	for _, p := range l.Addrs {
		if !p.IsValid() || p.Addr().Is4In6() || p.Addr().IsUnspecified() {
			return fmt.Errorf("tun: %s: address %s: want an address with prefix length such as 198.51.100.2/24", where, p)
		}
	}
	for _, r := range l.Routes {
		if !r.Dst.IsValid() || r.Dst.Addr().Is4In6() {
			return fmt.Errorf("tun: %s: route %s: want a destination prefix such as 0.0.0.0/0", where, r.Dst)
		}
		if r.Via.IsValid() && r.Via.Unmap().Is4() != r.Dst.Addr().Is4() {
			return fmt.Errorf("tun: %s: route %s: gateway and destination are of different families", where, r)
		}
	}
	for _, s := range l.Sysctls {
		if err := checkSysctlKey(s.Key); err != nil {
			return fmt.Errorf("tun: %s: %w", where, err)
		}
	}
	return nil
}

func checkSysctlKey(key string) error {
	if key == "" || path.IsAbs(key) || path.Clean(key) != key || !strings.HasPrefix(key, "net/") ||
		slices.Contains(strings.Split(key, "/"), "..") {
		return fmt.Errorf("sysctl key %q: want a path under /proc/sys/net such as net/ipv4/conf/gw0/accept_redirects", key)
	}
	return nil
}

// checkNamespaceName rejects names that `ip netns` would reject and that
// would escape /run/netns.
func checkNamespaceName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > 255 {
		return fmt.Errorf("tun: netns name %q: want a file name under %s, such as icmpgw-r1", name, netnsDir)
	}
	return nil
}

// checkLinkName rejects names the kernel would reject (dev_valid_name).
// water would silently truncate a long one.
func checkLinkName(name string) error {
	if name == "" || len(name) >= unix.IFNAMSIZ || name == "." || name == ".." ||
		strings.ContainsFunc(name, func(r rune) bool { return r == '/' || r == ':' || r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("tun: link name %q: want 1 to %d characters without '/', ':' or spaces, such as gw0",
			name, unix.IFNAMSIZ-1)
	}
	return nil
}

// writeSysctls writes sysctls under /proc/sys from a thread inside ns.
// /proc/sys/net resolves against the writing thread's own namespace
// (unlike /proc/net, which follows the process's main thread).
//
// Disabling IPv6 on a link whose MTU is below 1280 finds no
// net/ipv6/conf/link directory: the kernel runs no IPv6 there, and that
// counts as done.
func writeSysctls(ns, link string, sysctls []Sysctl) error {
	if len(sysctls) == 0 {
		return nil
	}
	disable := "net/ipv6/conf/" + link + "/disable_ipv6"
	return InNamespace(ns, func() error {
		for _, s := range sysctls {
			err := writeFile(filepath.Join("/proc/sys", s.Key), s.Value)
			if err != nil && !(s.Key == disable && s.Value == "1" && errors.Is(err, fs.ErrNotExist)) {
				return fmt.Errorf("tun: set sysctl %s=%s in netns %s: %w", s.Key, s.Value, ns, err)
			}
		}
		return nil
	})
}

// writeFile writes value to an existing file; unlike os.WriteFile it
// never creates one.
func writeFile(name, value string) error {
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	return errors.Join(err, f.Close())
}

// handleAt returns a rtnetlink handle whose socket lives in the named
// namespace ns. The caller closes it.
//
// netlink.NewHandleAt switches the current thread into ns to open the
// socket, then back, and unlocks the thread even if switching back
// failed; calling it under withThread keeps such a thread out of the
// runtime's pool.
func handleAt(ns string) (*netlink.Handle, error) {
	var h *netlink.Handle
	err := WithThread(func() error {
		target, err := netns.GetFromName(ns)
		if err != nil {
			return fmt.Errorf("tun: open netns %s: %w", ns, err)
		}
		defer target.Close()
		h, err = netlink.NewHandleAt(target, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("tun: netlink handle in netns %s: %w", ns, err)
		}
		return nil
	})
	if err != nil && h != nil {
		h.Close()
		return nil, err
	}
	return h, err
}

// InNamespace runs fn on a thread inside the named namespace ns (one under
// /run/netns); see WithThread.
func InNamespace(ns string, fn func() error) error {
	return WithThread(func() error {
		target, err := netns.GetFromName(ns)
		if err != nil {
			return fmt.Errorf("tun: open netns %s: %w", ns, err)
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			return fmt.Errorf("tun: enter netns %s: %w", ns, err)
		}
		return fn()
	})
}

// WithThread runs fn on a new goroutine locked to its OS thread and waits
// for it. fn may move the thread into other network namespaces: afterwards
// WithThread sets the thread's namespace back to the one it started in and
// unlocks it only if that worked. Otherwise the goroutine exits still
// locked and the Go runtime ends the thread rather than reuse it in the
// wrong namespace. Either way the caller's own thread never moves.
//
// Go (since 1.10) never starts new threads from a locked thread, so no
// other thread inherits the namespace fn enters.
func WithThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread() // nothing has moved yet
			errc <- fmt.Errorf("tun: get thread netns: %w", err)
			return
		}
		defer orig.Close()
		fnErr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(fnErr, fmt.Errorf("tun: restore thread netns: %w", err))
			return // still locked: the runtime terminates this thread
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

// dump calls f, a netlink dump, again while the kernel reports that the
// dump was interrupted by a concurrent change, at most dumpAttempts times.
func dump[T any](f func() ([]T, error)) ([]T, error) {
	var err error
	for range dumpAttempts {
		var out []T
		out, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, fmt.Errorf("%w (%d attempts)", err, dumpAttempts)
}

// ipNet converts p to the *net.IPNet netlink wants, keeping host bits.
func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr().Unmap()
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

// addrPrefix converts a netlink address back to a prefix.
func addrPrefix(a netlink.Addr) netip.Prefix {
	if a.IPNet == nil {
		return netip.Prefix{}
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.Prefix{}
	}
	ones, _ := a.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones)
}
