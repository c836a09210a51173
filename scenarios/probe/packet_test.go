package probe

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/icmpgw/icmpgw/tun/packet"
)

// These tests need no root: they check the bytes the probes write and
// the bytes the kernel hands back.

// Redirect 198.51.100.1 → 198.51.100.2: for 198.18.1.1 use 198.51.100.254,
// quoting Echo Request id 0x1234 seq 1. The parser does not check
// checksums (the kernel has), so they are left 0.
var redirectHost = []byte{
	0x45, 0x00, 0x00, 0x38, // version 4, IHL 5, TOS 0, total length 56
	0x00, 0x00, 0x00, 0x00, // ID 0, no flags, fragment offset 0
	0x40, 0x01, 0x00, 0x00, // TTL 64, protocol 1 (ICMP), header checksum
	0xc6, 0x33, 0x64, 0x01, // source 198.51.100.1
	0xc6, 0x33, 0x64, 0x02, // destination 198.51.100.2
	0x05, 0x01, 0x00, 0x00, // type 5 (Redirect), code 1 (host), checksum
	0xc6, 0x33, 0x64, 0xfe, // gateway 198.51.100.254
	0x45, 0x00, 0x00, 0x24, // quoted: version 4, IHL 5, total length 36
	0x00, 0x07, 0x40, 0x00, // ID 7, DF
	0x3f, 0x01, 0x00, 0x00, // TTL 63, protocol 1 (ICMP), header checksum
	0xc6, 0x33, 0x64, 0x02, // source 198.51.100.2
	0xc6, 0x12, 0x01, 0x01, // destination 198.18.1.1
	0x08, 0x00, 0x00, 0x00, // type 8 (Echo Request), code 0, checksum
	0x12, 0x34, 0x00, 0x01, // identifier 0x1234, sequence 1
}

// Echo Reply 203.0.113.2 → 198.51.100.2, id 0x1234 seq 1.
var echoReply = []byte{
	0x45, 0x00, 0x00, 0x1c, // version 4, IHL 5, TOS 0, total length 28
	0x00, 0x00, 0x00, 0x00, // ID 0, no flags, fragment offset 0
	0x3f, 0x01, 0x00, 0x00, // TTL 63, protocol 1 (ICMP), header checksum
	0xcb, 0x00, 0x71, 0x02, // source 203.0.113.2
	0xc6, 0x33, 0x64, 0x02, // destination 198.51.100.2
	0x00, 0x00, 0x00, 0x00, // type 0 (Echo Reply), code 0, checksum
	0x12, 0x34, 0x00, 0x01, // identifier 0x1234, sequence 1
}

func TestAppendEcho(t *testing.T) {
	b := appendEcho([]byte{0xaa}, 0x1234, 7)
	if b[0] != 0xaa {
		t.Fatalf("appendEcho overwrote dst: %x", b)
	}
	msg := b[1:]
	if got := packet.Checksum(msg, 0); got != 0 {
		t.Errorf("checksum over the message with its checksum = %#04x, want 0", got)
	}
	m, err := icmp.ParseMessage(1, msg)
	if err != nil {
		t.Fatal(err)
	}
	echo, ok := m.Body.(*icmp.Echo)
	if m.Type != ipv4.ICMPTypeEcho || m.Code != 0 || !ok {
		t.Fatalf("x/net/icmp decodes %v code %d %T, want Echo Request", m.Type, m.Code, m.Body)
	}
	if echo.ID != 0x1234 || echo.Seq != 7 || !bytes.Equal(echo.Data, echoPayload) {
		t.Errorf("echo = id %#x seq %d data %q, want id 0x1234 seq 7 data %q", echo.ID, echo.Seq, echo.Data, echoPayload)
	}
	if typeEchoRequest != int(ipv4.ICMPTypeEcho) || typeEchoReply != int(ipv4.ICMPTypeEchoReply) ||
		typeRedirect != int(ipv4.ICMPTypeRedirect) {
		t.Error("ICMP type constants disagree with golang.org/x/net/ipv4")
	}
}

func TestParseRedirect(t *testing.T) {
	dst := netip.MustParseAddr("198.18.1.1")
	want := Result{ICMP: true, Type: 5, Code: 1, From: netip.MustParseAddr("198.51.100.1"),
		Gateway: netip.MustParseAddr("198.51.100.254")}
	if got, ok := parseRedirect(redirectHost, dst, 0x1234, 1); !ok || got != want {
		t.Errorf("parseRedirect = %+v, %v; want %+v", got, ok, want)
	}
	for _, tt := range []struct {
		name string
		pkt  []byte
		dst  netip.Addr
		id   uint16
	}{
		{"other destination", redirectHost, netip.MustParseAddr("198.18.1.2"), 0x1234},
		{"other identifier", redirectHost, dst, 0x4321},
		{"quote cut short", redirectHost[:len(redirectHost)-1], dst, 0x1234},
		{"no quote", redirectHost[:28], dst, 0x1234},
		{"IP header only", redirectHost[:20], dst, 0x1234},
		{"empty", nil, dst, 0x1234},
		{"echo reply", echoReply, dst, 0x1234},
	} {
		if got, ok := parseRedirect(tt.pkt, tt.dst, tt.id, 1); ok {
			t.Errorf("%s: parseRedirect = %+v, want no match", tt.name, got)
		}
	}
}

