package routing

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun/packet"
	"github.com/icmpgw/icmpgw/tun/tuntest"
)

var update = flag.Bool("update", false, "rewrite testdata/malformed.txt from malformedCases")

// malformedCase is one broken datagram and what the router must make of
// it: its outcome and how many datagrams it sends (the datagram itself or
// its fragments, an ICMP error, or nothing).
type malformedCase struct {
	name string
	want Outcome
	sent int
	pkt  []byte
}

func edit(b []byte, f func(b []byte)) []byte {
	c := append([]byte(nil), b...)
	f(c)
	return c
}

func resum(b []byte) { packet.IPv4(b).SetChecksum() }

// malformedCases builds the corpus; testdata/malformed.txt holds its bytes.
func malformedCases() []malformedCase {
	ping := tuntest.Ping(client, server, 64, 8)
	udp := tuntest.UDP(client, server, 64, 8)
	withOpts := func(opts []byte) []byte {
		return tuntest.Build(tuntest.Datagram{Src: client, Dst: server, Protocol: packet.ProtocolUDP, Options: opts, Payload: tuntest.UDPPayload(1, 2, 8)})
	}
	icmpTo := func(dst netip.Addr, icmp []byte) []byte {
		return tuntest.Build(tuntest.Datagram{Src: client, Dst: dst, Protocol: packet.ProtocolICMP, Payload: icmp})
	}
	big := tuntest.Build(tuntest.Datagram{Src: client, Dst: server, Protocol: packet.ProtocolUDP, Payload: make([]byte, 65535-20)})
	return []malformedCase{
		{"empty", DropMalformed, 0, nil},
		{"one byte", DropMalformed, 0, []byte{0x45}},
		{"19 bytes", DropMalformed, 0, ping[:19]},
		{"truncated after the header", DropMalformed, 0, ping[:24]},
		{"version 6", DropMalformed, 0, edit(ping, func(b []byte) { b[0] = 0x65 })},
		{"version 0", DropMalformed, 0, edit(ping, func(b []byte) { b[0] = 0x05 })},
		{"IHL 0", DropMalformed, 0, edit(ping, func(b []byte) { b[0] = 0x40 })},
		{"IHL 4", DropMalformed, 0, edit(ping, func(b []byte) { b[0] = 0x44 })},
		{"IHL 15 beyond the datagram", DropMalformed, 0, edit(ping, func(b []byte) { b[0] = 0x4f })},
		{"total length 0", DropMalformed, 0, edit(ping, func(b []byte) { b[2], b[3] = 0, 0; resum(b) })},
		{"total length 19", DropMalformed, 0, edit(ping, func(b []byte) { b[2], b[3] = 0, 19; resum(b) })},
		{"total length beyond the bytes", DropMalformed, 0, edit(ping, func(b []byte) { b[2], b[3] = 0, 200; resum(b) })},
		{"total length 65535, 36 bytes read", DropMalformed, 0, edit(ping, func(b []byte) { b[2], b[3] = 0xff, 0xff; resum(b) })},
		{"header checksum off by one", DropMalformed, 0, edit(ping, func(b []byte) { b[11]++ })},
		{"header checksum zero", DropMalformed, 0, edit(ping, func(b []byte) { b[10], b[11] = 0, 0 })},
		{"option length 0", DropMalformed, 1, withOpts([]byte{7, 0, 0, 0})},
		{"option length 1", DropMalformed, 1, withOpts([]byte{7, 1, 0, 0})},
		// Options are judged once the martian checks let the datagram in:
		// no Parameter Problem about a broadcast or a martian (Linux).
		{"option length 0, to the subnet broadcast", DropBroadcast, 0, edit(withOpts([]byte{7, 0, 0, 0}), func(b []byte) { copy(b[16:20], []byte{198, 51, 100, 255}); resum(b) })},
		{"option length 0, to 127.0.0.1", DropMartian, 0, edit(withOpts([]byte{7, 0, 0, 0}), func(b []byte) { copy(b[16:20], []byte{127, 0, 0, 1}); resum(b) })},
		{"option overruns the header", DropMalformed, 1, withOpts([]byte{1, 7, 9, 4, 0, 0, 0, 0})},
		{"option type with no length byte", DropMalformed, 1, withOpts([]byte{1, 1, 1, 7})},
		{"options full of NOPs", Forwarded, 1, withOpts(make([]byte, 40))},
		{"record route pointer 3", DropMalformed, 1, withOpts([]byte{7, 7, 3, 0, 0, 0, 0, 0})},
		{"record route slot past its length", DropMalformed, 1, withOpts([]byte{7, 6, 4, 0, 0, 0, 0, 0})},
		{"record route twice", DropMalformed, 1, withOpts([]byte{7, 3, 4, 7, 3, 4, 0, 0})},
		{"timestamp length 3", DropMalformed, 1, withOpts([]byte{68, 3, 5, 0})},
		{"timestamp full, overflow counter 15", DropMalformed, 1, withOpts([]byte{68, 8, 9, 0xf0, 0, 0, 0, 0})},
		{"timestamp full, overflow 13: forwarded, counter 14", Forwarded, 1, withOpts([]byte{68, 8, 9, 0xd0, 0, 0, 0, 0})},
		{"echo to the router, record route with no room for the reply's stamp", DropEchoOptions, 0,
			tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, Protocol: packet.ProtocolICMP, Options: []byte{7, 9, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Payload: tuntest.EchoPayload(7, 1, 8)})},
		{"fragment offset + length past 65535, forwarded as Linux does", Forwarded, 1, edit(udp, func(b []byte) { packet.IPv4(b).SetFragment(false, 65528); resum(b) })},
		{"65535-byte datagram, fragmented for MTU 1400", Forwarded, 48, big},
		{"trailing bytes after total length", Forwarded, 1, append(append([]byte(nil), ping...), 1, 2, 3, 4)},
		{"ICMP to the router, 0 bytes", DropBadICMP, 0, icmpTo(r1eth0, nil)},
		{"ICMP to the router, 7 bytes", DropBadICMP, 0, icmpTo(r1eth0, make([]byte, 7))},
		{"ICMP to the router, odd length, good checksum", Answered, 1, icmpTo(r1eth0, tuntest.EchoPayload(7, 1, 9))},
		{"ICMP echo to the router, bad checksum", DropBadICMP, 0, icmpTo(r1eth0, edit(tuntest.EchoPayload(7, 1, 8), func(b []byte) { b[2]++ }))},
		{"ICMP error with a truncated quote, TTL 1", DropTTL, 0, tuntest.Build(tuntest.Datagram{Src: client, Dst: server, TTL: 1, Protocol: packet.ProtocolICMP, Payload: []byte{11, 0, 0xf4, 0xff, 0, 0, 0, 0, 0x45}})},
		{"ICMP error quoting a malformed header, to the router", Consumed, 0, icmpTo(r1eth0, edit(append([]byte{3, 1, 0, 0, 0, 0, 0, 0}, 0x4f, 0, 0, 1), func(b []byte) { packet.ICMPv4(b).SetChecksum() }))},
		{"UDP to the router, 4-byte header", DropBadTransport, 0, tuntest.Build(tuntest.Datagram{Src: client, Dst: r1eth0, Protocol: packet.ProtocolUDP, Payload: []byte{0, 1, 0, 2}})},
		{"UDP to the router, length field 200", DropBadTransport, 0, edit(tuntest.UDP(client, r1eth0, 64, 8), func(b []byte) { b[24], b[25] = 0, 200 })},
		{"TCP to the router, data offset 15", DropBadTransport, 0, edit(tuntest.TCP(client, r1eth0, 1, 80, 1, 0, 0x02), func(b []byte) { b[32] = 0xf0 })},
		{"TCP to the router, bad checksum", DropBadTransport, 0, edit(tuntest.TCP(client, r1eth0, 1, 80, 1, 0, 0x02), func(b []byte) { b[36]++ })},
		{"source 0.0.0.0", DropMartian, 0, tuntest.Ping(netip.MustParseAddr("0.0.0.0"), server, 64, 8)},
		{"source 255.255.255.255", DropMartian, 0, tuntest.Ping(netip.MustParseAddr("255.255.255.255"), server, 64, 8)},
		{"source is the router", DropMartian, 0, tuntest.Ping(r1eth1, server, 64, 8)},
		{"destination 0.0.0.0", DropMartian, 0, tuntest.Ping(client, netip.MustParseAddr("0.0.0.0"), 64, 8)},
		{"TTL 0", DropTTL, 1, edit(ping, func(b []byte) { b[8] = 0; resum(b) })},
	}
}

