package packet

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// The IPv4 header, RFC 791 §3.1:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	offVersionIHL = 0
	offTOS        = 1
	offTotalLen   = 2
	offID         = 4
	offFragment   = 6
	offTTL        = 8
	offProtocol   = 9
	offChecksum   = 10
	offSrc        = 12
	offDst        = 16

	// IPv4MinHeaderLen is the length of a header without options.
	IPv4MinHeaderLen = 20
	// IPv4MaxHeaderLen is the longest header IHL can express.
	IPv4MaxHeaderLen = 60

	flagDF         = 0x4000
	flagMF         = 0x2000
	fragOffsetMask = 0x1fff
)

// Protocol numbers from the IANA registry.
const (
	ProtocolICMP = 1
	ProtocolTCP  = 6
	ProtocolUDP  = 17
)

// IP option types (RFC 791 §3.1); the top bit is the copy flag.
const (
	optEOL  = 0
	optNOP  = 1
	optLSRR = 131 // loose source and record route
	optSSRR = 137 // strict source and record route
	optCopy = 0x80
)

// Problem says why a datagram failed validation. The zero value, Valid,
// means it passed.
type Problem uint8

// Validation problems, in the order Validate checks them.
const (
	Valid        Problem = iota
	TooShort             // fewer bytes than a minimal header
	BadVersion           // version is not 4
	BadHeaderLen         // IHL < 5, or the header is longer than the bytes read
	BadTotalLen          // total length below the header length or above the bytes read
	BadChecksum          // header checksum does not verify
	BadOptions           // an option is malformed: its length, or a record route or timestamp pointer (see optionFault)
	NumProblems          // number of problems, for counter arrays
)

var problemNames = [NumProblems]string{"valid", "too-short", "bad-version", "bad-header-length", "bad-total-length", "bad-checksum", "bad-options"}

func (p Problem) String() string {
	if p < NumProblems {
		return problemNames[p]
	}
	return "unknown-problem"
}

// IPv4 is a view of an IPv4 datagram. Call Validate before any other
// method; the accessors do not check bounds. Methods neither copy nor
// allocate; the caller keeps the buffer.
type IPv4 []byte

// Validate checks what RFC 1812 §5.2.2 asks of a router before it looks
// any further: version 4, IHL at least 5, a total length at least the
// header length and at most the bytes read, and a correct header checksum.
// It also walks the options, so later option scans need no bounds checks.
func (b IPv4) Validate() Problem {
	if len(b) < IPv4MinHeaderLen {
		return TooShort
	}
	if b[offVersionIHL]>>4 != 4 {
		return BadVersion
	}
	hl := b.HeaderLen()
	if hl < IPv4MinHeaderLen || hl > len(b) {
		return BadHeaderLen
	}
	if tl := b.TotalLen(); tl < hl || tl > len(b) {
		return BadTotalLen
	}
	if Checksum(b[:hl], 0) != 0 {
		return BadChecksum
	}
	if optionFault(b[IPv4MinHeaderLen:hl]) >= 0 {
		return BadOptions
	}
	return Valid
}

// BadOptionPointer is, for a datagram that failed Validate with
// BadOptions, the offset in the header of the byte at fault (see
// optionFault): the Parameter Problem pointer (RFC 792), as Linux reports
// it.
func (b IPv4) BadOptionPointer() int {
	return IPv4MinHeaderLen + optionFault(b[IPv4MinHeaderLen:b.HeaderLen()])
}

// HeaderLen is IHL in bytes.
func (b IPv4) HeaderLen() int { return int(b[offVersionIHL]&0x0f) * 4 }

// TOS is the type-of-service byte.
func (b IPv4) TOS() uint8 { return b[offTOS] }

// TotalLen is the total length field.
func (b IPv4) TotalLen() int { return int(binary.BigEndian.Uint16(b[offTotalLen:])) }

// ID is the identification field.
func (b IPv4) ID() uint16 { return binary.BigEndian.Uint16(b[offID:]) }

// DF reports whether Don't Fragment is set.
func (b IPv4) DF() bool { return binary.BigEndian.Uint16(b[offFragment:])&flagDF != 0 }

// MF reports whether More Fragments is set.
func (b IPv4) MF() bool { return binary.BigEndian.Uint16(b[offFragment:])&flagMF != 0 }

// FragmentOffset is the fragment offset in bytes.
func (b IPv4) FragmentOffset() int {
	return int(binary.BigEndian.Uint16(b[offFragment:])&fragOffsetMask) * 8
}

// IsFragment reports whether the datagram is a fragment of a larger one.
func (b IPv4) IsFragment() bool {
	return binary.BigEndian.Uint16(b[offFragment:])&(flagMF|fragOffsetMask) != 0
}

// TTL is the time-to-live field.
func (b IPv4) TTL() uint8 { return b[offTTL] }

// Protocol is the payload's protocol number.
func (b IPv4) Protocol() uint8 { return b[offProtocol] }

// HeaderChecksum is the header checksum field.
func (b IPv4) HeaderChecksum() uint16 { return binary.BigEndian.Uint16(b[offChecksum:]) }

// Src is the source address.
func (b IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(b[offSrc : offSrc+4])) }

