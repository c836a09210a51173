package probe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// bufSize holds any report or reply a probe waits for: Linux quotes at most
// 576 bytes in an ICMP error, and answers to our small probes are small.
// Longer datagrams are truncated, which matching never needs.
const bufSize = 2048

// maxUDPPayload is the largest UDP payload in one IPv4 datagram.
const maxUDPPayload = 65535 - 20 - 8

// defaultUDPSize is the UDP payload length when UDPOptions.Size is 0.
const defaultUDPSize = 32

var errNotIPv4 = errors.New("not an IPv4 address")

// UDPOptions shape a UDP probe. The zero UDPOptions sends 32 bytes of
// payload with the kernel's default TTL and Don't Fragment behaviour (for
// Linux, ip_no_pmtu_disc 0: DF set, and datagrams larger than a cached path
// MTU fragmented locally).
type UDPOptions struct {
	// TTL is the IP Time to Live, 1 to 255; 0 means the kernel default
	// (net.ipv4.ip_default_ttl).
	TTL int
	// Size is the UDP payload length in bytes, 0 to 65507; 0 means 32.
	Size int
	// DontFragment sets IP_MTU_DISCOVER to IP_PMTUDISC_DO: DF is always
	// set and the kernel never fragments, so a router on a smaller-MTU
	// path answers Fragmentation Needed, and once that path MTU is
	// cached the kernel refuses larger datagrams itself (a local EMSGSIZE
	// Result with Info set to the path MTU).
	DontFragment bool
}

// Echo sends one ICMP Echo Request to dst from a raw socket in the
// namespace named ns and reports the Echo Reply, the ICMP error quoting
// the request, or a timeout. ttl sets the request's TTL (1 to 255; 0 means
// the kernel default), so ttl 1 draws Time Exceeded from the first router.
// The identifier and sequence number are random per probe, and only
// replies and errors carrying both count. Echo needs CAP_NET_RAW in ns.
//
// Linux reports Time Exceeded on raw sockets with errno EHOSTUNREACH.
func Echo(ns string, dst netip.Addr, ttl int, timeout time.Duration) (Result, error) {
	o := op{kind: "echo", target: dst.String(), ns: ns}
	dst, err := o.check(dst, timeout)
	if err != nil {
		return Result{}, err
	}
	if err := checkTTL(ttl); err != nil {
		return Result{}, o.fail("check ttl", err)
	}
	fd, err := o.open(unix.SOCK_RAW, unix.IPPROTO_ICMP)
	if err != nil {
		return Result{}, err
	}
	defer unix.Close(fd)
	if err := o.setTTL(fd, ttl); err != nil {
		return Result{}, err
	}
	// Errors reach the error queue whatever the filter says; the filter
	// only keeps other ICMP traffic out of the receive queue.
	if err := o.icmpFilter(fd, typeEchoReply); err != nil {
		return Result{}, err
	}
	// Connected, the socket only receives datagrams from dst and errors
	// quoting datagrams to dst (raw_v4_match in net/ipv4/raw.c).
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: dst.As4()}); err != nil {
		return o.refused(fd, "connect", err)
	}
	id, seq := uint16(rand.Uint32()), uint16(rand.Uint32())
	if _, err := unix.Write(fd, appendEcho(nil, id, seq)); err != nil {
		return o.refused(fd, "send", err)
	}
	return o.awaitEcho(fd, id, seq, timeout, func(pkt []byte) (Result, bool) {
		from, ok := parseEchoReply(pkt, id, seq)
		return Result{Reply: true, ICMP: true, Type: typeEchoReply, From: from}, ok
	})
}