// TestMalformedCorpus feeds testdata/malformed.txt to the router: each
// datagram ends as its line says, sends what it says, and never anything
// invalid. With -update, the file is rewritten from malformedCases.
func TestMalformedCorpus(t *testing.T) {
	const path = "testdata/malformed.txt"
	if *update {
		var b strings.Builder
		b.WriteString("# name | outcome | datagrams sent | bytes (hex). Written by go test -run TestMalformedCorpus -update.\n")
		for _, c := range malformedCases() {
			fmt.Fprintf(&b, "%s | %s | %d | %s\n", c.name, c.want, c.sent, hex.EncodeToString(c.pkt))
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := testRouter(t, responder.Policy{NoRateLimit: true})
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for line := 1; sc.Scan(); line++ {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		fields := strings.Split(sc.Text(), " | ")
		if len(fields) != 4 {
			t.Fatalf("%s:%d: want 4 fields separated by \" | \"", path, line)
		}
		name, want, sentText, hexText := fields[0], fields[1], fields[2], fields[3]
		pkt, err := hex.DecodeString(hexText)
		wantSent, err2 := strconv.Atoi(sentText)
		if err != nil || err2 != nil {
			t.Fatalf("%s:%d: bad hex or count", path, line)
		}
		n++
		t.Run(name, func(t *testing.T) {
			out := NewOutput()
			if got := r.Process(r.Ifaces[0], pkt, out); got.String() != want {
				t.Errorf("outcome %v, want %s", got, want)
			}
			if len(out.Packets) != wantSent {
				t.Errorf("sent %d datagrams, want %d", len(out.Packets), wantSent)
			}
			for _, e := range out.Packets {
				if p := packet.IPv4(e.Data).Validate(); p != packet.Valid {
					t.Errorf("sent an invalid datagram: %v", p)
				}
			}
		})
	}
	if n < 30 {
		t.Errorf("the corpus has %d datagrams, want at least 30", n)
	}
}
