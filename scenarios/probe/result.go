package probe

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Result is what the client's kernel reported for one probe.
//
// Exactly one of these holds for a Result a probe returns: Reply (an
// answer came back), ICMP without Reply (an ICMP error or Redirect was
// reported), Timeout (nothing came back in time), or only Errno set (the
// kernel refused the probe locally, e.g. EMSGSIZE against a cached path
// MTU; Info then holds that MTU). An Echo Reply sets both Reply and ICMP,
// with Type 0. The zero Result reports nothing.
//
// Result is comparable, so tests can check a whole Result with ==.
type Result struct {
	// Reply is set for an answer: an Echo Reply, a TCP connection that
	// completed, a TCP reset (Errno ECONNREFUSED, no ICMP), or a datagram
	// back from the destination.
	Reply bool
	// ICMP is set when an ICMP message was reported for the probe: an
	// error from the socket error queue (ee_origin SO_EE_ORIGIN_ICMP), an
	// Echo Reply, or a Redirect quoting the probe.
	ICMP bool
	// Type is the ICMP type: ee_type from sock_extended_err, or the raw
	// ICMP header's for Echo Replies and Redirects.
	Type uint8
	// Code is the ICMP code, from the same place as Type.
	Code uint8
	// From is who answered: the ICMP sender (SO_EE_OFFENDER, or the
	// source of a raw Echo Reply or Redirect), or the destination for TCP
	// and other answers. The zero Addr for local errors and timeouts.
	From netip.Addr
	// Errno is the errno the kernel chose: ee_errno from the error queue,
	// or the connect errno (SO_ERROR) for TCP. 0 when none. Linux maps
	// ICMP errors to errno in icmp_err_convert (net/ipv4/icmp.c).
	Errno syscall.Errno
	// Info is ee_info: the next-hop MTU for Fragmentation Needed (and for
	// a local EMSGSIZE, the cached path MTU); the pointer for Parameter
	// Problem; 0 otherwise.
	Info uint32
	// Gateway is the new next hop a Redirect names; the zero Addr for
	// anything else.
	Gateway netip.Addr
	// Timeout is set when nothing came back within the probe's timeout.
	Timeout bool
}

// String describes r in a few words, for a table: "echo reply from
// 203.0.113.2", "dest-unreach/net from 198.51.100.1 (ENETUNREACH)",
// "frag-needed mtu 1400 from 198.51.100.1 (EMSGSIZE)", "redirect host ->
// 198.51.100.254 from 198.51.100.1", "no answer". An errno the kernel
// reported is named in parentheses at the end.
func (r Result) String() string {
	var b strings.Builder
	switch {
	case r.Timeout:
		return "no answer"
	case r.Reply && r.ICMP && r.Type == 0:
		b.WriteString("echo reply")
	case r.Reply && r.Errno == unix.ECONNREFUSED:
		b.WriteString("reset")
	case r.Reply:
		b.WriteString("answer")
	case r.ICMP:
		b.WriteString(icmpName(r))
	case r.Errno != 0:
		b.WriteString("local error")
		if r.Errno == unix.EMSGSIZE && r.Info != 0 {
			fmt.Fprintf(&b, " mtu %d", r.Info)
		}
	default:
		return "no report"
	}
	if r.From.IsValid() {
		b.WriteString(" from ")
		b.WriteString(r.From.String())
	}
	if r.Errno != 0 {
		b.WriteString(" (")
		b.WriteString(errnoName(r.Errno))
		b.WriteString(")")
	}
	return b.String()
}

// unreachCodes names the Destination Unreachable codes: RFC 792 (0-5),
// RFC 1122 §3.2.2.1 (6-12), RFC 1812 §5.2.7.1 (13-15).
var unreachCodes = [...]string{
	0:  "net",
	1:  "host",
	2:  "protocol",
	3:  "port",
	4:  "frag-needed",
	5:  "source-route-failed",
	6:  "net-unknown",
	7:  "host-unknown",
	8:  "host-isolated",
	9:  "net-prohibited",
	10: "host-prohibited",
	11: "net-tos",
	12: "host-tos",
	13: "admin-prohibited",
	14: "host-precedence",
	15: "precedence-cutoff",
}

// redirectCodes names the Redirect codes of RFC 792.
var redirectCodes = [...]string{0: "net", 1: "host", 2: "tos-net", 3: "tos-host"}

// icmpName names r's ICMP type and code, without the sender.
func icmpName(r Result) string {
	switch r.Type {
	case 3: // Destination Unreachable, RFC 792
		if r.Code == 4 {
			return fmt.Sprintf("frag-needed mtu %d", r.Info)
		}
		if int(r.Code) < len(unreachCodes) {
			return "dest-unreach/" + unreachCodes[r.Code]
		}
		return fmt.Sprintf("dest-unreach/code %d", r.Code)
	case 4: // Source Quench, RFC 792 (deprecated by RFC 6633)
		return "source-quench"
	case 5: // Redirect, RFC 792
		name := fmt.Sprintf("code %d", r.Code)
		if int(r.Code) < len(redirectCodes) {
			name = redirectCodes[r.Code]
		}
		return fmt.Sprintf("redirect %s -> %s", name, r.Gateway)
	case 11: // Time Exceeded, RFC 792
		switch r.Code {
		case 0:
			return "time-exceeded"
		case 1:
			return "time-exceeded/reassembly"
		}
		return fmt.Sprintf("time-exceeded/code %d", r.Code)
	case 12: // Parameter Problem, RFC 792
		return fmt.Sprintf("param-problem pointer %d", r.Info)
	}
	return fmt.Sprintf("icmp type %d code %d", r.Type, r.Code)
}

// errnoName is the C name of e ("ENETUNREACH"), or "errno N".
func errnoName(e syscall.Errno) string {
	if name := unix.ErrnoName(e); name != "" {
		return name
	}
	return fmt.Sprintf("errno %d", int(e))
}
