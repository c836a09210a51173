package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxWakeups bounds the poll loop of one probe: each wake-up consumes at
// least one message or report, so a probe ends after this many messages
// even if the namespace is flooded with traffic that is not ours.
const maxWakeups = 256

// sizeofSockExtendedErr is sizeof(struct sock_extended_err).
const sizeofSockExtendedErr = 16

// report is one entry of a socket's error queue (ip_recv_error in
// net/ipv4/ip_sockglue.c).
type report struct {
	ee       unix.SockExtendedErr
	offender netip.Addr // SO_EE_OFFENDER; the zero Addr for local errors
	// data is what the kernel returned with the report: the quoted bytes
	// after the inner IP header for raw sockets (our payload or ICMP
	// header), the UDP payload for UDP, the TCP header for TCP. It aliases
	// the caller's buffer.
	data []byte
}

// result turns r into a Result. Only ee_origin SO_EE_ORIGIN_ICMP is an ICMP
// report; SO_EE_ORIGIN_LOCAL is the kernel refusing to send (a cached path
// MTU, for one). ok is false for other origins (timestamps, zerocopy).
func (r report) result() (res Result, ok bool) {
	switch r.ee.Origin {
	case unix.SO_EE_ORIGIN_ICMP:
		return Result{
			ICMP:  true,
			Type:  r.ee.Type,
			Code:  r.ee.Code,
			From:  r.offender,
			Errno: syscall.Errno(r.ee.Errno),
			Info:  r.ee.Info,
		}, true
	case unix.SO_EE_ORIGIN_LOCAL:
		return Result{Errno: syscall.Errno(r.ee.Errno), Info: r.ee.Info}, true
	}
	return Result{}, false
}

// readErrQueue reads one report from fd's error queue without blocking,
// into buf. ok is false when the queue is empty or the message carried no
// IP_RECVERR control message.
func readErrQueue(fd int, buf []byte) (r report, ok bool, err error) {
	var oob [256]byte
	for range maxWakeups {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return report{}, false, nil
		case err != nil:
			return report{}, false, fmt.Errorf("read error queue: %w", err)
		}
		r, ok := parseRecvErr(oob[:oobn])
		r.data = buf[:n]
		return r, ok, nil
	}
	return report{}, false, nil
}

// parseRecvErr finds the IP_RECVERR control message in oob and decodes
// its struct sock_extended_err and the SO_EE_OFFENDER sockaddr_in after it
// (include/uapi/linux/errqueue.h). It never panics on short input.
func parseRecvErr(oob []byte) (r report, ok bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return report{}, false
	}
	for _, m := range msgs {
		if m.Header.Level != unix.IPPROTO_IP || m.Header.Type != unix.IP_RECVERR {
			continue
		}
		d := m.Data
		if len(d) < sizeofSockExtendedErr {
			continue
		}
		ne := binary.NativeEndian
		r.ee = unix.SockExtendedErr{
			Errno:  ne.Uint32(d[0:4]),
			Origin: d[4],
			Type:   d[5],
			Code:   d[6],
			Pad:    d[7],
			Info:   ne.Uint32(d[8:12]),
			Data:   ne.Uint32(d[12:16]),
		}
		// SO_EE_OFFENDER: a struct sockaddr_in right after the
		// extended error; family AF_UNSPEC when there is none.
		off := d[sizeofSockExtendedErr:]
		if len(off) >= unix.SizeofSockaddrInet4 && ne.Uint16(off[0:2]) == unix.AF_INET {
			r.offender = netip.AddrFrom4([4]byte(off[4:8]))
		}
		return r, true
	}
	return report{}, false
}

// await polls fd for events (POLLERR and POLLHUP are always reported) until
// handle says the probe is done or timeout passes; then it returns a
// Result with Timeout set. handle must consume what woke it, or the loop
// spins to maxWakeups and reports a timeout early.
func await(fd int, events int16, timeout time.Duration, handle func(revents int16) (Result, bool, error)) (Result, error) {
	deadline := time.Now().Add(timeout)
	for range maxWakeups {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		ms := int((left + time.Millisecond - 1) / time.Millisecond)
		fds := []unix.PollFd{{Fd: int32(fd), Events: events}}
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Result{}, fmt.Errorf("poll: %w", err)
		}
		if n == 0 {
			continue
		}
		if fds[0].Revents&unix.POLLNVAL != 0 {
			return Result{}, errors.New("poll: socket not open")
		}
		res, done, err := handle(fds[0].Revents)
		if err != nil || done {
			return res, err
		}
	}
	return Result{Timeout: true}, nil
}

// pendingError reads and clears SO_ERROR, for a socket that reports POLLERR
// with nothing in its error queue.
func pendingError(fd int) (syscall.Errno, error) {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return 0, fmt.Errorf("get SO_ERROR: %w", err)
	}
	return syscall.Errno(v), nil
}