// UDP sends one UDP datagram to dst from a connected socket in the
// namespace named ns and reports the ICMP error the kernel queued for it,
// a datagram back from dst (Reply), a local refusal, or a timeout. A
// closed port answers Port Unreachable: Errno ECONNREFUSED.
func UDP(ns string, dst netip.AddrPort, opt UDPOptions, timeout time.Duration) (Result, error) {
	o := op{kind: "udp", target: dst.String(), ns: ns}
	addr, err := o.check(dst.Addr(), timeout)
	if err != nil {
		return Result{}, err
	}
	if err := checkTTL(opt.TTL); err != nil {
		return Result{}, o.fail("check ttl", err)
	}
	size := opt.Size
	if size < 0 || size > maxUDPPayload {
		return Result{}, o.fail("check size", fmt.Errorf("got %d, want 0 (meaning %d) to %d", size, defaultUDPSize, maxUDPPayload))
	}
	if size == 0 {
		size = defaultUDPSize
	}
	fd, err := o.open(unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err != nil {
		return Result{}, err
	}
	defer unix.Close(fd)
	if err := o.setTTL(fd, opt.TTL); err != nil {
		return Result{}, err
	}
	if opt.DontFragment {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO); err != nil {
			return Result{}, o.fail("set IP_MTU_DISCOVER", err)
		}
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: int(dst.Port()), Addr: addr.As4()}); err != nil {
		return o.refused(fd, "connect", err)
	}
	if _, err := unix.Write(fd, bytes.Repeat([]byte{'p'}, size)); err != nil {
		return o.refused(fd, "send", err)
	}
	buf := make([]byte, bufSize)
	return o.await(fd, unix.POLLIN, timeout, func(revents int16) (Result, bool, error) {
		if revents&unix.POLLERR != 0 {
			// Connected: every report is about this flow.
			res, done, err := fromErrQueue(fd, buf, nil)
			if done || err != nil {
				return res, done, err
			}
		}
		if revents&unix.POLLIN != 0 {
			if _, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT); err == nil {
				return Result{Reply: true, From: addr}, true, nil
			}
		}
		return Result{}, false, nil
	})
}

// TCP opens a TCP connection to dst from the namespace named ns, without
// blocking, and reports how the attempt ended: connected (Reply), reset
// (Reply with Errno ECONNREFUSED), an ICMP error (Type, Code and From from
// the error queue, Errno from SO_ERROR), a local refusal, or a timeout. A
// connection that completes is closed at once.
//
// Linux aborts a connect in SYN_SENT on any ICMP Destination Unreachable
// or Time Exceeded (tcp_v4_err), soft errors included.
func TCP(ns string, dst netip.AddrPort, timeout time.Duration) (Result, error) {
	o := op{kind: "tcp", target: dst.String(), ns: ns}
	addr, err := o.check(dst.Addr(), timeout)
	if err != nil {
		return Result{}, err
	}
	fd, err := o.open(unix.SOCK_STREAM|unix.SOCK_NONBLOCK, unix.IPPROTO_TCP)
	if err != nil {
		return Result{}, err
	}
	defer unix.Close(fd)
	switch err := unix.Connect(fd, &unix.SockaddrInet4{Port: int(dst.Port()), Addr: addr.As4()}); err {
	case nil:
		return Result{Reply: true, From: addr}, nil
	case unix.EINPROGRESS:
	default:
		return o.refused(fd, "connect", err)
	}
	buf := make([]byte, bufSize)
	return o.await(fd, unix.POLLOUT, timeout, func(int16) (Result, bool, error) {
		rep, queued, err := readErrQueue(fd, buf)
		if err != nil {
			return Result{}, false, err
		}
		soErr, err := pendingError(fd)
		if err != nil {
			return Result{}, false, err
		}
		if queued {
			if res, ok := rep.result(); ok {
				if soErr != 0 {
					res.Errno = soErr
				}
				return res, true, nil
			}
		}
		switch soErr {
		case 0:
		case unix.ECONNREFUSED:
			return Result{Reply: true, From: addr, Errno: soErr}, true, nil
		default:
			return Result{Errno: soErr}, true, nil
		}
		if _, err := unix.Getpeername(fd); err == nil {
			return Result{Reply: true, From: addr}, true, nil
		}
		return Result{}, false, nil
	})
}