func TestParseEchoReply(t *testing.T) {
	if from, ok := parseEchoReply(echoReply, 0x1234, 1); !ok || from != netip.MustParseAddr("203.0.113.2") {
		t.Errorf("parseEchoReply = %v, %v; want 203.0.113.2", from, ok)
	}
	for _, tt := range []struct {
		name    string
		pkt     []byte
		id, seq uint16
	}{
		{"other identifier", echoReply, 0x1235, 1},
		{"other sequence", echoReply, 0x1234, 2},
		{"truncated", echoReply[:27], 0x1234, 1},
		{"redirect", redirectHost, 0x1234, 1},
		{"IHL below 5", append([]byte{0x44}, echoReply[1:]...), 0x1234, 1},
		{"IPv6", append([]byte{0x60}, echoReply[1:]...), 0x1234, 1},
	} {
		if from, ok := parseEchoReply(tt.pkt, tt.id, tt.seq); ok {
			t.Errorf("%s: parseEchoReply = %v, want no match", tt.name, from)
		}
	}
}

// recvErrCmsg builds the control message ip_recv_error writes: an
// IP_RECVERR cmsg holding data (sock_extended_err, then SO_EE_OFFENDER).
func recvErrCmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

// extErr encodes a sock_extended_err followed by a sockaddr_in offender
// of family fam.
func extErr(errno uint32, origin, typ, code uint8, info uint32, fam uint16, off [4]byte) []byte {
	ne := binary.NativeEndian
	b := ne.AppendUint32(nil, errno)
	b = append(b, origin, typ, code, 0)
	b = ne.AppendUint32(b, info)
	b = ne.AppendUint32(b, 0)            // ee_data
	b = ne.AppendUint16(b, fam)          // sin_family
	b = append(b, 0, 0)                  // sin_port
	b = append(b, off[:]...)             // sin_addr
	return append(b, make([]byte, 8)...) // sin_zero
}

func TestParseRecvErr(t *testing.T) {
	router := [4]byte{198, 51, 100, 1}
	tests := []struct {
		name   string
		oob    []byte
		ok     bool // a report was found
		want   Result
		result bool // the report makes a Result
	}{
		{"frag needed",
			recvErrCmsg(unix.IPPROTO_IP, unix.IP_RECVERR,
				extErr(uint32(unix.EMSGSIZE), unix.SO_EE_ORIGIN_ICMP, 3, 4, 1400, unix.AF_INET, router)),
			true, Result{ICMP: true, Type: 3, Code: 4, From: netip.AddrFrom4(router), Errno: unix.EMSGSIZE, Info: 1400}, true},
		{"local EMSGSIZE has no offender",
			recvErrCmsg(unix.IPPROTO_IP, unix.IP_RECVERR,
				extErr(uint32(unix.EMSGSIZE), unix.SO_EE_ORIGIN_LOCAL, 0, 0, 1400, unix.AF_UNSPEC, [4]byte{})),
			true, Result{Errno: unix.EMSGSIZE, Info: 1400}, true},
		{"timestamping origin is no report",
			recvErrCmsg(unix.IPPROTO_IP, unix.IP_RECVERR,
				extErr(uint32(unix.ENOMSG), unix.SO_EE_ORIGIN_TIMESTAMPING, 0, 0, 0, unix.AF_UNSPEC, [4]byte{})),
			true, Result{}, false},
		{"extended error without offender",
			recvErrCmsg(unix.IPPROTO_IP, unix.IP_RECVERR,
				extErr(uint32(unix.ENETUNREACH), unix.SO_EE_ORIGIN_ICMP, 3, 0, 0, unix.AF_INET, router)[:16]),
			true, Result{ICMP: true, Type: 3, Code: 0, Errno: unix.ENETUNREACH}, true},
		{"short extended error",
			recvErrCmsg(unix.IPPROTO_IP, unix.IP_RECVERR, make([]byte, 15)), false, Result{}, false},
		{"IPv6 cmsg",
			recvErrCmsg(unix.IPPROTO_IPV6, unix.IPV6_RECVERR,
				extErr(uint32(unix.ENETUNREACH), unix.SO_EE_ORIGIN_ICMP6, 1, 0, 0, unix.AF_INET6, router)),
			false, Result{}, false},
		{"truncated control data", []byte{1, 2, 3}, false, Result{}, false},
		{"empty", nil, false, Result{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := parseRecvErr(tt.oob)
			if ok != tt.ok {
				t.Fatalf("parseRecvErr found = %v, want %v", ok, tt.ok)
			}
			res, isResult := r.result()
			if isResult != tt.result || res != tt.want {
				t.Errorf("result = %+v, %v; want %+v, %v", res, isResult, tt.want, tt.result)
			}
		})
	}
}
