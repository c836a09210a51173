package packet

import "encoding/binary"

// Checksum returns the Internet checksum (RFC 1071) of b, folded and
// complemented, starting from the partial sum initial (0 for none). The
// result is ready to store in a header. It does not allocate.
func Checksum(b []byte, initial uint16) uint16 {
	return ^Fold(Sum(b, uint32(initial)))
}

// Sum adds b to the one's-complement running sum acc without folding.
// Use it to checksum a message in pieces; each piece but the last must have
// even length.
func Sum(b []byte, acc uint32) uint32 {
	sum := uint64(acc)
	for len(b) >= 8 {
		sum += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	if len(b) >= 4 {
		sum += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	for sum>>32 != 0 {
		sum = sum&0xffffffff + sum>>32
	}
	return uint32(sum)
}

// Fold folds a running sum to 16 bits, without complementing it.
func Fold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// UpdateChecksum returns the checksum of a header after one of its 16-bit
// words changed from old to new, without reading the header: the
// incremental update HC' = ~(~HC + ~m + m') of RFC 1624 §3, eqn. 3, which
// never yields 0xffff as a result for a non-zero header (RFC 1624 §4).
func UpdateChecksum(sum, old, new uint16) uint16 {
	return ^Fold(uint32(^sum) + uint32(^old) + uint32(new))
}

// PseudoHeaderSum is the folded sum of the IPv4 pseudo-header (RFC 768,
// RFC 793 §3.1) for a transport segment of length n in pkt, ready to pass
// to Checksum as its initial value.
func PseudoHeaderSum(pkt IPv4, n int) uint16 {
	sum := Sum(pkt[offSrc:offDst+4], 0)
	sum += uint32(pkt.Protocol()) + uint32(n)
	return Fold(sum)
}