// Proto sends one IPv4 datagram of protocol proto (1 to 254, e.g. 253,
// reserved for experiments by RFC 3692) with a small random payload to dst
// from a raw socket in the namespace named ns. A host that does not speak
// proto answers Protocol Unreachable: Errno ENOPROTOOPT. A datagram of
// proto back from dst is a Reply. Proto needs CAP_NET_RAW in ns.
func Proto(ns string, dst netip.Addr, proto int, timeout time.Duration) (Result, error) {
	o := op{kind: fmt.Sprintf("protocol %d", proto), target: dst.String(), ns: ns}
	dst, err := o.check(dst, timeout)
	if err != nil {
		return Result{}, err
	}
	// 0 is not a raw protocol, and 255 (IPPROTO_RAW) would make the
	// kernel expect us to write the IP header.
	if proto < 1 || proto > 254 {
		return Result{}, o.fail("check protocol", fmt.Errorf("got %d, want 1 to 254", proto))
	}
	fd, err := o.open(unix.SOCK_RAW, proto)
	if err != nil {
		return Result{}, err
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: dst.As4()}); err != nil {
		return o.refused(fd, "connect", err)
	}
	// Routers quote at least 8 bytes of payload (RFC 792): all of token.
	token := binary.BigEndian.AppendUint64(nil, rand.Uint64())
	if _, err := unix.Write(fd, token); err != nil {
		return o.refused(fd, "send", err)
	}
	buf := make([]byte, bufSize)
	return o.await(fd, unix.POLLIN, timeout, func(revents int16) (Result, bool, error) {
		if revents&unix.POLLERR != 0 {
			res, done, err := fromErrQueue(fd, buf, func(r report) bool {
				return bytes.HasPrefix(r.data, token)
			})
			if done || err != nil {
				return res, done, err
			}
		}
		if revents&unix.POLLIN != 0 {
			n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
			if err != nil {
				return Result{}, false, nil
			}
			if src, _, _, ok := ipPayload(buf[:n]); ok && src == dst {
				return Result{Reply: true, From: src}, true, nil
			}
		}
		return Result{}, false, nil
	})
}

// Redirect sends one Echo Request to dst from a raw socket in the
// namespace named ns and waits for an ICMP Redirect quoting it; Gateway
// is the new next hop the Redirect names. Redirects never reach a
// socket's error queue (raw_err and icmp_err hand them to the routing
// code only), so Redirect reads them as raw ICMP. An ICMP error quoting
// the request ends the probe too and is reported as it came. Whether the
// client's kernel accepted the Redirect is a separate question: ask
// RouteGet. Redirect needs CAP_NET_RAW in ns.
func Redirect(ns string, dst netip.Addr, timeout time.Duration) (Result, error) {
	o := op{kind: "redirect probe", target: dst.String(), ns: ns}
	dst, err := o.check(dst, timeout)
	if err != nil {
		return Result{}, err
	}
	fd, err := o.open(unix.SOCK_RAW, unix.IPPROTO_ICMP)
	if err != nil {
		return Result{}, err
	}
	defer unix.Close(fd)
	if err := o.icmpFilter(fd, typeRedirect); err != nil {
		return Result{}, err
	}
	// Not connected: a Redirect comes from a router, not from dst.
	id, seq := uint16(rand.Uint32()), uint16(rand.Uint32())
	if err := unix.Sendto(fd, appendEcho(nil, id, seq), 0, &unix.SockaddrInet4{Addr: dst.As4()}); err != nil {
		return o.refused(fd, "send", err)
	}
	return o.awaitEcho(fd, id, seq, timeout, func(pkt []byte) (Result, bool) {
		return parseRedirect(pkt, dst, id, seq)
	})
}

// awaitEcho waits on fd, a raw ICMP socket that sent an Echo Request with
// identifier id and sequence seq, for an ICMP error quoting the request
// (from the error queue; a raw socket's report carries the quoted ICMP
// header) or for a datagram that parse accepts.
func (o op) awaitEcho(fd int, id, seq uint16, timeout time.Duration, parse func(pkt []byte) (Result, bool)) (Result, error) {
	buf := make([]byte, bufSize)
	return o.await(fd, unix.POLLIN, timeout, func(revents int16) (Result, bool, error) {
		if revents&unix.POLLERR != 0 {
			res, done, err := fromErrQueue(fd, buf, func(r report) bool {
				return isEcho(r.data, typeEchoRequest, id, seq)
			})
			if done || err != nil {
				return res, done, err
			}
		}
		if revents&unix.POLLIN != 0 {
			n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
			if err != nil {
				// EAGAIN, or a pending socket error that the error
				// queue reports: look again.
				return Result{}, false, nil
			}
			if res, ok := parse(buf[:n]); ok {
				return res, true, nil
			}
		}
		return Result{}, false, nil
	})
}

