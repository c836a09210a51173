package tuntest

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/tun/packet"
)

// Checker checks one property of a datagram.
type Checker func(t testing.TB, b []byte)

// CheckIPv4 checks that b is a valid IPv4 datagram and has every property.
func CheckIPv4(t testing.TB, b []byte, checkers ...Checker) {
	t.Helper()
	if p := packet.IPv4(b).Validate(); p != packet.Valid {
		t.Fatalf("datagram % x is not valid IPv4: %v", b, p)
	}
	if got := packet.IPv4(b).TotalLen(); got != len(b) {
		t.Errorf("total length %d, but %d bytes", got, len(b))
	}
	for _, c := range checkers {
		c(t, b)
	}
}

// Src checks the source address.
func Src(want netip.Addr) Checker {
	return func(t testing.TB, b []byte) {
		t.Helper()
		if got := packet.IPv4(b).Src(); got != want {
			t.Errorf("source %v, want %v", got, want)
		}
	}
}

// Dst checks the destination address.
func Dst(want netip.Addr) Checker {
	return func(t testing.TB, b []byte) {
		t.Helper()
		if got := packet.IPv4(b).Dst(); got != want {
			t.Errorf("destination %v, want %v", got, want)
		}
	}
}

// TTL checks the TTL.
func TTL(want uint8) Checker {
	return func(t testing.TB, b []byte) {
		t.Helper()
		if got := packet.IPv4(b).TTL(); got != want {
			t.Errorf("TTL %d, want %d", got, want)
		}
	}
}

// TOS checks the TOS byte.
func TOS(want uint8) Checker {
	return func(t testing.TB, b []byte) {
		t.Helper()
		if got := packet.IPv4(b).TOS(); got != want {
			t.Errorf("TOS %#x, want %#x", got, want)
		}
	}
}

// Len checks the total length.
func Len(want int) Checker {
	return func(t testing.TB, b []byte) {
		t.Helper()
		if got := len(b); got != want {
			t.Errorf("length %d, want %d", got, want)
		}
	}
}

// ICMP checks that b carries an ICMP message with a correct checksum and
// every ICMP property.
func ICMP(checkers ...Checker) Checker {
	return func(t testing.TB, b []byte) {
		t.Helper()
		ip := packet.IPv4(b)
		if ip.Protocol() != packet.ProtocolICMP {
			t.Fatalf("protocol %d, want 1 (ICMP)", ip.Protocol())
		}
		icmp := ip.Payload()
		if len(icmp) < packet.ICMPHeaderLen {
			t.Fatalf("ICMP message of %d bytes", len(icmp))
		}
		if packet.Checksum(icmp, 0) != 0 {
			t.Errorf("ICMP checksum %#04x does not verify", packet.ICMPv4(icmp).Checksum())
		}
		for _, c := range checkers {
			c(t, icmp)
		}
	}
}

// Type checks the ICMP type (inside ICMP).
func Type(want ipv4.ICMPType) Checker {
	return func(t testing.TB, b []byte) {
		t.Helper()
		if got := packet.ICMPv4(b).Type(); got != want {
			t.Errorf("ICMP type %v, want %v", got, want)
		}
	}
}

// Code checks the ICMP code (inside ICMP).
func Code(want packet.Code) Checker {
	return func(t testing.TB, b []byte) {
		t.Helper()
		if got := packet.ICMPv4(b).Code(); got != want {
			t.Errorf("ICMP code %d, want %d", got, want)
		}
	}
}

// Word2 checks the second 32-bit word of the ICMP header: unused (0),
// gateway, or unused and next-hop MTU (inside ICMP).
func Word2(want [4]byte) Checker {
	return func(t testing.TB, b []byte) {
		t.Helper()
		if got := [4]byte(b[4:8]); got != want {
			t.Errorf("ICMP header word 2 % x, want % x", got, want)
		}
	}
}

// Quotes checks that the ICMP body is exactly want (inside ICMP).
func Quotes(want []byte) Checker {
	return func(t testing.TB, b []byte) {
		t.Helper()
		if got := packet.ICMPv4(b).Body(); !bytes.Equal(got, want) {
			t.Errorf("ICMP body (%d bytes)\n% x\nwant (%d bytes)\n% x", len(got), got, len(want), want)
		}
	}
}

// TCPReset checks a TCP segment's ports, sequence and acknowledgment
// numbers, flags, and checksum.
func TCPReset(sport, dport uint16, seq, ack uint32, flags byte) Checker {
	return func(t testing.TB, b []byte) {
		t.Helper()
		ip := packet.IPv4(b)
		seg := ip.Payload()
		if ip.Protocol() != packet.ProtocolTCP || len(seg) < 20 {
			t.Fatalf("protocol %d, %d bytes: not a TCP segment", ip.Protocol(), len(seg))
		}
		got := [5]uint32{uint32(binary.BigEndian.Uint16(seg)), uint32(binary.BigEndian.Uint16(seg[2:])),
			binary.BigEndian.Uint32(seg[4:]), binary.BigEndian.Uint32(seg[8:]), uint32(seg[13])}
		want := [5]uint32{uint32(sport), uint32(dport), seq, ack, uint32(flags)}
		if got != want {
			t.Errorf("ports, seq, ack, flags %v, want %v", got, want)
		}
		if packet.Checksum(seg, packet.PseudoHeaderSum(ip, len(seg))) != 0 {
			t.Error("TCP checksum does not verify")
		}
	}
}