// Dst is the destination address.
func (b IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(b[offDst : offDst+4])) }

// Options returns the options and padding; it aliases b.
func (b IPv4) Options() []byte { return b[IPv4MinHeaderLen:b.HeaderLen()] }

// Payload returns the bytes after the header up to the total length; it
// aliases b.
func (b IPv4) Payload() []byte { return b[b.HeaderLen():b.TotalLen()] }

// HasSourceRoute reports whether a loose or strict source route option is
// present (RFC 791 §3.1).
func (b IPv4) HasSourceRoute() bool {
	opts := b.Options()
	for i := 0; i < len(opts); {
		switch t := opts[i]; t {
		case optEOL:
			return false
		case optNOP:
			i++
		case optLSRR, optSSRR:
			return true
		default:
			i += int(opts[i+1])
		}
	}
	return false
}

// DecTTL decrements TTL by one and updates the header checksum
// incrementally (RFC 1624); TTL and protocol share one 16-bit word. The
// caller has made sure TTL > 1.
func (b IPv4) DecTTL() {
	old := binary.BigEndian.Uint16(b[offTTL:])
	b[offTTL]--
	sum := UpdateChecksum(b.HeaderChecksum(), old, binary.BigEndian.Uint16(b[offTTL:]))
	binary.BigEndian.PutUint16(b[offChecksum:], sum)
}

// Header holds the fields of an option-less header that icmpgw originates.
type Header struct {
	TOS      uint8
	TotalLen int
	ID       uint16
	DF       bool
	TTL      uint8
	Protocol uint8
	Src, Dst netip.Addr
}

// PutHeader writes h as a 20-byte header into b[:20], checksum included.
func PutHeader(b []byte, h Header) {
	_ = b[IPv4MinHeaderLen-1]
	b[offVersionIHL] = 4<<4 | 5
	b[offTOS] = h.TOS
	binary.BigEndian.PutUint16(b[offTotalLen:], uint16(h.TotalLen))
	binary.BigEndian.PutUint16(b[offID:], h.ID)
	var frag uint16
	if h.DF {
		frag = flagDF
	}
	binary.BigEndian.PutUint16(b[offFragment:], frag)
	b[offTTL] = h.TTL
	b[offProtocol] = h.Protocol
	b[offChecksum], b[offChecksum+1] = 0, 0
	src, dst := h.Src.As4(), h.Dst.As4()
	copy(b[offSrc:], src[:])
	copy(b[offDst:], dst[:])
	binary.BigEndian.PutUint16(b[offChecksum:], Checksum(b[:IPv4MinHeaderLen], 0))
}

// SetSrc, SetTotalLen, SetFragment and SetChecksum edit a header in place;
// callers that change several fields recompute the checksum once with
// SetChecksum.

// SetSrc sets the source address.
func (b IPv4) SetSrc(a netip.Addr) { s := a.As4(); copy(b[offSrc:], s[:]) }

// SetDst sets the destination address.
func (b IPv4) SetDst(a netip.Addr) { d := a.As4(); copy(b[offDst:], d[:]) }

// SetTotalLen sets the total length field.
func (b IPv4) SetTotalLen(n int) { binary.BigEndian.PutUint16(b[offTotalLen:], uint16(n)) }

// SetTTL sets the TTL field.
func (b IPv4) SetTTL(ttl uint8) { b[offTTL] = ttl }

// SetFragment sets the MF flag and fragment offset (in bytes, a multiple
// of 8), keeping DF.
func (b IPv4) SetFragment(mf bool, offset int) {
	v := binary.BigEndian.Uint16(b[offFragment:])&flagDF | uint16(offset/8)
	if mf {
		v |= flagMF
	}
	binary.BigEndian.PutUint16(b[offFragment:], v)
}

// SetChecksum recomputes the header checksum.
func (b IPv4) SetChecksum() {
	b[offChecksum], b[offChecksum+1] = 0, 0
	binary.BigEndian.PutUint16(b[offChecksum:], Checksum(b[:b.HeaderLen()], 0))
}

// AppendCopiedOptions appends to dst the options of b whose copy flag is
// set, the ones every fragment after the first carries (RFC 791 §3.2),
// padded with End of Option List to a multiple of 4 bytes.
func (b IPv4) AppendCopiedOptions(dst []byte) []byte {
	opts := b.Options()
	start := len(dst)
	for i := 0; i < len(opts); {
		t := opts[i]
		if t == optEOL {
			break
		}
		if t == optNOP {
			i++
			continue
		}
		n := int(opts[i+1])
		if t&optCopy != 0 {
			dst = append(dst, opts[i:i+n]...)
		}
		i += n
	}
	for (len(dst)-start)%4 != 0 {
		dst = append(dst, optEOL)
	}
	return dst
}

// SetHeaderLen sets IHL from a length in bytes, a multiple of 4 from 20 to
// 60.
func (b IPv4) SetHeaderLen(n int) {
	if n%4 != 0 || n < IPv4MinHeaderLen || n > IPv4MaxHeaderLen {
		panic("packet: SetHeaderLen: got " + strconv.Itoa(n) + ", want a multiple of 4 from 20 to 60")
	}
	b[offVersionIHL] = 4<<4 | byte(n/4)
}
