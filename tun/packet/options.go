package packet

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// Options a router updates as it forwards (RFC 791 §3.1; RFC 1812
// §5.2.4.2, §5.2.4.3: a router MUST support both in forwarded datagrams).
const (
	optRR = 7  // record route
	optTS = 68 // internet timestamp
)

// Internet timestamp flags, the low nibble of the option's fourth byte
// (RFC 791 §3.1); the high nibble counts the routers that found no room.
const (
	tsOnly    = 0 // timestamps only
	tsAddr    = 1 // each timestamp preceded by the stamping router's address
	tsPrespec = 3 // only the routers whose addresses are listed stamp
)

// optionFault returns the offset in opts of the byte at fault in the
// first malformed option, or -1 if all are sound. It checks what Linux's
// ip_options_compile checks, and reports the byte it reports: an option
// whose length is below 2 or runs past the header (the option's type
// byte); a record route or timestamp option that is too short (its
// length), whose pointer is below the first slot or points at a slot that
// does not fit (its pointer), or that comes twice (its type); a timestamp
// whose overflow counter cannot count another router (its flags byte).
func optionFault(opts []byte) int {
	seenRR, seenTS := false, false
	for i := 0; i < len(opts); {
		switch opts[i] {
		case optEOL:
			return -1
		case optNOP:
			i++
			continue
		}
		if i+1 >= len(opts) {
			return i
		}
		n := int(opts[i+1])
		if n < 2 || i+n > len(opts) {
			return i
		}
		o := opts[i : i+n]
		switch o[0] {
		case optRR:
			if n < 3 {
				return i + 1
			}
			p := int(o[2])
			if p < 4 {
				return i + 2
			}
			if seenRR {
				return i
			}
			if p <= n && p+3 > n {
				return i + 2
			}
			seenRR = true
		case optTS:
			if seenTS {
				return i
			}
			seenTS = true
			if n < 4 {
				return i + 1
			}
			p, flag := int(o[2]), o[3]&0x0f
			switch {
			case p < 5:
				return i + 2
			case p <= n && p+3 > n:
				return i + 2
			case p <= n && (flag == tsAddr || flag == tsPrespec) && p+7 > n:
				return i + 2
			case p > n && flag != tsPrespec && o[3]>>4 == 15:
				return i + 3
			}
		}
		i += n
	}
	return -1
}

// StampOptions updates the record route and timestamp options of a
// datagram the router forwards, as RFC 791 asks and as Linux does
// (ip_options_compile, ip_forward_options): record route gets out, the
// address of the interface the datagram leaves by, if there is room;
// timestamp gets the time, after in, the address of the interface it
// came in by, if the option asks for addresses (Linux records that one
// there), or, prespecified, only in a slot naming an address that ours
// reports as the router's; a timestamp option with no room left counts
// one more router in its overflow counter. It reports whether it changed
// the header: the caller then recomputes the checksum. b must have passed
// Validate.
func (b IPv4) StampOptions(in, out netip.Addr, now time.Time, ours func(netip.Addr) bool) (changed bool) {
	opts := b.Options()
	for i := 0; i < len(opts); {
		switch opts[i] {
		case optEOL:
			return changed
		case optNOP:
			i++
			continue
		}
		o := opts[i : i+int(opts[i+1])]
		switch o[0] {
		case optRR:
			changed = stampRecordRoute(o, out) || changed
		case optTS:
			changed = stampTimestamp(o, in, now, ours) || changed
		}
		i += len(o)
	}
	return changed
}

// stampRecordRoute writes addr in the next free slot of record route
// option o, if there is one; see StampOptions.
func stampRecordRoute(o []byte, addr netip.Addr) bool {
	p := int(o[2])
	if p > len(o) {
		return false
	}
	a := addr.As4()
	copy(o[p-1:], a[:])
	o[2] += 4
	return true
}

// stampTimestamp updates one timestamp option o; see StampOptions.
func stampTimestamp(o []byte, addr netip.Addr, now time.Time, ours func(netip.Addr) bool) bool {
	p, flag := int(o[2]), o[3]&0x0f
	if p > len(o) {
		if flag == tsPrespec {
			return false
		}
		o[3] += 1 << 4 // optionFault refused a full counter
		return true
	}
	a := addr.As4()
	switch flag {
	case tsOnly:
		binary.BigEndian.PutUint32(o[p-1:], Timestamp(now))
		o[2] += 4
	case tsAddr:
		copy(o[p-1:], a[:])
		binary.BigEndian.PutUint32(o[p+3:], Timestamp(now))
		o[2] += 8
	case tsPrespec:
		if !ours(netip.AddrFrom4([4]byte(o[p-1 : p+3]))) {
			return false
		}
		binary.BigEndian.PutUint32(o[p+3:], Timestamp(now))
		o[2] += 8
	default: // an unknown flag: left alone, as Linux leaves it
		return false
	}
	return true
}

// Timestamp is t as RFC 791 and RFC 792 stamp it: milliseconds since
// midnight UT.
func Timestamp(t time.Time) uint32 {
	t = t.UTC()
	return uint32(t.Hour()*3600000 + t.Minute()*60000 + t.Second()*1000 + t.Nanosecond()/1e6)
}

// AppendEchoOptions appends to dst the options of the Echo Reply a host
// sends to Echo Request b, addressed to local (RFC 1122 §3.2.2.6: record
// route and timestamp options "SHOULD be updated to include the current
// host and included in the IP header of the Echo Reply ... without
// truncation"), as Linux builds them (ip_options_compile on the request,
// ip_options_echo and ip_options_build on the reply): the request's record
// route, then its timestamp, each stamped once as the request arrives and
// once more as the reply leaves, both times with local; padded to a
// multiple of 4. Other options are not echoed. ok is false where Linux
// sends no reply at all: an option with room for the request's stamp but
// for only part of the reply's. b must have passed Validate.
func (b IPv4) AppendEchoOptions(dst []byte, local netip.Addr, now time.Time, ours func(netip.Addr) bool) (_ []byte, ok bool) {
	start := len(dst)
	var rr, ts []byte
	for opts, i := b.Options(), 0; i < len(opts); {
		if opts[i] == optEOL {
			break
		}
		if opts[i] == optNOP {
			i++
			continue
		}
		o := opts[i : i+int(opts[i+1])]
		switch o[0] {
		case optRR:
			rr = o
		case optTS:
			ts = o
		}
		i += len(o)
	}
	if rr != nil {
		dst = append(dst, rr...)
		o := dst[len(dst)-len(rr):]
		if stampRecordRoute(o, local) { // the request's stamp, then the reply's
			if p := int(o[2]); p <= len(o) && p+3 > len(o) {
				return dst[:start], false
			}
			stampRecordRoute(o, local)
		}
	}
	if ts != nil {
		dst = append(dst, ts...)
		o := dst[len(dst)-len(ts):]
		stamped := stampTimestamp(o, local, now, ours) && int(ts[2]) <= len(ts)
		if p, flag := int(o[2]), o[3]&0x0f; stamped && p <= len(o) {
			room := 4 // for the reply's timestamp
			if flag == tsAddr {
				room = 8 // and its address
			}
			if p+3 > len(o) || (flag != tsPrespec && p+room-1 > len(o)) {
				return dst[:start], false
			}
			if flag != tsPrespec || p+7 <= len(o) {
				stampTimestamp(o, local, now, ours)
			}
		}
	}
	for (len(dst)-start)%4 != 0 {
		dst = append(dst, optEOL)
	}
	return dst, true
}
