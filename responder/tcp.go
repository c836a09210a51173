package responder

import (
	"encoding/binary"

	"github.com/icmpgw/icmpgw/tun/packet"
)

// TCP header offsets and flags (RFC 793 §3.1).
const (
	tcpMinHeaderLen = 20
	offTCPSeq       = 4
	offTCPAck       = 8
	offTCPDataOff   = 12
	offTCPFlags     = 13
	offTCPChecksum  = 16
	tcpFIN          = 0x01
	tcpSYN          = 0x02
	tcpRST          = 0x04
	tcpACK          = 0x10
)

// TCPValid reports whether seg, the TCP segment of pkt, has a sound header
// and a correct checksum over the pseudo-header.
func TCPValid(pkt packet.IPv4) bool {
	seg := pkt.Payload()
	if len(seg) < tcpMinHeaderLen {
		return false
	}
	if off := int(seg[offTCPDataOff]>>4) * 4; off < tcpMinHeaderLen || off > len(seg) {
		return false
	}
	return packet.Checksum(seg, packet.PseudoHeaderSum(pkt, len(seg))) == 0
}

// IsTCPReset reports whether the valid segment in pkt carries RST.
func IsTCPReset(pkt packet.IPv4) bool { return pkt.Payload()[offTCPFlags]&tcpRST != 0 }

// AppendTCPReset appends to dst the RST that a closed port sends in answer
// to the valid segment in req (RFC 793 §3.4, "Reset Generation"): if req
// has ACK, the reset takes its sequence number from req's acknowledgment;
// otherwise it has sequence 0 and acknowledges all of req, SYN and FIN
// counting one each. The caller sends no RST in answer to a RST. It does
// not allocate when dst has room.
func AppendTCPReset(dst []byte, o Origin, req packet.IPv4) []byte {
	in := req.Payload()
	start := len(dst)
	dst = append(dst, make([]byte, packet.IPv4MinHeaderLen+tcpMinHeaderLen)...)
	ip := packet.IPv4(dst[start:])
	packet.PutHeader(ip, packet.Header{
		TotalLen: packet.IPv4MinHeaderLen + tcpMinHeaderLen,
		ID:       o.ID, DF: true, TTL: o.TTL, Protocol: packet.ProtocolTCP,
		Src: o.Src, Dst: req.Src(),
	})
	seg := ip[packet.IPv4MinHeaderLen:]
	copy(seg[0:2], in[2:4]) // source port: the port that was asked
	copy(seg[2:4], in[0:2])
	seg[offTCPDataOff] = 5 << 4
	if in[offTCPFlags]&tcpACK != 0 {
		copy(seg[offTCPSeq:offTCPSeq+4], in[offTCPAck:offTCPAck+4])
		seg[offTCPFlags] = tcpRST
	} else {
		segLen := uint32(len(in) - int(in[offTCPDataOff]>>4)*4)
		if in[offTCPFlags]&tcpSYN != 0 {
			segLen++
		}
		if in[offTCPFlags]&tcpFIN != 0 {
			segLen++
		}
		binary.BigEndian.PutUint32(seg[offTCPAck:], binary.BigEndian.Uint32(in[offTCPSeq:])+segLen)
		seg[offTCPFlags] = tcpRST | tcpACK
	}
	sum := packet.Checksum(seg, packet.PseudoHeaderSum(ip, len(seg)))
	binary.BigEndian.PutUint16(seg[offTCPChecksum:], sum)
	return dst
}
