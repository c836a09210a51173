package packet

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// Echo Request 198.51.100.2 → 203.0.113.2, TTL 1.
var echoTTL1 = []byte{
	0x45, 0x00, 0x00, 0x1c, // version 4, IHL 5, TOS 0, total length 28
	0x00, 0x07, 0x00, 0x00, // ID 7, no flags, fragment offset 0
	0x01, 0x01, 0x53, 0xa2, // TTL 1, protocol 1 (ICMP), header checksum 0x53a2
	0xc6, 0x33, 0x64, 0x02, // source 198.51.100.2
	0xcb, 0x00, 0x71, 0x02, // destination 203.0.113.2
	0x08, 0x00, 0xf7, 0xf7, // type 8 (Echo), code 0, ICMP checksum 0xf7f7
	0x00, 0x07, 0x00, 0x01, // identifier 7, sequence 1
}

// checksumRef is RFC 1071's reference algorithm, word by word.
func checksumRef(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func TestChecksumAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 1501)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for n := 0; n <= 1500; n++ {
		if got, want := Checksum(b[:n], 0), checksumRef(b[:n]); got != want {
			t.Fatalf("Checksum of %d bytes = %#04x, want %#04x", n, got, want)
		}
	}
	all := make([]byte, 1500)
	for i := range all {
		all[i] = 0xff
	}
	if got, want := Checksum(all, 0), checksumRef(all); got != want {
		t.Errorf("Checksum of 0xff bytes = %#04x, want %#04x", got, want)
	}
}

func TestChecksumRFC1071Examples(t *testing.T) {
	// RFC 1071 §3's example: the one's complement sum is 0xddf2.
	if got := Checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, 0); got != ^uint16(0xddf2) {
		t.Errorf("Checksum(RFC 1071 example) = %#04x, want %#04x", got, ^uint16(0xddf2))
	}
	// Odd length: the last byte is padded with a zero byte.
	if got, want := Checksum([]byte{0x01, 0x02, 0x03}, 0), ^uint16(0x0102+0x0300); got != want {
		t.Errorf("Checksum(odd) = %#04x, want %#04x", got, want)
	}
	if got := Checksum(nil, 0); got != 0xffff {
		t.Errorf("Checksum(nil) = %#04x, want 0xffff", got)
	}
}

func TestGoldenEcho(t *testing.T) {
	ip := IPv4(echoTTL1)
	if p := ip.Validate(); p != Valid {
		t.Fatalf("Validate = %v, want valid", p)
	}
	if ip.HeaderLen() != 20 || ip.TotalLen() != 28 || ip.ID() != 7 || ip.TTL() != 1 || ip.Protocol() != 1 {
		t.Errorf("header fields hl %d tl %d id %d ttl %d proto %d", ip.HeaderLen(), ip.TotalLen(), ip.ID(), ip.TTL(), ip.Protocol())
	}
	if ip.Src() != netip.MustParseAddr("198.51.100.2") || ip.Dst() != netip.MustParseAddr("203.0.113.2") {
		t.Errorf("addresses %v → %v", ip.Src(), ip.Dst())
	}
	icmp := ICMPv4(ip.Payload())
	if icmp.Type() != ipv4.ICMPTypeEcho || icmp.ID() != 7 || icmp.Seq() != 1 || Checksum(icmp, 0) != 0 {
		t.Errorf("ICMP type %v id %d seq %d", icmp.Type(), icmp.ID(), icmp.Seq())
	}
}

func TestDecTTLMatchesFullChecksum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		b := make([]byte, 20)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		b[0] = 0x45
		b[8] = byte(2 + rng.IntN(254))
		ip := IPv4(b)
		ip.SetChecksum()
		want := make([]byte, 20)
		copy(want, b)
		want[8]--
		IPv4(want).SetChecksum()
		ip.DecTTL()
		if Checksum(b, 0) != 0 {
			t.Fatalf("after DecTTL the header % x does not verify", b)
		}
		if ip.TTL() != want[8] {
			t.Fatalf("TTL %d, want %d", ip.TTL(), want[8])
		}
	}
}

