package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// These tests create network namespaces and TUN devices, so they need root
// and /dev/net/tun. Every namespace is called icmpgw-ta-<pid>-<suffix>, so
// runs cannot collide, and is deleted by name when its test ends.

// Echo Request 198.51.100.1 → 198.51.100.2, identifier 0x1234, sequence 1:
// written into the device, it arrives at the kernel in the namespace, which
// answers with an Echo Reply out of the same link.
var echoRequest = []byte{
	0x45, 0x00, 0x00, 0x20, // version 4, IHL 5, TOS 0, total length 32
	0x00, 0x01, 0x00, 0x00, // ID 1, no flags, fragment offset 0
	0x40, 0x01, 0x26, 0x72, // TTL 64, protocol 1 (ICMP), header checksum 0x2672
	0xc6, 0x33, 0x64, 0x01, // source 198.51.100.1
	0xc6, 0x33, 0x64, 0x02, // destination 198.51.100.2
	0x08, 0x00, 0x0e, 0xf7, // type 8 (Echo), code 0, ICMP checksum 0x0ef7
	0x12, 0x34, 0x00, 0x01, // identifier 0x1234, sequence 1
	0x69, 0x63, 0x6d, 0x70, // data "icmp"
}

var (
	peer  = netip.MustParseAddr("198.51.100.1") // the router's end: the Device
	local = netip.MustParseAddr("198.51.100.2") // the kernel's end, in the namespace
)

// requireRoot skips the test without root or /dev/net/tun, or fails it
// when CI=true: there the integration tests must run.
func requireRoot(t *testing.T) {
	t.Helper()
	reason := ""
	if os.Geteuid() != 0 {
		reason = "needs root to create network namespaces"
	} else if _, err := os.Stat("/dev/net/tun"); err != nil {
		reason = fmt.Sprintf("needs /dev/net/tun: %v", err)
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(reason + " (CI=true: not skipping)")
	}
	t.Skip(reason)
}

// testPrefix starts the names of this process's namespaces.
func testPrefix() string { return fmt.Sprintf("icmpgw-ta-%d-", os.Getpid()) }

// testNamespace returns a namespace name for this test and deletes that
// namespace by name when the test ends, pass or fail. It does not create it.
func testNamespace(t *testing.T, suffix string) string {
	t.Helper()
	name := testPrefix() + suffix
	if err := DeleteNamespace(name); err != nil { // a leftover of a crashed run with our pid
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := DeleteNamespace(name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// createDevice creates a namespace and a TUN device in it, closed when the
// test ends.
func createDevice(t *testing.T, suffix, link string, mtu int) (ns string, dev Device) {
	t.Helper()
	ns = testNamespace(t, suffix)
	if err := CreateNamespace(ns); err != nil {
		t.Fatal(err)
	}
	dev, err := CreateIn(ns, link, mtu)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() }) // may already be closed
	return ns, dev
}

func TestCreateNamespace(t *testing.T) {
	requireRoot(t)
	ns := testNamespace(t, "create")

	// The caller's thread must stay in its own namespace throughout.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	mine, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	defer func() {
		now, err := netns.Get()
		if err != nil {
			t.Fatal(err)
		}
		defer now.Close()
		if !now.Equal(mine) {
			t.Errorf("caller's thread moved from netns %v to %v", mine, now)
		}
	}()

	if err := CreateNamespace(ns); err != nil {
		t.Fatal(err)
	}
	if ok, err := NamespaceExists(ns); !ok || err != nil {
		t.Errorf("NamespaceExists(%q) = %v, %v; want true, nil", ns, ok, err)
	}

	err = CreateNamespace(ns)
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("second CreateNamespace(%q) = %v; want an error wrapping fs.ErrExist", ns, err)
	} else if msg := err.Error(); !strings.Contains(msg, ns) || !strings.Contains(msg, "ip netns delete "+ns) {
		t.Errorf("second CreateNamespace error %q: want it to name %s and say how to remove it", msg, ns)
	}

	h := nsHandle(t, ns)
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if lo.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("lo in %s is down; want up", ns)
	}

	names, err := ListNamespaces(testPrefix())
	if err != nil || !slices.Contains(names, ns) {
		t.Errorf("ListNamespaces(%q) = %q, %v; want it to contain %s", testPrefix(), names, err, ns)
	}

	if err := DeleteNamespace(ns); err != nil {
		t.Fatal(err)
	}
	if ok, err := NamespaceExists(ns); ok || err != nil {
		t.Errorf("after delete, NamespaceExists(%q) = %v, %v; want false, nil", ns, ok, err)
	}
	if err := DeleteNamespace(ns); err != nil {
		t.Errorf("deleting a missing namespace: %v; want nil", err)
	}
}

