package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/scenarios"
	"github.com/icmpgw/icmpgw/scenarios/probe"
	"github.com/icmpgw/icmpgw/tun/packet"
	"github.com/icmpgw/icmpgw/tun/wire"
)

// fixed is a Source with set numbers.
type fixed struct {
	routers []Router
	links   []scenarios.LinkStats
}

func (f fixed) Routers() []Router            { return f.routers }
func (f fixed) Links() []scenarios.LinkStats { return f.links }

func source() fixed {
	var s routing.Stats
	s.Outcomes[routing.Forwarded] = 10
	s.Outcomes[routing.DropTTL] = 2
	s.Outcomes[routing.DropMalformed] = 1
	s.Received = 13
	s.Malformed[packet.BadChecksum] = 1
	s.Suppressed[responder.RateLimited] = 1
	s.Sent[ipv4.ICMPTypeTimeExceeded] = 2
	s.TimeExceeded = [2]uint64{1, 1} // one TTL, one reassembly
	s.Sent[ipv4.ICMPTypeDestinationUnreachable] = 3
	s.Unreachable[packet.CodePortUnreachable] = 2
	s.Unreachable[8] = 1                    // a code the router does not send: shown only when counted
	s.Sent[ipv4.ICMPTypeTimestampReply] = 4 // a type it does not send: its code is unknown
	return fixed{
		routers: []Router{{Name: "r1", Stats: s, Ifaces: []Iface{
			{Name: "eth0", Stats: routing.InterfaceStats{RxPackets: 13, RxBytes: 1300, TxPackets: 3, TxBytes: 300}},
			{Name: "eth1", Stats: routing.InterfaceStats{TxPackets: 10, TxBytes: 1000, TxErrors: 1}},
		}}},
		links: []scenarios.LinkStats{{
			A: scenarios.Endpoint{Node: "client"}, B: scenarios.Endpoint{Node: "r1", Iface: "eth0"}, Up: true,
			AB: wire.Stats{Sent: 16, Delivered: 13, DroppedLoss: 1, InFlight: 2, Bytes: 1300},
			BA: wire.Stats{Sent: 5, Delivered: 3, DroppedDown: 1, DroppedQueue: 1, Bytes: 300},
		}},
	}
}

