package packet

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// withOptions builds a header carrying opts (a multiple of 4 bytes).
func withOptions(opts []byte) IPv4 {
	b := make([]byte, 20+len(opts))
	b[0] = byte(0x40 | (20+len(opts))/4)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	copy(b[20:], opts)
	IPv4(b).SetChecksum()
	return b
}

// TestOptionFaults checks the Parameter Problem pointer for each malformed
// record route and timestamp option, against what Linux's
// ip_options_compile reports (the pointer counts from the header's first
// octet: options start at 20).
func TestOptionFaults(t *testing.T) {
	tests := []struct {
		name string
		opts []byte
		want int // pointer, or -1: valid
	}{
		{"RR empty, pointer 4", []byte{7, 7, 4, 0, 0, 0, 0, 0}, -1},
		{"RR full, pointer 8 of length 7", []byte{7, 7, 8, 1, 2, 3, 4, 0}, -1},
		{"RR length 2: too short (length byte)", []byte{7, 2, 1, 0}, 21},
		{"RR pointer 3: below the first slot (pointer byte)", []byte{7, 7, 3, 0, 0, 0, 0, 0}, 22},
		{"RR pointer 5: slot 5-8 past length 7 (pointer byte)", []byte{7, 7, 5, 0, 0, 0, 0, 0}, 22},
		{"RR twice (second's type byte)", []byte{7, 3, 4, 7, 3, 4, 0, 0}, 23},
		{"TS only, room for one", []byte{68, 8, 5, 0, 0, 0, 0, 0}, -1},
		{"TS length 3: too short (length byte)", []byte{68, 3, 5, 0}, 21},
		{"TS pointer 4: below the first slot", []byte{68, 8, 4, 0, 0, 0, 0, 0}, 22},
		{"TS with addresses: pointer 5 needs 8 bytes of 8-byte option", []byte{68, 8, 5, 1, 0, 0, 0, 0}, 22},
		{"TS with addresses, room for one", []byte{68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0}, -1},
		{"TS full, overflow 14", []byte{68, 8, 9, 0xe0, 0, 0, 0, 0}, -1},
		{"TS full, overflow 15 (flags byte)", []byte{68, 8, 9, 0xf0, 0, 0, 0, 0}, 23},
		{"TS full, prespecified, overflow 15: no counting, valid", []byte{68, 12, 13, 0xf3, 0, 0, 0, 0, 0, 0, 0, 0}, -1},
		{"TS twice (second's type byte)", []byte{68, 4, 5, 0, 68, 4, 5, 0}, 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := withOptions(tt.opts)
			p := ip.Validate()
			if tt.want < 0 {
				if p != Valid {
					t.Fatalf("Validate = %v, want valid", p)
				}
				return
			}
			if p != BadOptions {
				t.Fatalf("Validate = %v, want %v", p, BadOptions)
			}
			if got := ip.BadOptionPointer(); got != tt.want {
				t.Errorf("BadOptionPointer = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestStampOptions checks what a router writes into record route and
// timestamp options as it forwards, byte by byte.
func TestStampOptions(t *testing.T) {
	in, out := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("203.0.113.1")
	ours := func(a netip.Addr) bool { return a == in || a == out }
	// 01:02:03.456 UT is 3723456 ms since midnight: 0x0038d0c0.
	now := time.Date(2026, 12, 3, 1, 2, 3, 456e6, time.UTC)
	tests := []struct {
		name    string
		opts    []byte
		want    []byte
		changed bool
	}{
		{"RR: address in the first slot, pointer +4",
			[]byte{7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0},
			[]byte{7, 11, 8, 203, 0, 113, 1, 0, 0, 0, 0, 0}, true},
		{"RR: full, unchanged",
			[]byte{7, 7, 8, 198, 51, 100, 2, 0},
			[]byte{7, 7, 8, 198, 51, 100, 2, 0}, false},
		{"TS only: time in the slot, pointer +4",
			[]byte{68, 8, 5, 0, 0, 0, 0, 0},
			[]byte{68, 8, 9, 0, 0x00, 0x38, 0xd0, 0xc0}, true},
		{"TS with addresses: the incoming interface's address then time, pointer +8",
			[]byte{68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0},
			[]byte{68, 12, 13, 1, 198, 51, 100, 1, 0x00, 0x38, 0xd0, 0xc0}, true},
		{"TS full: overflow counter +1",
			[]byte{68, 8, 9, 0x20, 1, 2, 3, 4},
			[]byte{68, 8, 9, 0x30, 1, 2, 3, 4}, true},
		{"TS prespecified, ours: time after it",
			[]byte{68, 12, 5, 3, 198, 51, 100, 1, 0, 0, 0, 0},
			[]byte{68, 12, 13, 3, 198, 51, 100, 1, 0x00, 0x38, 0xd0, 0xc0}, true},
		{"TS prespecified, not ours: unchanged",
			[]byte{68, 12, 5, 3, 198, 51, 100, 9, 0, 0, 0, 0},
			[]byte{68, 12, 5, 3, 198, 51, 100, 9, 0, 0, 0, 0}, false},
		{"TS unknown flag 2: unchanged",
			[]byte{68, 8, 5, 2, 0, 0, 0, 0},
			[]byte{68, 8, 5, 2, 0, 0, 0, 0}, false},
		{"NOP, RR and TS together",
			[]byte{1, 7, 7, 4, 0, 0, 0, 0, 68, 8, 5, 0, 0, 0, 0, 0},
			[]byte{1, 7, 7, 8, 203, 0, 113, 1, 68, 8, 9, 0, 0x00, 0x38, 0xd0, 0xc0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := withOptions(tt.opts)
			if p := ip.Validate(); p != Valid {
				t.Fatalf("Validate = %v", p)
			}
			if got := ip.StampOptions(in, out, now, ours); got != tt.changed {
				t.Errorf("changed = %v, want %v", got, tt.changed)
			}
			if got := []byte(ip.Options()); string(got) != string(tt.want) {
				t.Errorf("options\n got % x\nwant % x", got, tt.want)
			}
		})
	}
}

func TestTimestamp(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want uint32
	}{
		{time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), 0},
		{time.Date(2026, 12, 3, 23, 59, 59, 999e6, time.UTC), 86399999},
		{time.Date(2026, 12, 3, 2, 0, 0, 0, time.FixedZone("UTC+1", 3600)), 3600000}, // 01:00 UT
	} {
		if got := Timestamp(tt.t); got != tt.want {
			t.Errorf("Timestamp(%v) = %d, want %d", tt.t, got, tt.want)
		}
	}
}

// TestAppendEchoOptions checks an Echo Reply's options, as Linux builds
// them from the request's (ip_options_echo): stamped once on arrival and
// once on the way out, with the address asked.
func TestAppendEchoOptions(t *testing.T) {
	local := netip.MustParseAddr("198.51.100.1")
	ours := func(a netip.Addr) bool { return a == local }
	now := time.Date(2026, 12, 3, 1, 2, 3, 456e6, time.UTC) // 0038d0c0
	tests := []struct {
		name string
		opts []byte
		want []byte // nil: no reply
	}{
		{"TS with addresses",
			[]byte{68, 20, 13, 1, 198, 51, 100, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},
			[]byte{68, 20, 21, 1, 198, 51, 100, 2, 0, 0, 0, 1, 198, 51, 100, 1, 0x00, 0x38, 0xd0, 0xc0}},
		{"TS prespecified, both slots ours",
			[]byte{68, 20, 5, 3, 198, 51, 100, 1, 0, 0, 0, 0, 198, 51, 100, 1, 0, 0, 0, 0},
			[]byte{68, 20, 21, 3, 198, 51, 100, 1, 0x00, 0x38, 0xd0, 0xc0, 198, 51, 100, 1, 0x00, 0x38, 0xd0, 0xc0}},
		{"TS prespecified, second slot not ours",
			[]byte{68, 20, 5, 3, 198, 51, 100, 1, 0, 0, 0, 0, 198, 51, 100, 9, 0, 0, 0, 0},
			[]byte{68, 20, 13, 3, 198, 51, 100, 1, 0x00, 0x38, 0xd0, 0xc0, 198, 51, 100, 9, 0, 0, 0, 0}},
		{"TS full on arrival: copied, overflow counted once",
			[]byte{68, 8, 9, 0, 0, 0, 0, 1},
			[]byte{68, 8, 9, 0x10, 0, 0, 0, 1}},
		{"TS only, room for the request's stamp alone: still answered",
			[]byte{68, 8, 5, 0, 0, 0, 0, 0},
			[]byte{68, 8, 9, 0, 0x00, 0x38, 0xd0, 0xc0}},
		{"TS with addresses, 4 bytes short of the reply's stamp: no reply",
			[]byte{68, 16, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
			nil},
		{"RR then TS, reordered as Linux does: RR first",
			[]byte{68, 4, 5, 0, 7, 3, 4, 0},
			[]byte{7, 3, 4, 68, 4, 5, 0x10, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := withOptions(tt.opts)
			if p := ip.Validate(); p != Valid {
				t.Fatalf("Validate = %v", p)
			}
			got, ok := ip.AppendEchoOptions(nil, local, now, ours)
			if tt.want == nil {
				if ok {
					t.Errorf("got % x, want no reply", got)
				}
				return
			}
			if !ok || string(got) != string(tt.want) {
				t.Errorf("got % x (ok %v)\nwant % x", got, ok, tt.want)
			}
		})
	}
}
