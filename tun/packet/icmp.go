package packet

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/net/ipv4"
)

// The ICMP header, RFC 792:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Identifier / Gateway / Pointer / unused  | Next-Hop MTU      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Internet Header + leading octets of the original datagram |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	offICMPType     = 0
	offICMPCode     = 1
	offICMPChecksum = 2
	offICMPID       = 4
	offICMPSeq      = 6
	offICMPMTU      = 6

	// ICMPHeaderLen is the fixed part of every ICMP message.
	ICMPHeaderLen = 8
)

// Code is an ICMP code; values are decimal, from the IANA registry.
type Code uint8

// Destination Unreachable codes (type 3).
const (
	CodeNetUnreachable      Code = 0  // RFC 792
	CodeHostUnreachable     Code = 1  // RFC 792
	CodeProtocolUnreachable Code = 2  // RFC 792
	CodePortUnreachable     Code = 3  // RFC 792
	CodeFragNeeded          Code = 4  // RFC 792; next-hop MTU per RFC 1191 §4
	CodeAdminProhibited     Code = 13 // communication administratively prohibited, RFC 1812 §5.2.7.1
)

// Time Exceeded codes (type 11).
const (
	CodeTTLExceeded        Code = 0 // RFC 792
	CodeReassemblyExceeded Code = 1 // RFC 792
)

// Redirect codes (type 5). A router sends only Host redirects: RFC 1812
// §5.2.7.2 says it MUST NOT send Network redirects.
const (
	CodeRedirectHost Code = 1 // RFC 792
)

// ICMPv4 is a view of an ICMP message. Check len(b) >= ICMPHeaderLen
// before calling its methods; they do not check bounds or allocate.
type ICMPv4 []byte

// Type is the message type.
func (b ICMPv4) Type() ipv4.ICMPType { return ipv4.ICMPType(b[offICMPType]) }

// Code is the message code.
func (b ICMPv4) Code() Code { return Code(b[offICMPCode]) }

// Checksum is the checksum field.
func (b ICMPv4) Checksum() uint16 { return binary.BigEndian.Uint16(b[offICMPChecksum:]) }

// ID is the Echo identifier.
func (b ICMPv4) ID() uint16 { return binary.BigEndian.Uint16(b[offICMPID:]) }

// Seq is the Echo sequence number.
func (b ICMPv4) Seq() uint16 { return binary.BigEndian.Uint16(b[offICMPSeq:]) }

// MTU is the next-hop MTU of a Fragmentation Needed message (RFC 1191 §4).
func (b ICMPv4) MTU() uint16 { return binary.BigEndian.Uint16(b[offICMPMTU:]) }

// Gateway is the gateway address of a Redirect.
func (b ICMPv4) Gateway() netip.Addr { return netip.AddrFrom4([4]byte(b[4:8])) }

// Body is what follows the 8-byte header: an error's quote or Echo data.
func (b ICMPv4) Body() []byte { return b[ICMPHeaderLen:] }

// SetType sets the type, leaving the checksum stale.
func (b ICMPv4) SetType(t ipv4.ICMPType) { b[offICMPType] = byte(t) }

// SetChecksum recomputes the checksum over the whole message.
func (b ICMPv4) SetChecksum() {
	b[offICMPChecksum], b[offICMPChecksum+1] = 0, 0
	binary.BigEndian.PutUint16(b[offICMPChecksum:], Checksum(b, 0))
}

// IsQuery reports whether t is a known informational (query) type. ICMP
// types not known to be queries are treated as errors, so that icmpgw
// never answers an error it does not recognise (RFC 1122 §3.2.2).
func IsQuery(t ipv4.ICMPType) bool {
	switch t {
	case ipv4.ICMPTypeEchoReply, ipv4.ICMPTypeEcho,
		ipv4.ICMPTypeRouterAdvertisement, ipv4.ICMPTypeRouterSolicitation,
		ipv4.ICMPTypeTimestamp, ipv4.ICMPTypeTimestampReply,
		15, 16, 17, 18, // information request/reply, address mask request/reply (RFC 950)
		ipv4.ICMPTypeExtendedEchoRequest, ipv4.ICMPTypeExtendedEchoReply:
		return true
	}
	return false
}