func TestCollect(t *testing.T) {
	c := NewCollector(source())
	const want = `
# HELP icmpgw_icmp_sent_total ICMP messages a router sent, by ICMP type and code (errors and Echo Replies).
# TYPE icmpgw_icmp_sent_total counter
icmpgw_icmp_sent_total{code="",router="r1",type="14"} 4
icmpgw_icmp_sent_total{code="0",router="r1",type="destination-unreachable"} 0
icmpgw_icmp_sent_total{code="1",router="r1",type="destination-unreachable"} 0
icmpgw_icmp_sent_total{code="2",router="r1",type="destination-unreachable"} 0
icmpgw_icmp_sent_total{code="3",router="r1",type="destination-unreachable"} 2
icmpgw_icmp_sent_total{code="4",router="r1",type="destination-unreachable"} 0
icmpgw_icmp_sent_total{code="8",router="r1",type="destination-unreachable"} 1
icmpgw_icmp_sent_total{code="13",router="r1",type="destination-unreachable"} 0
icmpgw_icmp_sent_total{code="0",router="r1",type="echo-reply"} 0
icmpgw_icmp_sent_total{code="1",router="r1",type="redirect"} 0
icmpgw_icmp_sent_total{code="0",router="r1",type="parameter-problem"} 0
icmpgw_icmp_sent_total{code="0",router="r1",type="time-exceeded"} 1
icmpgw_icmp_sent_total{code="1",router="r1",type="time-exceeded"} 1
# HELP icmpgw_packets_received_total Datagrams a router received on all its interfaces: the sum of icmpgw_packets_total over outcomes.
# TYPE icmpgw_packets_received_total counter
icmpgw_packets_received_total{router="r1"} 13
# HELP icmpgw_malformed_total Datagrams a router dropped because they failed IPv4 header validation (RFC 1812 §5.2.2), by the first problem found.
# TYPE icmpgw_malformed_total counter
icmpgw_malformed_total{reason="bad-checksum",router="r1"} 1
icmpgw_malformed_total{reason="bad-header-length",router="r1"} 0
icmpgw_malformed_total{reason="bad-options",router="r1"} 0
icmpgw_malformed_total{reason="bad-total-length",router="r1"} 0
icmpgw_malformed_total{reason="bad-version",router="r1"} 0
icmpgw_malformed_total{reason="too-short",router="r1"} 0
# HELP icmpgw_interface_packets_total Datagrams that crossed a router interface, received (rx) or sent (tx).
# TYPE icmpgw_interface_packets_total counter
icmpgw_interface_packets_total{direction="rx",iface="eth0",router="r1"} 13
icmpgw_interface_packets_total{direction="tx",iface="eth0",router="r1"} 3
icmpgw_interface_packets_total{direction="rx",iface="eth1",router="r1"} 0
icmpgw_interface_packets_total{direction="tx",iface="eth1",router="r1"} 10
# HELP icmpgw_interface_bytes_total Bytes of IP datagrams that crossed a router interface, received (rx) or sent (tx).
# TYPE icmpgw_interface_bytes_total counter
icmpgw_interface_bytes_total{direction="rx",iface="eth0",router="r1"} 1300
icmpgw_interface_bytes_total{direction="tx",iface="eth0",router="r1"} 300
icmpgw_interface_bytes_total{direction="rx",iface="eth1",router="r1"} 0
icmpgw_interface_bytes_total{direction="tx",iface="eth1",router="r1"} 1000
# HELP icmpgw_interface_write_errors_total Datagrams a router failed to write to an interface's device.
# TYPE icmpgw_interface_write_errors_total counter
icmpgw_interface_write_errors_total{iface="eth0",router="r1"} 0
icmpgw_interface_write_errors_total{iface="eth1",router="r1"} 1
# HELP icmpgw_link_packets_total Datagrams sent across a link one way (direction a-to-b or b-to-a, a being the first end in the link label), by result: delivered, or dropped because the link was down, by random loss, or because the delay queue was full.
# TYPE icmpgw_link_packets_total counter
icmpgw_link_packets_total{direction="a-to-b",link="client--r1:eth0",result="delivered"} 13
icmpgw_link_packets_total{direction="a-to-b",link="client--r1:eth0",result="dropped_down"} 0
icmpgw_link_packets_total{direction="a-to-b",link="client--r1:eth0",result="dropped_loss"} 1
icmpgw_link_packets_total{direction="a-to-b",link="client--r1:eth0",result="dropped_queue"} 0
icmpgw_link_packets_total{direction="b-to-a",link="client--r1:eth0",result="delivered"} 3
icmpgw_link_packets_total{direction="b-to-a",link="client--r1:eth0",result="dropped_down"} 1
icmpgw_link_packets_total{direction="b-to-a",link="client--r1:eth0",result="dropped_loss"} 0
icmpgw_link_packets_total{direction="b-to-a",link="client--r1:eth0",result="dropped_queue"} 1
# HELP icmpgw_link_bytes_total Bytes of the datagrams a link delivered one way (direction a-to-b or b-to-a).
# TYPE icmpgw_link_bytes_total counter
icmpgw_link_bytes_total{direction="a-to-b",link="client--r1:eth0"} 1300
icmpgw_link_bytes_total{direction="b-to-a",link="client--r1:eth0"} 300
# HELP icmpgw_link_up Whether a link is up (1) or down (0).
# TYPE icmpgw_link_up gauge
icmpgw_link_up{link="client--r1:eth0"} 1
# HELP icmpgw_link_in_flight Datagrams a link holds one way (its delay), sent but neither delivered nor dropped yet.
# TYPE icmpgw_link_in_flight gauge
icmpgw_link_in_flight{direction="a-to-b",link="client--r1:eth0"} 2
icmpgw_link_in_flight{direction="b-to-a",link="client--r1:eth0"} 0
`
	names := []string{"icmpgw_icmp_sent_total", "icmpgw_packets_received_total", "icmpgw_malformed_total",
		"icmpgw_interface_packets_total", "icmpgw_interface_bytes_total", "icmpgw_interface_write_errors_total",
		"icmpgw_link_packets_total", "icmpgw_link_bytes_total", "icmpgw_link_up", "icmpgw_link_in_flight"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// Every outcome and every suppress reason, at 0 or not, but not the
	// zero values Valid and Send, which are no drop and no suppression.
	if got, want := testutil.CollectAndCount(c, "icmpgw_packets_total"), int(routing.NumOutcomes); got != want {
		t.Errorf("icmpgw_packets_total: %d series, want %d", got, want)
	}
	if got, want := testutil.CollectAndCount(c, "icmpgw_icmp_suppressed_total"), int(responder.NumSuppress)-1; got != want {
		t.Errorf("icmpgw_icmp_suppressed_total: %d series, want %d", got, want)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestHandler scrapes the handler, as Prometheus would.
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler(source()))
	defer srv.Close()
	body := scrape(t, srv.URL)
	for _, want := range []string{
		`icmpgw_packets_total{outcome="forwarded",router="r1"} 10`,
		`icmpgw_packets_total{outcome="ttl-exceeded",router="r1"} 2`,
		`icmpgw_icmp_suppressed_total{reason="rate-limited",router="r1"} 1`,
		`icmpgw_icmp_sent_total{code="0",router="r1",type="time-exceeded"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "go_goroutines") || strings.Contains(body, "process_") {
		t.Errorf("scrape has the default registry's collectors:\n%s", body)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}

func TestServeLoopbackOnly(t *testing.T) {
	for _, addr := range []string{":9750", "0.0.0.0:9750", "[::]:9750", "198.51.100.1:9750", "example.com:9750", "127.0.0.1"} {
		_, err := Serve(t.Context(), addr, nil)
		if err == nil || (strings.Contains(addr, ":") && !strings.Contains(err.Error(), "listen on loopback only: got")) {
			t.Errorf("Serve(%q) = %v, want the loopback-only error", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "127.0.0.2:0"} {
		if err := checkLoopback(addr); err != nil {
			t.Errorf("checkLoopback(%q) = %v, want nil", addr, err)
		}
	}
}

// TestServeTopology builds the default lab, draws one Time Exceeded from
// r1 and sees it in a scrape. It needs root.
func TestServeTopology(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root, and CI=true")
		}
		t.Skip("needs root to build namespaces")
	}
	sc, err := scenarios.Load("default")
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("icmpgw-tm%d-", os.Getpid())
	top, err := scenarios.Build(sc, scenarios.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := top.Close(); err != nil {
			t.Error(err)
		}
		if left, err := scenarios.Down(sc, prefix); err != nil || len(left) > 0 {
			t.Errorf("down %s: deleted %v, %v; want nothing left", prefix, left, err)
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addr, err := Serve(ctx, "127.0.0.1:0", top)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr + "/metrics"
	const series = `icmpgw_icmp_sent_total{code="0",router="r1",type="time-exceeded"} `
	if body := scrape(t, url); !strings.Contains(body, series+"0\n") {
		t.Fatalf("before the probe, want %s0:\n%s", series, body)
	}
	res, err := probe.UDP(top.Namespace("client"), netip.MustParseAddrPort("203.0.113.2:33434"), probe.UDPOptions{TTL: 1}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("probe: %v", res)
	body := scrape(t, url)
	if !strings.Contains(body, series+"1\n") {
		t.Errorf("after a TTL-1 probe, want %s1:\n%s", series, body)
	}
	for _, want := range []string{
		`icmpgw_packets_total{outcome="ttl-exceeded",router="r1"} 1`,
		`icmpgw_link_up{link="client--r1:eth0"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	cancel()
	c := &http.Client{Timeout: time.Second}
	for range 50 { // the server closes soon after ctx ends
		resp, err := c.Get(url)
		if err != nil {
			return
		}
		resp.Body.Close()
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("still serving a second after ctx ended")
}
