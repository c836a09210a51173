package probe

import (
	"encoding/binary"
	"net/netip"

	"github.com/icmpgw/icmpgw/tun/packet"
)

// ICMP types this package sends or matches (RFC 792).
const (
	typeEchoReply   = 0
	typeRedirect    = 5
	typeEchoRequest = 8
)

// echoPayload follows the Echo Request header; Echo Replies carry it back.
var echoPayload = []byte("icmpgw probe....")

// appendEcho appends an Echo Request with identifier id and sequence seq
// to dst (RFC 792):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Identifier          |        Sequence Number        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Data ...
//
// The kernel does not fill in ICMP checksums on raw IPv4 sockets, so this
// does.
func appendEcho(dst []byte, id, seq uint16) []byte {
	start := len(dst)
	dst = append(dst, typeEchoRequest, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, id)
	dst = binary.BigEndian.AppendUint16(dst, seq)
	dst = append(dst, echoPayload...)
	binary.BigEndian.PutUint16(dst[start+2:], packet.Checksum(dst[start:], 0))
	return dst
}

// ipPayload splits a received IPv4 datagram into its source address,
// protocol and payload. ok is false for anything too short or not IPv4.
func ipPayload(pkt []byte) (src netip.Addr, proto uint8, payload []byte, ok bool) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return netip.Addr{}, 0, nil, false
	}
	ihl := int(pkt[0]&0x0f) * 4
	if ihl < 20 || len(pkt) < ihl {
		return netip.Addr{}, 0, nil, false
	}
	return netip.AddrFrom4([4]byte(pkt[12:16])), pkt[9], pkt[ihl:], true
}

// isEcho reports whether icmp begins with an ICMP header of type typ
// carrying identifier id and sequence seq. Routers quote at least these 8
// bytes of the original datagram (RFC 792), so an error quoting an Echo
// Request can always be matched.
func isEcho(icmp []byte, typ uint8, id, seq uint16) bool {
	return len(icmp) >= 8 && icmp[0] == typ &&
		binary.BigEndian.Uint16(icmp[4:6]) == id &&
		binary.BigEndian.Uint16(icmp[6:8]) == seq
}

// parseEchoReply returns the source of pkt, a received IPv4 datagram, if
// it is an Echo Reply to identifier id and sequence seq.
func parseEchoReply(pkt []byte, id, seq uint16) (from netip.Addr, ok bool) {
	src, proto, icmp, ok := ipPayload(pkt)
	if !ok || proto != 1 || !isEcho(icmp, typeEchoReply, id, seq) {
		return netip.Addr{}, false
	}
	return src, true
}

// parseRedirect decodes pkt, a received IPv4 datagram, if it is an ICMP
// Redirect quoting an Echo Request to dst with identifier id and sequence
// seq (RFC 792):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type 5    |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 Gateway Internet Address                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Internet Header + 64 bits of Original Data Datagram      |
func parseRedirect(pkt []byte, dst netip.Addr, id, seq uint16) (r Result, ok bool) {
	from, proto, icmp, ok := ipPayload(pkt)
	if !ok || proto != 1 || len(icmp) < 8 || icmp[0] != typeRedirect {
		return Result{}, false
	}
	inner := icmp[8:]
	if len(inner) < 20 || inner[9] != 1 || netip.AddrFrom4([4]byte(inner[16:20])) != dst {
		return Result{}, false
	}
	if _, _, quoted, ok := ipPayload(inner); !ok || !isEcho(quoted, typeEchoRequest, id, seq) {
		return Result{}, false
	}
	return Result{
		ICMP:    true,
		Type:    typeRedirect,
		Code:    icmp[1],
		From:    from,
		Gateway: netip.AddrFrom4([4]byte(icmp[4:8])),
	}, true
}