func TestValidate(t *testing.T) {
	mod := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), echoTTL1...)
		return f(b)
	}
	resum := func(b []byte) []byte { IPv4(b).SetChecksum(); return b }
	tests := []struct {
		name string
		in   []byte
		want Problem
	}{
		{"valid echo", echoTTL1, Valid},
		{"19 bytes", echoTTL1[:19], TooShort},
		{"empty", nil, TooShort},
		{"version 6", mod(func(b []byte) []byte { b[0] = 0x65; return b }), BadVersion},
		{"IHL 4", mod(func(b []byte) []byte { b[0] = 0x44; return b }), BadHeaderLen},
		{"IHL 15 beyond the bytes", mod(func(b []byte) []byte { b[0] = 0x4f; return b }), BadHeaderLen},
		{"total length 19, below the header", mod(func(b []byte) []byte { b[3] = 19; return resum(b) }), BadTotalLen},
		{"total length 29, beyond the bytes", mod(func(b []byte) []byte { b[3] = 29; return resum(b) }), BadTotalLen},
		{"header checksum off by one", mod(func(b []byte) []byte { b[11]++; return b }), BadChecksum},
		{"trailing link padding", append(append([]byte(nil), echoTTL1...), 0, 0), Valid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IPv4(tt.in).Validate(); got != tt.want {
				t.Errorf("Validate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name        string
		opts        []byte
		want        Problem
		sourceRoute bool
		copied      []byte
	}{
		{"NOPs and EOL", []byte{1, 1, 1, 0}, Valid, false, nil},
		{"length 1 overrun", []byte{7, 1, 0, 0}, BadOptions, false, nil},
		{"length beyond the header", []byte{7, 9, 4, 0}, BadOptions, false, nil},
		{"type with no length byte", []byte{1, 1, 1, 7}, BadOptions, false, nil},
		{"LSRR", []byte{131, 7, 4, 203, 0, 113, 2, 0}, Valid, true, []byte{131, 7, 4, 203, 0, 113, 2, 0}},
		{"SSRR after NOP", []byte{1, 137, 7, 4, 203, 0, 113, 2}, Valid, true, []byte{137, 7, 4, 203, 0, 113, 2, 0}},
		{"record route is not copied", []byte{7, 7, 4, 0, 0, 0, 0, 0}, Valid, false, []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := withOptions(tt.opts)
			if got := ip.Validate(); got != tt.want {
				t.Fatalf("Validate = %v, want %v", got, tt.want)
			}
			if tt.want != Valid {
				return
			}
			if got := ip.HasSourceRoute(); got != tt.sourceRoute {
				t.Errorf("HasSourceRoute = %v, want %v", got, tt.sourceRoute)
			}
			if got := ip.AppendCopiedOptions(nil); string(got) != string(tt.copied) {
				t.Errorf("copied options % x, want % x", got, tt.copied)
			}
		})
	}
}

// TestRegistryNumbers checks our constants against golang.org/x/net/ipv4.
func TestRegistryNumbers(t *testing.T) {
	if ProtocolICMP != 1 || ProtocolTCP != 6 || ProtocolUDP != 17 {
		t.Error("protocol numbers")
	}
	for _, q := range []ipv4.ICMPType{ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply, ipv4.ICMPTypeTimestamp} {
		if !IsQuery(q) {
			t.Errorf("IsQuery(%v) = false", q)
		}
	}
	for _, e := range []ipv4.ICMPType{ipv4.ICMPTypeDestinationUnreachable, ipv4.ICMPTypeRedirect, ipv4.ICMPTypeTimeExceeded, ipv4.ICMPTypeParameterProblem, 4, 99} {
		if IsQuery(e) {
			t.Errorf("IsQuery(%v) = true; errors and unknown types must count as errors", e)
		}
	}
	if ipv4.ICMPTypeParameterProblem != 12 || ipv4.ICMPTypeRedirect != 5 || ipv4.ICMPTypeTimeExceeded != 11 {
		t.Error("x/net/ipv4 type numbers moved")
	}
}

func FuzzValidate(f *testing.F) {
	f.Add(echoTTL1)
	f.Add([]byte(withOptions([]byte{7, 7, 4, 0, 0, 0, 0, 0, 68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0})))
	f.Add([]byte(withOptions([]byte{68, 20, 5, 3, 198, 51, 100, 1, 0, 0, 0, 0, 198, 51, 100, 9, 0, 0, 0, 0})))
	f.Fuzz(func(t *testing.T, b []byte) {
		ip := IPv4(b)
		if ip.Validate() != Valid {
			return
		}
		// Everything past Validate must stay in bounds.
		_ = ip.Payload()
		_ = ip.HasSourceRoute()
		opts := ip.AppendCopiedOptions(nil)
		if len(opts)%4 != 0 || len(opts) > 40 {
			t.Fatalf("copied options of %d bytes", len(opts))
		}
		if ip.TTL() > 1 {
			ip.DecTTL()
			if Checksum(ip[:ip.HeaderLen()], 0) != 0 {
				t.Fatal("DecTTL broke the checksum")
			}
		}
		// Option updates stay inside the header and keep its checksum
		// right. The next router may still refuse the options, as Linux
		// would: an odd-length option whose pointer now points at a slot
		// that does not fit, or an overflow counter that reached 15.
		now := time.Date(2026, 12, 3, 1, 2, 3, 0, time.UTC)
		addr := netip.MustParseAddr("198.51.100.1")
		ours := func(a netip.Addr) bool { return a == addr }
		echo, ok := ip.AppendEchoOptions(nil, addr, now, ours)
		if ok && (len(echo)%4 != 0 || len(echo) > 40) {
			t.Fatalf("echo options of %d bytes", len(echo))
		}
		hl, total := ip.HeaderLen(), ip.TotalLen()
		if ip.StampOptions(addr, addr, now, ours) {
			ip.SetChecksum()
		}
		if ip.HeaderLen() != hl || ip.TotalLen() != total {
			t.Fatal("StampOptions changed the header's length")
		}
		if p := ip.Validate(); p != Valid && p != BadOptions {
			t.Fatalf("after StampOptions: %v", p)
		}
	})
}

func BenchmarkChecksum(b *testing.B) {
	for _, n := range []int{20, 64, 1500} {
		buf := make([]byte, n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				Checksum(buf, 0)
			}
		})
	}
}