func TestCreateInApply(t *testing.T) {
	requireRoot(t)
	link := fmt.Sprintf("ta%d", os.Getpid())
	ns, dev := createDevice(t, "apply", link, 1400)
	redirects := "net/ipv4/conf/" + link + "/accept_redirects"
	l := Link{
		Namespace: ns,
		Name:      link,
		MTU:       1400,
		Addrs:     []netip.Prefix{netip.PrefixFrom(local, 24)},
		Routes: []Route{
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: peer},
		},
		Sysctls:     []Sysctl{{Key: redirects, Value: "0"}},
		DisableIPv6: true,
	}

	if got, want := dev.Name(), ns+"/"+link; got != want {
		t.Errorf("Name() = %q; want %q", got, want)
	}
	if got := dev.MTU(); got != 1400 {
		t.Errorf("MTU() = %d; want 1400", got)
	}
	if got := dev.BatchSize(); got != 1 {
		t.Errorf("BatchSize() = %d; want 1", got)
	}

	if err := Apply(l); err != nil {
		t.Fatal(err)
	}
	checkLink(t, l)

	t.Run("not in own namespace", func(t *testing.T) {
		_, err := netlink.LinkByName(link)
		var notFound netlink.LinkNotFoundError
		if !errors.As(err, &notFound) {
			t.Errorf("LinkByName(%q) in the test's namespace: %v; want LinkNotFoundError", link, err)
		}
		if _, err := os.Stat(filepath.Join("/proc/sys/net/ipv4/conf", link)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("conf/%s in the test's namespace: %v; want it missing", link, err)
		}
	})

	t.Run("sysctls", func(t *testing.T) {
		for _, s := range []Sysctl{
			{Key: redirects, Value: "0"},
			{Key: "net/ipv6/conf/" + link + "/disable_ipv6", Value: "1"},
		} {
			if got := readSysctl(t, ns, s.Key); got != s.Value {
				t.Errorf("sysctl %s in %s = %q; want %q", s.Key, ns, got, s.Value)
			}
		}
	})

	t.Run("echo", func(t *testing.T) {
		if n, err := dev.Write([][]byte{echoRequest}); n != 1 || err != nil {
			t.Fatalf("Write(echo request) = %d, %v; want 1, nil", n, err)
		}
		reply := readEchoReply(t, dev)
		checkEchoReply(t, reply)
	})

	t.Run("apply twice", func(t *testing.T) {
		if err := Apply(l); err != nil {
			t.Fatal(err)
		}
		checkLink(t, l)
	})

	t.Run("close", func(t *testing.T) {
		if err := dev.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := dev.Read([][]byte{make([]byte, 1500)}, make([]int, 1))
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read after Close: %v; want an error wrapping os.ErrClosed", err)
		}
		n, err := dev.Write([][]byte{echoRequest, echoRequest})
		if n != 0 || !errors.Is(err, os.ErrClosed) {
			t.Errorf("Write after Close = %d, %v; want 0 and an error wrapping os.ErrClosed", n, err)
		}
		// The last descriptor of a TUN device is gone: so is the link.
		h := nsHandle(t, ns)
		for i := 0; ; i++ {
			_, err := h.LinkByName(link)
			var notFound netlink.LinkNotFoundError
			if errors.As(err, &notFound) {
				break
			}
			if i == 100 {
				t.Fatalf("link %s still in %s 1s after Close (%v)", link, ns, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestDeviceErrors checks the error contract: per-packet write errors are
// joined, and a device whose link was deleted reads and writes as closed.
func TestDeviceErrors(t *testing.T) {
	requireRoot(t)
	ns, dev := createDevice(t, "errors", "err0", 0)

	// A link that is down takes no packets (EIO); that is not "closed".
	if _, err := dev.Write([][]byte{echoRequest}); err == nil || errors.Is(err, os.ErrClosed) {
		t.Errorf("Write to a down link: %v; want an error, not os.ErrClosed", err)
	}
	l := Link{Namespace: ns, Name: "err0", Addrs: []netip.Prefix{netip.PrefixFrom(local, 24)}, DisableIPv6: true}
	if err := Apply(l); err != nil {
		t.Fatal(err)
	}

	// The kernel takes any frame whose first nibble is 4 or 6 and rejects
	// the rest with EINVAL.
	notIP := make([]byte, 20)
	n, err := dev.Write([][]byte{notIP, echoRequest})
	if n != 1 || err == nil || !strings.Contains(err.Error(), "packet 0") || errors.Is(err, os.ErrClosed) {
		t.Errorf("Write(not IP, echo) = %d, %v; want 1 and an error about packet 0 only", n, err)
	}
	checkEchoReply(t, readEchoReply(t, dev)) // the echo did go through

	h := nsHandle(t, ns)
	link, err := h.LinkByName("err0")
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() {
		_, err := dev.Read([][]byte{make([]byte, 1500)}, make([]int, 1))
		read <- err
	}()
	if err := h.LinkDel(link); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(5*time.Second, func() { dev.Close() })
	defer timer.Stop()
	// The blocked Read may see EBADFD, or the poller's error; a later
	// Read sees only the poller's error. Both must say closed.
	for i, err := range []error{<-read, readOnce(dev)} {
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read %d after the link was deleted: %v; want an error wrapping os.ErrClosed", i, err)
		}
	}
	if _, err := dev.Write([][]byte{echoRequest}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after the link was deleted: %v; want an error wrapping os.ErrClosed", err)
	}
}

func TestCreateInExistingLink(t *testing.T) {
	requireRoot(t)
	ns, _ := createDevice(t, "dup", "dup0", 0)
	_, err := CreateIn(ns, "dup0", 0)
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateIn(%s, dup0) again: %v; want an error wrapping fs.ErrExist", ns, err)
	}
}

// TestApplyRejects needs no root: bad input fails before any namespace is
// touched.
func TestApplyRejects(t *testing.T) {
	ok := Link{Namespace: "icmpgw-ta-none", Name: "gw0"}
	for _, tt := range []struct {
		name string
		edit func(*Link)
		want string
	}{
		{"namespace with slash", func(l *Link) { l.Namespace = "../etc" }, "netns name"},
		{"namespace dot-dot", func(l *Link) { l.Namespace = ".." }, "netns name"},
		{"link name too long", func(l *Link) { l.Name = "abcdefghijklmnop" }, "link name"},
		{"link name with colon", func(l *Link) { l.Name = "gw0:1" }, "link name"},
		{"negative mtu", func(l *Link) { l.MTU = -1 }, "mtu"},
		{"zero address", func(l *Link) { l.Addrs = []netip.Prefix{{}} }, "address"},
		{"zero route", func(l *Link) { l.Routes = []Route{{}} }, "route"},
		{"mixed families", func(l *Link) {
			l.Routes = []Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: netip.MustParseAddr("2001:db8::1")}}
		}, "families"},
		{"sysctl outside net", func(l *Link) { l.Sysctls = []Sysctl{{Key: "kernel/hostname", Value: "x"}} }, "sysctl"},
		{"sysctl climbing out", func(l *Link) {
			l.Sysctls = []Sysctl{{Key: "net/../kernel/hostname", Value: "x"}}
		}, "sysctl"},
		{"sysctl absolute", func(l *Link) {
			l.Sysctls = []Sysctl{{Key: "/proc/sys/net/ipv4/ip_forward", Value: "1"}}
		}, "sysctl"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := ok
			tt.edit(&l)
			err := Apply(l)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Apply(%+v) = %v; want an error about %s", l, err, tt.want)
			}
		})
	}
}

