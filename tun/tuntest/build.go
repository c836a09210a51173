package tuntest

import (
	"encoding/binary"
	"net/netip"

	"github.com/icmpgw/icmpgw/tun/packet"
)

// Datagram describes a datagram to build. Zero fields take defaults: TTL
// 64, a fresh ID of 1.
type Datagram struct {
	Src, Dst netip.Addr
	TTL      uint8
	TOS      uint8
	ID       uint16
	DF       bool
	Protocol uint8
	Options  []byte // a multiple of 4 bytes
	Payload  []byte
}

// Build returns the datagram d describes, checksums correct.
func Build(d Datagram) []byte {
	if d.TTL == 0 {
		d.TTL = 64
	}
	if d.ID == 0 {
		d.ID = 1
	}
	hl := packet.IPv4MinHeaderLen + len(d.Options)
	b := make([]byte, hl+len(d.Payload))
	packet.PutHeader(b, packet.Header{
		TOS: d.TOS, TotalLen: len(b), ID: d.ID, DF: d.DF, TTL: d.TTL,
		Protocol: d.Protocol, Src: d.Src, Dst: d.Dst,
	})
	copy(b[packet.IPv4MinHeaderLen:], d.Options)
	copy(b[hl:], d.Payload)
	ip := packet.IPv4(b)
	ip.SetHeaderLen(hl)
	ip.SetChecksum()
	return b
}

// EchoPayload is an ICMP Echo Request with identifier id, sequence seq and
// n bytes of data counting up from 0.
func EchoPayload(id, seq uint16, n int) []byte {
	b := make([]byte, packet.ICMPHeaderLen+n)
	b[0] = 8
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	for i := range n {
		b[8+i] = byte(i)
	}
	packet.ICMPv4(b).SetChecksum()
	return b
}

// Ping is an Echo Request from src to dst with TTL ttl and n data bytes.
func Ping(src, dst netip.Addr, ttl uint8, n int) []byte {
	return Build(Datagram{Src: src, Dst: dst, TTL: ttl, Protocol: packet.ProtocolICMP, Payload: EchoPayload(7, 1, n)})
}

// UDPPayload is a UDP header from sport to dport followed by n zero bytes;
// its checksum is 0 (none), which IPv4 allows.
func UDPPayload(sport, dport uint16, n int) []byte {
	b := make([]byte, 8+n)
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+n))
	return b
}

// UDP is a UDP datagram like traceroute's probe to port 33434.
func UDP(src, dst netip.Addr, ttl uint8, n int) []byte {
	return Build(Datagram{Src: src, Dst: dst, TTL: ttl, Protocol: packet.ProtocolUDP, Payload: UDPPayload(40000, 33434, n)})
}

// TCP is a TCP segment with no options or data, checksum correct.
func TCP(src, dst netip.Addr, sport, dport uint16, seq, ack uint32, flags byte) []byte {
	seg := make([]byte, 20)
	binary.BigEndian.PutUint16(seg, sport)
	binary.BigEndian.PutUint16(seg[2:], dport)
	binary.BigEndian.PutUint32(seg[4:], seq)
	binary.BigEndian.PutUint32(seg[8:], ack)
	seg[12] = 5 << 4
	seg[13] = flags
	binary.BigEndian.PutUint16(seg[14:], 64240)
	b := Build(Datagram{Src: src, Dst: dst, Protocol: packet.ProtocolTCP, Payload: seg})
	ip := packet.IPv4(b)
	binary.BigEndian.PutUint16(b[36:], packet.Checksum(ip.Payload(), packet.PseudoHeaderSum(ip, 20)))
	return b
}
