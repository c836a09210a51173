package routing

import (
	"encoding/hex"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun/packet"
	"github.com/icmpgw/icmpgw/tun/tuntest"
)

// TestOptionsForwarded checks the options of forwarded datagrams and Echo
// Replies byte for byte, against what a Linux router writes (compared with
// ping -R and ping -T through scripts/kernel-lab.sh): record route gets
// the outgoing interface's address, a timestamp with addresses the
// incoming one's, an Echo Reply's options the address asked, twice.
func TestOptionsForwarded(t *testing.T) {
	r := testRouter(t, responder.Policy{NoRateLimit: true})
	// 01:02:03.456 UT: 3723456 ms since midnight, 0038d0c0.
	r.Now = func() time.Time { return time.Date(2026, 12, 3, 1, 2, 3, 456e6, time.UTC) }
	udp := func(opts []byte) []byte {
		return tuntest.Build(tuntest.Datagram{Src: client, Dst: server, Protocol: packet.ProtocolUDP, Options: opts, Payload: tuntest.UDPPayload(1, 2, 8)})
	}
	echo := func(opts []byte) []byte {
		return tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, Protocol: packet.ProtocolICMP, Options: opts, Payload: tuntest.EchoPayload(7, 1, 8)})
	}
	tests := []struct {
		name string
		in   []byte
		want Outcome
		opts string // the options of what is sent, hex
	}{
		{"record route: eth1's address, pointer 8", udp([]byte{7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0}), Forwarded,
			"07" + "0b" + "08" /* pointer */ + "cb007101" /* 203.0.113.1 */ + "00000000" + "00"},
		{"record route full: unchanged", udp([]byte{7, 7, 8, 198, 51, 100, 2, 0}), Forwarded,
			"07" + "07" + "08" + "c6336402" + "00"},
		{"timestamp with addresses: eth0's address and the time", udp([]byte{68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0}), Forwarded,
			"44" + "0c" + "0d" /* pointer 13 */ + "01" + "c6336401" /* 198.51.100.1 */ + "0038d0c0"},
		{"timestamp full: overflow 1", udp([]byte{68, 8, 9, 0, 0, 0, 0, 1}), Forwarded,
			"44" + "08" + "09" + "10" /* overflow 1, flag 0 */ + "00000001"},
		{"echo reply, record route: the address asked, twice", echo([]byte{7, 15, 8, 198, 51, 100, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0}), Answered,
			"07" + "0f" + "10" /* pointer 16: full */ + "c6336402" + "c6336401" + "c6336401" + "00" /* padding */},
		{"echo reply, timestamps only: two stamps", echo([]byte{68, 16, 9, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}), Answered,
			"44" + "10" + "11" /* pointer 17 */ + "00" + "00000001" + "0038d0c0" + "0038d0c0"},
		{"echo reply drops other options", echo([]byte{1, 1, 1, 0}), Answered, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, out := process(r, tt.in)
			if o != tt.want || len(out.Packets) != 1 {
				t.Fatalf("outcome %v with %d datagrams, want %v and 1", o, len(out.Packets), tt.want)
			}
			sent := packet.IPv4(out.Packets[0].Data)
			if sent.Validate() != packet.Valid {
				t.Fatalf("sent an invalid datagram (%v): %x", sent.Validate(), []byte(sent))
			}
			if got := hex.EncodeToString(sent.Options()); got != tt.opts {
				t.Errorf("options\n got %s\nwant %s", got, tt.opts)
			}
			if tt.want == Answered {
				tuntest.CheckIPv4(t, sent, tuntest.Src(r1eth0), tuntest.Dst(client),
					tuntest.ICMP(tuntest.Type(ipv4.ICMPTypeEchoReply), tuntest.Code(0)))
			}
		})
	}

	// Room for the request's stamp but not for the reply's: Linux's
	// ip_options_echo fails and no reply is sent.
	if o, out := process(r, echo([]byte{7, 9, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0})); o != DropEchoOptions || len(out.Packets) != 0 {
		t.Errorf("echo with a 9-byte record route: outcome %v, %d sent; want %v and none", o, len(out.Packets), DropEchoOptions)
	}
}

// TestTimestampReply checks a Timestamp Reply byte for byte, built as
// Linux's icmp_timestamp builds it; a request too short to carry its
// originate timestamp is dropped.
func TestTimestampReply(t *testing.T) {
	r := testRouter(t, responder.Policy{NoRateLimit: true})
	r.Now = func() time.Time { return time.Date(2026, 12, 3, 1, 2, 3, 456e6, time.UTC) } // 0038d0c0
	req := tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, TOS: 0x10, Protocol: packet.ProtocolICMP, Payload: icmpWithSum(
		"0d00" + "0000" /* type 13, code 0, checksum */ + "1234" + "0001" /* id, seq */ +
			"00010203" /* originate */ + "aaaaaaaa" + "bbbbbbbb" /* receive, transmit: overwritten */ + "cccc" /* extra: dropped */)})
	o, out := process(r, req)
	if o != Answered || len(out.Packets) != 1 {
		t.Fatalf("outcome %v, %d sent; want answered and 1", o, len(out.Packets))
	}
	reply := packet.IPv4(out.Packets[0].Data)
	tuntest.CheckIPv4(t, reply, tuntest.Src(r1eth0), tuntest.Dst(client), tuntest.TTL(64), tuntest.TOS(0x10), tuntest.Len(20+20))
	want := "0e00" + "0000" /* type 14, code 0, checksum: below */ + "1234" + "0001" + "00010203" + "0038d0c0" + "0038d0c0"
	got := packet.ICMPv4(reply.Payload())
	if packet.Checksum(got, 0) != 0 {
		t.Errorf("reply's ICMP checksum does not verify")
	}
	g := hex.EncodeToString(got)
	if g[:4]+"0000"+g[8:] != want {
		t.Errorf("reply\n got %s\nwant %s (checksum aside)", g, want)
	}
	if n := r.Stats().Sent[ipv4.ICMPTypeTimestampReply]; n != 1 {
		t.Errorf("%d Timestamp Replies counted, want 1", n)
	}

	short := tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, Protocol: packet.ProtocolICMP, Payload: icmpWithSum("0d00" + "0000" + "1234" + "0001" + "000102")})
	if o, out := process(r, short); o != DropBadICMP || len(out.Packets) != 0 {
		t.Errorf("11-byte Timestamp: outcome %v, %d sent; want %v and none", o, len(out.Packets), DropBadICMP)
	}
}

// icmpWithSum decodes an ICMP message from hex and sets its checksum.
func icmpWithSum(h string) []byte {
	b, err := hex.DecodeString(h)
	if err != nil {
		panic(err)
	}
	packet.ICMPv4(b).SetChecksum()
	return b
}