// fromErrQueue reads one report from fd's error queue. An ICMP report
// ends the probe if match accepts it (nil match accepts all); a local
// report always does. With an empty queue it reads and clears SO_ERROR, and
// a pending error there ends the probe as a local one.
func fromErrQueue(fd int, buf []byte, match func(report) bool) (Result, bool, error) {
	rep, queued, err := readErrQueue(fd, buf)
	if err != nil {
		return Result{}, false, err
	}
	if !queued {
		soErr, err := pendingError(fd)
		if err != nil || soErr == 0 {
			return Result{}, false, err
		}
		return Result{Errno: soErr}, true, nil
	}
	res, ok := rep.result()
	if !ok || (res.ICMP && match != nil && !match(rep)) {
		return Result{}, false, nil
	}
	return res, true, nil
}

// op names one probe for its error messages.
type op struct {
	kind   string // "udp"
	target string // "203.0.113.2:33434"
	ns     string
}

// fail wraps err with the probe and the step that failed:
// "probe: udp to 203.0.113.2:33434 in netns cli: set IP_TTL: invalid argument".
func (o op) fail(step string, err error) error {
	return fmt.Errorf("probe: %s to %s in netns %s: %s: %w", o.kind, o.target, o.ns, step, err)
}

// check validates the arguments every probe shares and returns dst
// unmapped.
func (o op) check(dst netip.Addr, timeout time.Duration) (netip.Addr, error) {
	dst = dst.Unmap()
	if !dst.Is4() {
		return netip.Addr{}, o.fail("check destination", errNotIPv4)
	}
	if o.ns == "" {
		return netip.Addr{}, o.fail("check netns", errNoNetns)
	}
	if timeout <= 0 {
		return netip.Addr{}, o.fail("check timeout", fmt.Errorf("got %v, want a positive duration", timeout))
	}
	return dst, nil
}

// checkTTL accepts 0 (kernel default) and 1 to 255.
func checkTTL(ttl int) error {
	if ttl < 0 || ttl > 255 {
		return fmt.Errorf("got %d, want 0 (kernel default) or 1 to 255", ttl)
	}
	return nil
}

// open creates an AF_INET socket in o.ns with IP_RECVERR set.
func (o op) open(typ, proto int) (int, error) {
	fd, err := socketIn(o.ns, unix.AF_INET, typ, proto)
	if err != nil {
		return -1, o.fail("create socket", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1); err != nil {
		unix.Close(fd)
		return -1, o.fail("set IP_RECVERR", err)
	}
	return fd, nil
}

// setTTL sets IP_TTL unless ttl is 0.
func (o op) setTTL(fd, ttl int) error {
	if ttl == 0 {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, ttl); err != nil {
		return o.fail("set IP_TTL", err)
	}
	return nil
}

// icmpFilter lets only ICMP type typ into a raw ICMP socket's receive
// queue (ICMP_FILTER: a set bit drops that type).
func (o op) icmpFilter(fd int, typ uint8) error {
	mask := ^uint32(1 << typ)
	if err := unix.SetsockoptInt(fd, unix.SOL_RAW, unix.ICMP_FILTER, int(int32(mask))); err != nil {
		return o.fail("set ICMP_FILTER", err)
	}
	return nil
}

// refused handles a failed connect or send. An errno is the kernel's
// answer to the probe (ENETUNREACH without a route, EMSGSIZE against a
// cached path MTU) and becomes a local Result, with Info from a queued
// local report when there is one; anything else is an error.
func (o op) refused(fd int, step string, err error) (Result, error) {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return Result{}, o.fail(step, err)
	}
	res := Result{Errno: errno}
	var buf [bufSize]byte
	if rep, ok, _ := readErrQueue(fd, buf[:]); ok && rep.ee.Origin == unix.SO_EE_ORIGIN_LOCAL {
		res.Info = rep.ee.Info
	}
	return res, nil
}

// await runs the poll loop and wraps its errors.
func (o op) await(fd int, events int16, timeout time.Duration, handle func(revents int16) (Result, bool, error)) (Result, error) {
	res, err := await(fd, events, timeout, handle)
	if err != nil {
		return Result{}, o.fail("wait", err)
	}
	return res, nil
}
