// Package metrics exports a running lab's counters in the Prometheus text
// format (icmpgw up --metrics, icmpgw scenario run --metrics).
//
// The collector reads the counters the routers and links keep anyway, at
// scrape time: nothing is added to the packet path. Series for every
// outcome, malformed reason, suppress reason and ICMP message a router
// sends exist from the first scrape, at 0, so that rate() works at once.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/scenarios"
	"github.com/icmpgw/icmpgw/tun/packet"
	"github.com/icmpgw/icmpgw/tun/wire"
)

// DefaultAddr is the address the documentation suggests for --metrics.
const DefaultAddr = "127.0.0.1:9750"

// Router is one router's counters at one moment.
type Router struct {
	Name   string
	Stats  routing.Stats
	Ifaces []Iface
}

// Iface is one router interface's counters at one moment.
type Iface struct {
	Name  string
	Stats routing.InterfaceStats
}

// Source gives the counters the collector exports. Each method is called
// once per scrape and must be safe for concurrent use with the lab.
type Source interface {
	Routers() []Router
	Links() []scenarios.LinkStats
}

// Topology is the Source of a running topology. It reads the counters
// when asked; it keeps nothing.
func Topology(t *scenarios.Topology) Source { return topologySource{t} }

type topologySource struct{ t *scenarios.Topology }

// Routers implements Source.
func (s topologySource) Routers() []Router {
	var rs []Router
	for name, r := range s.t.Routers {
		rt := Router{Name: name, Stats: r.Stats()}
		for _, ifc := range r.Ifaces {
			rt.Ifaces = append(rt.Ifaces, Iface{Name: ifc.Name, Stats: ifc.Stats()})
		}
		rs = append(rs, rt)
	}
	slices.SortFunc(rs, func(a, b Router) int { return strings.Compare(a.Name, b.Name) })
	return rs
}

// Links implements Source.
func (s topologySource) Links() []scenarios.LinkStats { return s.t.Links() }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	packetsDesc     = desc("icmpgw_packets_total", "Datagrams a router received, by what became of each (outcome: forwarded, answered, ttl-exceeded, ...). Every datagram ends in exactly one outcome.", "router", "outcome")
	receivedDesc    = desc("icmpgw_packets_received_total", "Datagrams a router received on all its interfaces: the sum of icmpgw_packets_total over outcomes.", "router")
	malformedDesc   = desc("icmpgw_malformed_total", "Datagrams a router dropped because they failed IPv4 header validation (RFC 1812 §5.2.2), by the first problem found.", "router", "reason")
	sentDesc        = desc("icmpgw_icmp_sent_total", "ICMP messages a router sent, by ICMP type and code (errors and Echo Replies).", "router", "type", "code")
	suppressedDesc  = desc("icmpgw_icmp_suppressed_total", "ICMP errors a router was due to send but did not, by the rule or policy that stopped it.", "router", "reason")
	ifPacketsDesc   = desc("icmpgw_interface_packets_total", "Datagrams that crossed a router interface, received (rx) or sent (tx).", "router", "iface", "direction")
	ifBytesDesc     = desc("icmpgw_interface_bytes_total", "Bytes of IP datagrams that crossed a router interface, received (rx) or sent (tx).", "router", "iface", "direction")
	ifErrorsDesc    = desc("icmpgw_interface_write_errors_total", "Datagrams a router failed to write to an interface's device.", "router", "iface")
	linkPacketsDesc = desc("icmpgw_link_packets_total", "Datagrams sent across a link one way (direction a-to-b or b-to-a, a being the first end in the link label), by result: delivered, or dropped because the link was down, by random loss, or because the delay queue was full.", "link", "direction", "result")
	linkBytesDesc   = desc("icmpgw_link_bytes_total", "Bytes of the datagrams a link delivered one way (direction a-to-b or b-to-a).", "link", "direction")
	linkUpDesc      = desc("icmpgw_link_up", "Whether a link is up (1) or down (0).", "link")
	linkHeldDesc    = desc("icmpgw_link_in_flight", "Datagrams a link holds one way (its delay), sent but neither delivered nor dropped yet.", "link", "direction")
)

// collector reads a Source at each scrape.
type collector struct{ src Source }

