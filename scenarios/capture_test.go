package scenarios

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icmpgw/icmpgw/scenarios/probe"
)

// TestPcap builds the default lab with Options.Pcap, draws a Time Exceeded
// and an Echo Reply from r1 and sends a ping through it, and reads r1's
// captures back with tshark: each file holds exactly what crossed its
// interface, both ways, in order.
func TestPcap(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark not found, and CI=true forbids skipping")
		}
		t.Skip("needs tshark")
	}
	sc, err := Load("default")
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("icmpgw-tp%d-", os.Getpid())
	dir := filepath.Join(t.TempDir(), "pcap") // Build creates it
	// Cleanups run last first: Close, then Down deletes by name whatever
	// a failed Build or Close left.
	t.Cleanup(func() {
		if left, err := Down(sc, prefix); len(left) > 0 || err != nil {
			t.Errorf("Down deleted %v, %v; want nothing left to delete", left, err)
		}
	})
	topo, err := Build(sc, Options{Prefix: prefix, Seed: 1, Pcap: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { topo.Close() })
	client := topo.Namespace("client")

	probes := []struct {
		dst  string
		ttl  int
		want string
	}{
		{"203.0.113.2", 1, "time-exceeded from 198.51.100.1 (EHOSTUNREACH)"},
		{"203.0.113.1", 0, "echo reply from 203.0.113.1"},
		{"203.0.113.2", 0, "echo reply from 203.0.113.2"},
	}
	for _, p := range probes {
		res, err := probe.Echo(client, netip.MustParseAddr(p.dst), p.ttl, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if res.String() != p.want {
			t.Fatalf("echo %s ttl %d: %s, want %s", p.dst, p.ttl, res, p.want)
		}
	}
	if err := topo.Close(); err != nil {
		t.Fatal(err)
	}

	// -E occurrence=f: the outer header's fields, not those of the
	// datagram a Time Exceeded quotes.
	tshark := func(file string) []string {
		t.Helper()
		cmd := exec.Command("tshark", "-n", "-r", filepath.Join(dir, file),
			"-T", "fields", "-E", "occurrence=f",
			"-e", "ip.src", "-e", "ip.dst", "-e", "icmp.type", "-e", "icmp.code", "-e", "frame.packet_flags_direction")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, stderr.String())
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	check := func(file string, want []string) {
		t.Helper()
		got := tshark(file)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("tshark -r %s:\ngot\n%s\nwant\n%s", file, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// Direction: 0x00000001 received by r1, 0x00000002 sent.
	check("r1-eth0.pcapng", []string{
		"198.51.100.2\t203.0.113.2\t8\t0\t0x00000001",   // Echo Request, TTL 1, in
		"198.51.100.1\t198.51.100.2\t11\t0\t0x00000002", // Time Exceeded, out
		"198.51.100.2\t203.0.113.1\t8\t0\t0x00000001",   // Echo Request to r1, in
		"203.0.113.1\t198.51.100.2\t0\t0\t0x00000002",   // Echo Reply from r1, out
		"198.51.100.2\t203.0.113.2\t8\t0\t0x00000001",   // Echo Request to the server, in
		"203.0.113.2\t198.51.100.2\t0\t0\t0x00000002",   // its Echo Reply, forwarded out
	})
	check("r1-eth1.pcapng", []string{
		"198.51.100.2\t203.0.113.2\t8\t0\t0x00000002", // the forwarded Echo Request, out
		"203.0.113.2\t198.51.100.2\t0\t0\t0x00000001", // the server's Echo Reply, in
	})
}