// TestEchoRequestChecksums keeps the hand-written packet honest.
func TestEchoRequestChecksums(t *testing.T) {
	if got := checksum(echoRequest[:20]); got != 0 {
		t.Errorf("IPv4 header sums to %#04x; want 0", got)
	}
	if got := checksum(echoRequest[20:]); got != 0 {
		t.Errorf("ICMP message sums to %#04x; want 0", got)
	}
}

// checkLink checks through a netlink handle in l's namespace that the link
// has l's MTU, addresses (once each) and routes (once each) and is up.
func checkLink(t *testing.T, l Link) {
	t.Helper()
	h := nsHandle(t, l.Namespace)
	link, err := h.LinkByName(l.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got := link.Attrs().MTU; got != l.MTU {
		t.Errorf("%s MTU = %d; want %d", l.Name, got, l.MTU)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("%s is down; want up", l.Name)
	}

	addrs, err := dump(func() ([]netlink.Addr, error) { return h.AddrList(link, netlink.FAMILY_V4) })
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range l.Addrs {
		n := 0
		for _, a := range addrs {
			if addrPrefix(a) == want {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s has address %s %d times; want once (addresses: %v)", l.Name, want, n, addrs)
		}
	}

	routes, err := dump(func() ([]netlink.Route, error) { return h.RouteList(link, netlink.FAMILY_V4) })
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range l.Routes {
		n := 0
		for _, r := range routes {
			if routeDst(r) == want.Dst.Masked() && addrOf(r.Gw) == want.Via {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s has route %s %d times; want once (routes: %v)", l.Name, want, n, routes)
		}
	}
}

// routeDst returns r's destination; netlink may report a default route
// with no destination at all.
func routeDst(r netlink.Route) netip.Prefix {
	if r.Dst == nil {
		return netip.MustParsePrefix("0.0.0.0/0")
	}
	return addrPrefix(netlink.Addr{IPNet: r.Dst})
}

func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// readEchoReply reads from dev until an IPv4 ICMP Echo Reply arrives,
// skipping anything else, for at most 64 packets or 5 seconds: a timer
// closes dev to unblock a Read that waits longer.
func readEchoReply(t *testing.T, dev Device) []byte {
	t.Helper()
	timer := time.AfterFunc(5*time.Second, func() { dev.Close() })
	defer timer.Stop()
	bufs, sizes := [][]byte{make([]byte, 1500)}, make([]int, 1)
	for range 64 {
		n, err := dev.Read(bufs, sizes)
		if err != nil {
			t.Fatalf("no Echo Reply within 5s: %v", err)
		}
		if n != 1 {
			t.Fatalf("Read = %d packets; want 1", n)
		}
		pkt := bufs[0][:sizes[0]]
		ihl := int(pkt[0]&0x0f) * 4
		if len(pkt) >= 20 && pkt[0]>>4 == 4 && pkt[9] == 1 && len(pkt) >= ihl+8 && pkt[ihl] == 0 {
			return slices.Clone(pkt)
		}
		t.Logf("skipping %d bytes: % x", len(pkt), pkt[:min(len(pkt), 40)])
	}
	t.Fatal("no Echo Reply in 64 packets")
	return nil
}

// checkEchoReply checks that reply answers echoRequest.
func checkEchoReply(t *testing.T, reply []byte) {
	t.Helper()
	ihl := int(reply[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(reply[2:4]))
	if ihl < 20 || total != len(reply) {
		t.Fatalf("reply IHL %d, total length %d, read %d bytes: % x", ihl, total, len(reply), reply)
	}
	icmp := reply[ihl:]
	src := netip.AddrFrom4([4]byte(reply[12:16]))
	dst := netip.AddrFrom4([4]byte(reply[16:20]))
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"source", src, local},
		{"destination", dst, peer},
		{"type", icmp[0], uint8(0)},
		{"code", icmp[1], uint8(0)},
		{"identifier", binary.BigEndian.Uint16(icmp[4:6]), uint16(0x1234)},
		{"sequence", binary.BigEndian.Uint16(icmp[6:8]), uint16(1)},
		{"data", string(icmp[8:]), "icmp"},
		{"header checksum", checksum(reply[:ihl]), uint16(0)},
		{"ICMP checksum", checksum(icmp), uint16(0)},
	} {
		if c.got != c.want {
			t.Errorf("Echo Reply %s = %v; want %v", c.what, c.got, c.want)
		}
	}
}

// checksum is the RFC 1071 sum, complemented: 0 over a message whose
// checksum field is right.
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func readOnce(dev Device) error {
	_, err := dev.Read([][]byte{make([]byte, 1500)}, make([]int, 1))
	return err
}

// nsHandle returns a netlink handle in ns, closed when the test ends.
func nsHandle(t *testing.T, ns string) *netlink.Handle {
	t.Helper()
	h, err := handleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// readSysctl reads key under /proc/sys from a thread inside ns.
func readSysctl(t *testing.T, ns, key string) string {
	t.Helper()
	var b []byte
	err := InNamespace(ns, func() error {
		var err error
		b, err = os.ReadFile(filepath.Join("/proc/sys", key))
		return err
	})
	if err != nil {
		t.Fatalf("read sysctl %s in %s: %v", key, ns, err)
	}
	return strings.TrimSpace(string(b))
}
