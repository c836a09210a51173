package responder

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/tun/packet"
)

const (
	// MaxErrorLen bounds an ICMP error datagram: RFC 1812 §4.3.2.3 says
	// the quote SHOULD be as much of the original as fits without the
	// error exceeding 576 bytes, which is what Linux sends.
	MaxErrorLen = 576

	// ErrorTOS is the TOS of errors: precedence Internetwork Control
	// (RFC 1812 §4.3.2.5), as Linux sends.
	ErrorTOS = 0xc0

	// TTL is the TTL of datagrams the router originates, Linux's default.
	TTL = 64

	errorHeaderLen = packet.IPv4MinHeaderLen + packet.ICMPHeaderLen
)

// Origin is what the router writes in the IP header of a datagram it
// originates.
type Origin struct {
	Src netip.Addr
	ID  uint16
	TTL uint8
}

// AppendError appends to dst a complete IPv4 datagram carrying the ICMP
// error r about orig, from o.Src to orig's source, and returns the
// extended slice. The error quotes orig as it arrived, header and options
// included, plus as much of its payload as fits in maxLen bytes (the
// router passes MaxErrorLen or the egress MTU, whichever is smaller), but
// never less than the header and 8 bytes of payload (RFC 792); quote, if
// positive, lowers that bound further. It does not allocate when dst has
// room.
func AppendError(dst []byte, o Origin, orig packet.IPv4, r Reason, maxLen, quote int) []byte {
	n := min(orig.TotalLen(), maxLen-errorHeaderLen)
	if quote > 0 {
		n = min(n, quote)
	}
	n = max(n, min(orig.HeaderLen()+8, orig.TotalLen()))

	start := len(dst)
	dst = append(dst, make([]byte, errorHeaderLen)...)
	dst = append(dst, orig[:n]...)
	ip := packet.IPv4(dst[start:])
	packet.PutHeader(ip, packet.Header{
		TOS:      ErrorTOS,
		TotalLen: errorHeaderLen + n,
		ID:       o.ID,
		TTL:      o.TTL,
		Protocol: packet.ProtocolICMP,
		Src:      o.Src,
		Dst:      orig.Src(),
	})
	icmp := packet.ICMPv4(ip[packet.IPv4MinHeaderLen:])
	icmp[0], icmp[1] = byte(r.Type), byte(r.Code)
	switch r.Type {
	case ipv4.ICMPTypeDestinationUnreachable:
		binary.BigEndian.PutUint16(icmp[6:], r.MTU) // zero unless Fragmentation Needed
	case ipv4.ICMPTypeParameterProblem:
		icmp[4] = r.Pointer
	case ipv4.ICMPTypeRedirect:
		if r.Gateway.Is4() {
			gw := r.Gateway.As4()
			copy(icmp[4:8], gw[:])
		}
	}
	icmp.SetChecksum()
	return dst
}

// AppendEchoReply appends to dst the Echo Reply to req, a valid Echo
// Request whose ICMP checksum the caller has verified: from o.Src (the
// address that was asked, RFC 1122 §3.2.2.6) to the asker, with
// identifier, sequence number and data copied (RFC 792), the request's
// TOS, and opts, IP options a multiple of 4 bytes long
// (packet.IPv4.AppendEchoOptions). It does not allocate when dst has room.
func AppendEchoReply(dst []byte, o Origin, req packet.IPv4, opts []byte) []byte {
	dst = appendReplyHeader(dst, o, req, opts, len(req.Payload()))
	dst = append(dst, req.Payload()...)
	icmp := packet.ICMPv4(dst[len(dst)-len(req.Payload()):])
	old := binary.BigEndian.Uint16(icmp)
	icmp.SetType(ipv4.ICMPTypeEchoReply)
	sum := packet.UpdateChecksum(icmp.Checksum(), old, binary.BigEndian.Uint16(icmp))
	binary.BigEndian.PutUint16(icmp[2:], sum)
	return dst
}

// TimestampLen is the length of a Timestamp or Timestamp Reply message:
// the ICMP header, then the originate, receive and transmit timestamps
// (RFC 792).
const TimestampLen = packet.ICMPHeaderLen + 12

// AppendTimestampReply appends to dst the Timestamp Reply to req, a
// Timestamp request of at least packet.ICMPHeaderLen+4 bytes whose
// checksum the caller has verified (RFC 792; RFC 1812 §4.3.3.8), built as
// Linux's icmp_timestamp builds it: identifier, sequence number and
// originate timestamp copied, receive and transmit timestamps both now
// (milliseconds since midnight UT, packet.Timestamp), nothing else of the
// request; addressed as AppendEchoReply addresses an Echo Reply.
func AppendTimestampReply(dst []byte, o Origin, req packet.IPv4, opts []byte, now uint32) []byte {
	dst = appendReplyHeader(dst, o, req, opts, TimestampLen)
	in := packet.ICMPv4(req.Payload())
	dst = append(dst, byte(ipv4.ICMPTypeTimestampReply), 0, 0, 0)
	dst = append(dst, in[4:12]...) // identifier, sequence number, originate
	dst = binary.BigEndian.AppendUint32(dst, now)
	dst = binary.BigEndian.AppendUint32(dst, now)
	packet.ICMPv4(dst[len(dst)-TimestampLen:]).SetChecksum()
	return dst
}

// appendReplyHeader appends the IP header, with opts, of a reply to req
// carrying n bytes of ICMP.
func appendReplyHeader(dst []byte, o Origin, req packet.IPv4, opts []byte, n int) []byte {
	start := len(dst)
	hl := packet.IPv4MinHeaderLen + len(opts)
	dst = append(dst, make([]byte, packet.IPv4MinHeaderLen)...)
	dst = append(dst, opts...)
	ip := packet.IPv4(dst[start:])
	packet.PutHeader(ip, packet.Header{
		TOS:      req.TOS(),
		TotalLen: hl + n,
		ID:       o.ID,
		TTL:      o.TTL,
		Protocol: packet.ProtocolICMP,
		Src:      o.Src,
		Dst:      req.Src(),
	})
	if len(opts) > 0 {
		ip.SetHeaderLen(hl)
		ip.SetChecksum()
	}
	return dst
}
