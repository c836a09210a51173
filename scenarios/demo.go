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
	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/scenarios/probe"
)

// DemoProbe is one probe `icmpgw demo` sends from the client namespace and
// the report it must draw from the client's kernel.
type DemoProbe struct {
	Name string
	Run  func(ns string) (probe.Result, error)
	Want probe.Result
	// Burst, if set, sends the probe Burst times in a row with the router's
	// rate limit on (RFC 1812 §4.3.2.8); WantAnswered of them must draw Want,
	// the rest nothing.
	Burst, WantAnswered int
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
			Want: probe.Result{ICMP: true, Type: 11, Code: 0, From: r1, Errno: syscall.EHOSTUNREACH}},
		{Name: "udp 203.0.113.2:33434 ttl 2", Run: udp("203.0.113.2:33434", probe.UDPOptions{TTL: 2}),
			Want: unreach(3, server, syscall.ECONNREFUSED)},
		{Name: "tcp 203.0.113.2:80", Run: tcp("203.0.113.2:80", wait), Want: probe.Result{Reply: true, From: server, Errno: syscall.ECONNREFUSED}},
		{Name: "udp 198.18.0.1:33434 (unreachable net)", Run: udp("198.18.0.1:33434", probe.UDPOptions{}),
			Want: unreach(0, r1, syscall.ENETUNREACH)},
		{Name: "tcp 198.18.0.1:80 (unreachable net)", Run: tcp("198.18.0.1:80", wait),
			Want: unreach(0, r1, syscall.ENETUNREACH)},
		{Name: "udp 198.18.0.65:33434 (unreachable host)", Run: udp("198.18.0.65:33434", probe.UDPOptions{}),
			Want: unreach(1, r1, syscall.EHOSTUNREACH)},
		{Name: "tcp 198.18.0.65:80 (unreachable host)", Run: tcp("198.18.0.65:80", wait),
			Want: unreach(1, r1, syscall.EHOSTUNREACH)},
		{Name: "udp 198.18.0.129:33434 (prohibit)", Run: udp("198.18.0.129:33434", probe.UDPOptions{}),
			Want: unreach(13, r1, syscall.EHOSTUNREACH)},
		{Name: "tcp 198.18.0.129:80 (prohibit)", Run: tcp("198.18.0.129:80", wait),
			Want: unreach(13, r1, syscall.EHOSTUNREACH)},
		{Name: "udp 198.18.0.193:33434 (blackhole)", Run: func(ns string) (probe.Result, error) {
			return probe.UDP(ns, addrPort("198.18.0.193:33434"), probe.UDPOptions{}, 500*time.Millisecond)
		}, Want: probe.Result{Timeout: true}},
		{Name: "tcp 198.18.0.193:80 (blackhole)", Run: tcp("198.18.0.193:80", 500*time.Millisecond), Want: probe.Result{Timeout: true}},
		{Name: "udp 198.51.100.1:33434 (router, no listener)", Run: udp("198.51.100.1:33434", probe.UDPOptions{}),
			Want: unreach(3, r1, syscall.ECONNREFUSED)},
		{Name: "ip proto 253 to 198.51.100.1", Run: func(ns string) (probe.Result, error) { return probe.Proto(ns, r1, 253, wait) },
			Want: unreach(2, r1, syscall.ENOPROTOOPT)},
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
		{Name: "10 x udp 203.0.113.2:33434 ttl 1 (rate limit)", Burst: 10, WantAnswered: 6,
			Run:  udpQuick("203.0.113.2:33434", probe.UDPOptions{TTL: 1}),
			Want: probe.Result{ICMP: true, Type: 11, Code: 0, From: r1, Errno: syscall.EHOSTUNREACH}},
		{Name: "10 x udp 198.18.0.1:33434 (route errors)", Burst: 10, WantAnswered: 2,
			Run:  udpQuick("198.18.0.1:33434", probe.UDPOptions{}),
			Want: unreach(0, r1, syscall.ENETUNREACH)},
	}
}

// udpQuick is a UDP probe with a short timeout, for bursts: each
// unanswered probe waits 200 ms, so ten stay within one refill interval.
func udpQuick(dst string, o probe.UDPOptions) func(string) (probe.Result, error) {
	return func(ns string) (probe.Result, error) {
		return probe.UDP(ns, addrPort(dst), o, 200*time.Millisecond)
	}
}

// RunDemo sends probes from namespace ns one by one and writes a table to
// w. Single probes run with the router's rate limit off, so that each draws
// its reaction at once; bursts run with policy's limit, fresh. It reports
// whether every probe drew its expected reaction, and leaves the router
// with policy.
func RunDemo(w io.Writer, ns string, probes []DemoProbe, router *routing.Router, policy responder.Policy) bool {
	unlimited := policy
	unlimited.NoRateLimit = true
	defer router.SetPolicy(policy)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "PROBE FROM %s\tCLIENT KERNEL REPORTED\tRESULT\n", ns)
	ok := true
	for _, p := range probes {
		if p.Burst > 0 {
			router.SetPolicy(policy)
			report, verdict := runBurst(ns, p)
			if verdict != "ok" {
				ok = false
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, report, verdict)
			continue
		}
		router.SetPolicy(unlimited)
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

// runBurst sends p.Burst probes in a row and counts those that drew p.Want.
func runBurst(ns string, p DemoProbe) (report, verdict string) {
	answered, silent := 0, 0
	for range p.Burst {
		got, err := p.Run(ns)
		switch {
		case err != nil:
			return err.Error(), "FAIL"
		case got == p.Want:
			answered++
		case got.Timeout:
			silent++
		default:
			return got.String(), "FAIL: want " + p.Want.String() + " or no answer"
		}
	}
	report = fmt.Sprintf("%d x %s, %d x no answer", answered, p.Want, silent)
	if answered != p.WantAnswered {
		return report, fmt.Sprintf("FAIL: want %d answered (Linux's limit)", p.WantAnswered)
	}
	return report, "ok"
}