// NewCollector returns a collector of src's counters. It reads them only
// when scraped.
func NewCollector(src Source) prometheus.Collector { return collector{src} }

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{packetsDesc, receivedDesc, malformedDesc, sentDesc, suppressedDesc,
		ifPacketsDesc, ifBytesDesc, ifErrorsDesc, linkPacketsDesc, linkBytesDesc, linkUpDesc, linkHeldDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, r := range c.src.Routers() {
		s := &r.Stats
		counter(receivedDesc, s.Received, r.Name)
		for o := range routing.NumOutcomes {
			counter(packetsDesc, s.Outcomes[o], r.Name, o.String())
		}
		for p := packet.Valid + 1; p < packet.NumProblems; p++ {
			counter(malformedDesc, s.Malformed[p], r.Name, p.String())
		}
		for why := responder.Send + 1; why < responder.NumSuppress; why++ {
			counter(suppressedDesc, s.Suppressed[why], r.Name, why.String())
		}
		for typ, n := range s.Sent {
			t := icmpTypes[typ]
			switch {
			case typ == int(ipv4.ICMPTypeDestinationUnreachable):
				for code, n := range s.Unreachable {
					if n > 0 || slices.Contains(unreachableCodes, packet.Code(code)) {
						counter(sentDesc, n, r.Name, t.name, strconv.Itoa(code))
					}
				}
			case typ == int(ipv4.ICMPTypeTimeExceeded):
				for code, n := range s.TimeExceeded { // TTL, and reassembly
					counter(sentDesc, n, r.Name, t.name, strconv.Itoa(code))
				}
			case t.sent || n > 0:
				counter(sentDesc, n, r.Name, t.name, t.code)
			}
		}
		for _, ifc := range r.Ifaces {
			is := ifc.Stats
			counter(ifPacketsDesc, is.RxPackets, r.Name, ifc.Name, "rx")
			counter(ifPacketsDesc, is.TxPackets, r.Name, ifc.Name, "tx")
			counter(ifBytesDesc, is.RxBytes, r.Name, ifc.Name, "rx")
			counter(ifBytesDesc, is.TxBytes, r.Name, ifc.Name, "tx")
			counter(ifErrorsDesc, is.TxErrors, r.Name, ifc.Name)
		}
	}
	for _, l := range c.src.Links() {
		name := l.A.String() + "--" + l.B.String()
		up := 0.0
		if l.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(linkUpDesc, prometheus.GaugeValue, up, name)
		for _, d := range []struct {
			dir string
			s   *wire.Stats
		}{{"a-to-b", &l.AB}, {"b-to-a", &l.BA}} {
			counter(linkPacketsDesc, d.s.Delivered, name, d.dir, "delivered")
			counter(linkPacketsDesc, d.s.DroppedDown, name, d.dir, "dropped_down")
			counter(linkPacketsDesc, d.s.DroppedLoss, name, d.dir, "dropped_loss")
			counter(linkPacketsDesc, d.s.DroppedQueue, name, d.dir, "dropped_queue")
			counter(linkBytesDesc, d.s.Bytes, name, d.dir)
			ch <- prometheus.MustNewConstMetric(linkHeldDesc, prometheus.GaugeValue, float64(d.s.InFlight), name, d.dir)
		}
	}
}

// icmpType labels one ICMP type: its name (as scenario files spell it) and,
// for the types a router sends with one code only, that code. The
// counters keep codes for Destination Unreachable and Time Exceeded.
type icmpType struct {
	name string
	code string // "" where the counters do not know it
	sent bool   // a router sends it: exported even at 0
}

var icmpTypes = func() (t [256]icmpType) {
	for i := range t {
		t[i].name = strconv.Itoa(i)
	}
	t[ipv4.ICMPTypeEchoReply] = icmpType{"echo-reply", "0", true}
	t[ipv4.ICMPTypeDestinationUnreachable] = icmpType{"destination-unreachable", "", true}
	t[4] = icmpType{"source-quench", "0", false}                                                      // RFC 1812 §4.3.3.3: routers SHOULD NOT send it
	t[ipv4.ICMPTypeRedirect] = icmpType{"redirect", strconv.Itoa(int(packet.CodeRedirectHost)), true} // RFC 1812 §5.2.7.2: Host redirects only
	t[ipv4.ICMPTypeEcho] = icmpType{"echo-request", "0", false}
	t[ipv4.ICMPTypeTimeExceeded] = icmpType{"time-exceeded", "", true}          // codes counted apart
	t[ipv4.ICMPTypeParameterProblem] = icmpType{"parameter-problem", "0", true} // the pointer form only
	return t
}()

// unreachableCodes are the Destination Unreachable codes a router sends:
// exported even at 0.
var unreachableCodes = []packet.Code{
	packet.CodeNetUnreachable, packet.CodeHostUnreachable, packet.CodeProtocolUnreachable,
	packet.CodePortUnreachable, packet.CodeFragNeeded, packet.CodeAdminProhibited,
}

// Handler serves src's metrics in the Prometheus exposition formats, from
// a registry of its own (not prometheus.DefaultRegisterer).
func Handler(src Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Serve serves t's metrics at http://ADDR/metrics until ctx ends, and
// returns the address it listens on (addr with port 0 picks a free port).
// addr "" means DefaultAddr. It refuses any host but a loopback address
// or "localhost": the lab's counters are for the machine it runs on.
func Serve(ctx context.Context, addr string, t *scenarios.Topology) (actualAddr string, err error) {
	if addr == "" {
		addr = DefaultAddr
	}
	if err := checkLoopback(addr); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err // "listen tcp ADDR: ...": the caller names the flag
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(Topology(t)))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) // returns http.ErrServerClosed once ctx ends
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return ln.Addr().String(), nil
}

// checkLoopback accepts HOST:PORT whose host is a loopback address or
// "localhost", and nothing else: not an empty host, not 0.0.0.0.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("got %q, want HOST:PORT such as 127.0.0.1:9750: %w", addr, err)
	}
	if a, err := netip.ParseAddr(host); (err == nil && a.IsLoopback()) || strings.EqualFold(host, "localhost") {
		return nil
	}
	return errors.New("listen on loopback only: got " + strconv.Quote(addr) + ", want 127.0.0.1:PORT, [::1]:PORT or localhost:PORT")
}
