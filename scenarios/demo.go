package scenarios

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/scenarios/probe"
)

// DemoProbe is one probe `icmpgw demo` sends from the client namespace and
// the report it must draw from the client's kernel.
type DemoProbe struct {
	Name string
	Run  func(ns string) (probe.Result, error)
	Want probe.Result
	// Limited says the probe draws a rate-limited error from icmpgw, so
	// the demo paces it (RFC 1812 §4.3.2.8).
	Limited bool
	// Then, if set, checks the client's state after the probe.
	Then func(ns string) error
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func addrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// DemoProbes are the default lab's probes, one for each reaction icmpgw
// can draw.
func DemoProbes() []DemoProbe {
	const wait = 2 * time.Second
	r1, server := addr("198.51.100.1"), addr("203.0.113.2")
	unreach := func(code uint8, from netip.Addr, errno syscall.Errno) probe.Result {
		return probe.Result{ICMP: true, Type: 3, Code: code, From: from, Errno: errno}
	}
	udp := func(dst string, o probe.UDPOptions) func(string) (probe.Result, error) {
		return func(ns string) (probe.Result, error) { return probe.UDP(ns, addrPort(dst), o, wait) }
	}
	tcp := func(dst string, timeout time.Duration) func(string) (probe.Result, error) {
		return func(ns string) (probe.Result, error) { return probe.TCP(ns, addrPort(dst), timeout) }
	}
	echo := func(dst netip.Addr, ttl int) func(string) (probe.Result, error) {
		return func(ns string) (probe.Result, error) { return probe.Echo(ns, dst, ttl, wait) }
	}
	return []DemoProbe{
		{Name: "echo 203.0.113.2 (forwarded both ways)", Run: echo(server, 64), Want: probe.Result{Reply: true, ICMP: true, From: server}},
		{Name: "echo 203.0.113.1 (router's far address)", Run: echo(addr("203.0.113.1"), 64), Want: probe.Result{Reply: true, ICMP: true, From: addr("203.0.113.1")}},
		{Name: "udp 203.0.113.2:33434 ttl 1", Run: udp("203.0.113.2:33434", probe.UDPOptions{TTL: 1}),
			Want: probe.Result{ICMP: true, Type: 11, Code: 0, From: r1, Errno: syscall.EHOSTUNREACH}, Limited: true},
		{Name: "udp 203.0.113.2:33434 ttl 2", Run: udp("203.0.113.2:33434", probe.UDPOptions{TTL: 2}),
			Want: unreach(3, server, syscall.ECONNREFUSED)},
		{Name: "tcp 203.0.113.2:80", Run: tcp("203.0.113.2:80", wait), Want: probe.Result{Reply: true, From: server, Errno: syscall.ECONNREFUSED}},
		{Name: "udp 198.18.0.1:33434 (unreachable net)", Run: udp("198.18.0.1:33434", probe.UDPOptions{}),
			Want: unreach(0, r1, syscall.ENETUNREACH), Limited: true},
		{Name: "tcp 198.18.0.1:80 (unreachable net)", Run: tcp("198.18.0.1:80", wait),
			Want: unreach(0, r1, syscall.ENETUNREACH), Limited: true},
		{Name: "udp 198.18.0.65:33434 (unreachable host)", Run: udp("198.18.0.65:33434", probe.UDPOptions{}),
			Want: unreach(1, r1, syscall.EHOSTUNREACH), Limited: true},
		{Name: "tcp 198.18.0.65:80 (unreachable host)", Run: tcp("198.18.0.65:80", wait),
			Want: unreach(1, r1, syscall.EHOSTUNREACH), Limited: true},
		{Name: "udp 198.18.0.129:33434 (prohibit)", Run: udp("198.18.0.129:33434", probe.UDPOptions{}),
			Want: unreach(13, r1, syscall.EHOSTUNREACH), Limited: true},
		{Name: "tcp 198.18.0.129:80 (prohibit)", Run: tcp("198.18.0.129:80", wait),
			Want: unreach(13, r1, syscall.EHOSTUNREACH), Limited: true},
		{Name: "udp 198.18.0.193:33434 (blackhole)", Run: func(ns string) (probe.Result, error) {
			return probe.UDP(ns, addrPort("198.18.0.193:33434"), probe.UDPOptions{}, 500*time.Millisecond)
		}, Want: probe.Result{Timeout: true}},
		{Name: "tcp 198.18.0.193:80 (blackhole)", Run: tcp("198.18.0.193:80", 500*time.Millisecond), Want: probe.Result{Timeout: true}},
		{Name: "udp 198.51.100.1:33434 (router, no listener)", Run: udp("198.51.100.1:33434", probe.UDPOptions{}),
			Want: unreach(3, r1, syscall.ECONNREFUSED), Limited: true},
		{Name: "ip proto 253 to 198.51.100.1", Run: func(ns string) (probe.Result, error) { return probe.Proto(ns, r1, 253, wait) },
			Want: unreach(2, r1, syscall.ENOPROTOOPT), Limited: true},
		{Name: "udp 203.0.113.2:33434 DF 1450 bytes", Run: udp("203.0.113.2:33434", probe.UDPOptions{Size: 1450, DontFragment: true}),
			Want: probe.Result{ICMP: true, Type: 3, Code: 4, From: r1, Errno: syscall.EMSGSIZE, Info: 1400}},
		{Name: "echo 198.18.1.1 (via 198.51.100.254, same link)", Run: func(ns string) (probe.Result, error) { return probe.Redirect(ns, addr("198.18.1.1"), wait) },
			Want: probe.Result{ICMP: true, Type: 5, Code: 1, From: r1, Gateway: addr("198.51.100.254")},
			Then: func(ns string) error {
				via, _, err := probe.RouteGet(ns, addr("198.18.1.1"))
				if err != nil {
					return err
				}
				if via != addr("198.51.100.254") {
					return fmt.Errorf("client route to 198.18.1.1 is via %v after the redirect, want 198.51.100.254", via)
				}
				return nil
			}},
	}
}

// RunDemo sends probes from namespace ns one by one, pacing those that draw
// rate-limited errors so that policy's limiter lets them through, and
// writes a table to w. It reports whether every probe drew its expected
// reaction.
func RunDemo(w io.Writer, ns string, probes []DemoProbe, policy responder.Policy) bool {
	interval, burst := policy.RateInterval, policy.RateBurst
	if interval == 0 {
		interval = responder.DefaultInterval
	}
	if burst == 0 {
		burst = responder.DefaultBurst
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "PROBE FROM %s\tCLIENT KERNEL REPORTED\tRESULT\n", ns)
	ok, limited := true, 0
	for _, p := range probes {
		if p.Limited && !policy.NoRateLimit {
			if limited >= burst {
				time.Sleep(interval + 20*time.Millisecond) // let the bucket refill by one
			}
			limited++
		}
		got, err := p.Run(ns)
		verdict := "ok"
		switch {
		case err != nil:
			verdict = "FAIL: " + err.Error()
		case got != p.Want:
			verdict = "FAIL: want " + p.Want.String()
		case p.Then != nil:
			if err := p.Then(ns); err != nil {
				verdict = "FAIL: " + err.Error()
			} else {
				verdict = "ok, route now via " + p.Want.Gateway.String()
			}
		}
		if strings.HasPrefix(verdict, "FAIL") {
			ok = false
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, got, verdict)
	}
	tw.Flush()
	return ok
}
