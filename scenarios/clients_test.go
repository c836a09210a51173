package scenarios_test

// Integration tests that drive real clients against `icmpgw up`: ping,
// traceroute (UDP, ICMP and TCP), tracepath, the kernel's own sockets
// (through scenarios/probe) and Wireshark's dissectors (tshark), all
// running inside the client namespace of the default lab:
//
//	PREFIXclient                        icmpgw up (child process)                 PREFIXserver
//	gw0 198.51.100.2/24 ── TUN ── eth0 198.51.100.1 | eth1 203.0.113.1 ── TUN ── gw0 203.0.113.2/24
//	MTU 1500                                                                      MTU 1400
//
//	router routes: unreachable net 198.18.0.0/26, unreachable host 198.18.0.64/26,
//	prohibit 198.18.0.128/26, blackhole 198.18.0.192/26,
//	198.18.1.0/24 via 198.51.100.254 (same link as the client: draws a Redirect)
//
// Two labs at most: TestClients runs one with --ratelimit off and every
// client check as a subtest, TestRateLimit one with the default limits.
// Each subtest flushes the client's route cache first, so cached path
// MTUs and redirects never leak from one subtest into the next.
//
// The tests need root and the tools; without them they skip, except when
// CI is "true", where they fail instead.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/icmpgw/icmpgw/scenarios/probe"
)

// icmpgwBin is the icmpgw binary TestMain builds.
var icmpgwBin string

// Lab addresses (scenarios.Default).
var (
	r1         = netip.MustParseAddr("198.51.100.1") // the router on the client's link
	r2         = netip.MustParseAddr("203.0.113.1")  // the router on the server's link
	server     = netip.MustParseAddr("203.0.113.2")
	redirectGW = netip.MustParseAddr("198.51.100.254")
)

// Timeouts. A client that hangs fails its subtest instead of the package.
const (
	readyTimeout = 20 * time.Second // icmpgw up prints "ready"
	stopTimeout  = 15 * time.Second // icmpgw up exits after SIGTERM
	toolTimeout  = 10 * time.Second // one client command
	pollEvery    = 20 * time.Millisecond
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		// Every test skips (or, with CI=true, fails) before it needs
		// the binary.
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "icmpgw-it-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "clients_test: make temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	icmpgwBin = filepath.Join(dir, "icmpgw")
	args := []string{"build", "-o", icmpgwBin}
	if raceEnabled() {
		// Under -race, race-check icmpgw too: a race makes it exit 66,
		// which the exit status check of every lab reports.
		args = append(args, "-race")
	}
	args = append(args, "github.com/icmpgw/icmpgw/cmd/icmpgw")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "clients_test: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	return m.Run()
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// unavailable skips t, or fails it when CI is "true": CI must run these.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true, so not skipping)", msg)
	}
	t.Skip(msg)
}

// needRoot skips t unless it runs as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "integration test needs root (network namespaces, TUN devices)")
	}
}

// needTools skips t unless every tool is on PATH.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable(t, "integration test needs %s: %v", tool, err)
		}
	}
}

// lines collects what a process writes, line by line; it is safe for
// concurrent use, so a test can poll it while the process writes.
type lines struct {
	mu      sync.Mutex
	done    []string
	partial []byte
}

// Write implements io.Writer.
func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := slices.Index(l.partial, '\n')
		if i < 0 {
			break
		}
		l.done = append(l.done, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// count returns how many complete lines satisfy match.
func (l *lines) count(match func(string) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.done {
		if match(s) {
			n++
		}
	}
	return n
}

// String returns everything written so far.
func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.done, "\n") + "\n" + string(l.partial)
}

// waitFor polls cond until it holds, stop is closed, or timeout passes,
// and reports whether cond held.
func waitFor(timeout time.Duration, stop <-chan struct{}, cond func() bool) bool {
	for range int(timeout/pollEvery) + 1 {
		if cond() {
			return true
		}
		select {
		case <-stop:
			return cond()
		case <-time.After(pollEvery):
		}
	}
	return cond()
}

// nsExists reports whether the named network namespace exists.
func nsExists(ns string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", ns))
	return err == nil
}

// lab is one running `icmpgw up`.
type lab struct {
	client, server string // namespace names
	cmd            *exec.Cmd
	stdout, stderr *lines
	exited         chan struct{} // closed when cmd has exited
	waitErr        error         // cmd.Wait's answer, once exited is closed
}

// startLab runs `icmpgw up --prefix icmpgw-it<pid>-<tag> ARGS` and waits
// for its "ready" line. Cleanup stops it with SIGTERM, checks that it
// exited with status 0 and removed its namespaces, and deletes them by
// name anyway.
func startLab(t *testing.T, tag string, args ...string) *lab {
	t.Helper()
	needRoot(t)
	needTools(t, "ip")
	prefix := fmt.Sprintf("icmpgw-it%d-%s", os.Getpid(), tag)
	l := &lab{
		client: prefix + "client", server: prefix + "server",
		stdout: new(lines), stderr: new(lines),
		exited: make(chan struct{}),
	}
	for _, ns := range []string{l.client, l.server} {
		if nsExists(ns) {
			t.Fatalf("namespace %s exists already; not touching it", ns)
		}
	}
	l.cmd = exec.Command(icmpgwBin, append([]string{"up", "--prefix", prefix}, args...)...)
	l.cmd.Stdout, l.cmd.Stderr = l.stdout, l.stderr
	// If this test binary dies without its cleanups (a test timeout
	// panic, ^C), icmpgw still gets SIGTERM and removes the lab.
	l.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	l.cmd.WaitDelay = 2 * time.Second
	if err := l.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", l.cmd, err)
	}
	go func() {
		l.waitErr = l.cmd.Wait()
		close(l.exited)
	}()
	t.Cleanup(func() { l.stop(t) })
	ready := func() bool { return l.stdout.count(func(s string) bool { return strings.Contains(s, "ready") }) > 0 }
	if !waitFor(readyTimeout, l.exited, ready) {
		select {
		case <-l.exited:
			t.Fatalf("%s exited before printing a ready line: %v", l.cmd, l.waitErr)
		default:
			t.Fatalf("%s printed no ready line within %v", l.cmd, readyTimeout)
		}
	}
	return l
}

// stop ends icmpgw up with SIGTERM and checks it left nothing behind.
func (l *lab) stop(t *testing.T) {
	select {
	case <-l.exited:
		t.Errorf("icmpgw up exited before the test stopped it: %v", l.waitErr)
	default:
		if err := l.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("send SIGTERM to icmpgw up: %v", err)
		}
		select {
		case <-l.exited:
			if l.waitErr != nil {
				t.Errorf("icmpgw up after SIGTERM: %v, want exit status 0", l.waitErr)
			}
		case <-time.After(stopTimeout):
			t.Errorf("icmpgw up did not exit within %v of SIGTERM; killing it", stopTimeout)
			l.cmd.Process.Kill()
			select {
			case <-l.exited:
			case <-time.After(5 * time.Second):
				t.Errorf("icmpgw up (pid %d) did not exit after SIGKILL", l.cmd.Process.Pid)
			}
		}
	}
	for _, ns := range []string{l.client, l.server} {
		if !nsExists(ns) {
			continue
		}
		t.Errorf("namespace %s still exists after icmpgw up exited; deleting it", ns)
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	}
	t.Logf("icmpgw up stdout:\n%s\nstderr:\n%s", l.stdout, l.stderr)
}

// run runs a command inside the client namespace with a timeout and
// returns its combined output. It fails t unless the exit status is
// wantExit.
func (l *lab) run(t *testing.T, wantExit int, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.client, name}, args...)...)
	cmd.WaitDelay = time.Second
	b, err := cmd.CombinedOutput()
	out := string(b)
	exit := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			t.Fatalf("%s: %v (timeout %v)\n%s", cmd, err, toolTimeout, out)
		}
		exit = ee.ExitCode()
	}
	if exit != wantExit {
		t.Fatalf("%s: exit status %d, want %d\n%s", cmd, exit, wantExit, out)
	}
	t.Logf("%s:\n%s", strings.Join(cmd.Args[3:], " "), out)
	return out
}

// flushCache forgets the client's cached path MTUs and redirects.
func (l *lab) flushCache(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("ip", "-n", l.client, "route", "flush", "cache").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s route flush cache: %v: %s", l.client, err, out)
	}
}

// routeVia returns what `ip -n CLIENT route get dst` says: the next hop
// after "via" ("" for none), and whether the route is a cached redirect.
func (l *lab) routeVia(t *testing.T, dst netip.Addr) (via string, redirected bool) {
	t.Helper()
	out, err := exec.Command("ip", "-n", l.client, "route", "get", dst.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s route get %s: %v: %s", l.client, dst, err, out)
	}
	t.Logf("ip route get %s:\n%s", dst, out)
	f := strings.Fields(string(out))
	if i := slices.Index(f, "via"); i >= 0 && i+1 < len(f) {
		via = f[i+1]
	}
	return via, slices.Contains(f, "<redirected>")
}

// pingStats is ping's summary line.
type pingStats struct {
	transmitted, received, errors int
	loss                          string // "0", "100"
}

var pingStatsRE = regexp.MustCompile(`(?m)^(\d+) packets transmitted, (\d+) received(?:, \+(\d+) errors)?, (\d+(?:\.\d+)?)% packet loss`)

func parsePingStats(t *testing.T, out string) pingStats {
	t.Helper()
	m := pingStatsRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no statistics line in ping output:\n%s", out)
	}
	var s pingStats
	s.transmitted, _ = strconv.Atoi(m[1])
	s.received, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		s.errors, _ = strconv.Atoi(m[3])
	}
	s.loss = m[4]
	return s
}

// pingFrom returns ping's "From ..." lines: the ICMP errors and redirects
// it reported, in order.
func pingFrom(out string) []string {
	var got []string
	for s := range strings.Lines(out) {
		if strings.HasPrefix(s, "From ") {
			got = append(got, strings.TrimRight(s, "\n"))
		}
	}
	return got
}

// hop is one line of `traceroute -n -q 1`.
type hop struct {
	n    int
	addr string // "*" for no answer
	note string // "!N", "!H", "!X", ...; "" for none
}

func (h hop) String() string { return strings.TrimSpace(fmt.Sprintf("%d %s %s", h.n, h.addr, h.note)) }

// parseTraceroute parses the hop lines of `traceroute -n -q 1`:
// " 1  198.51.100.1  0.083 ms !N" or " 2  *".
func parseTraceroute(t *testing.T, out string) []hop {
	t.Helper()
	var hops []hop
	for s := range strings.Lines(out) {
		f := strings.Fields(s)
		if len(f) == 0 || strings.HasPrefix(s, "traceroute to ") {
			continue
		}
		n, err := strconv.Atoi(f[0])
		bad := err != nil || len(f) < 2
		var h hop
		if !bad {
			h = hop{n: n, addr: f[1]}
			switch {
			case h.addr == "*":
				bad = len(f) != 2
			case len(f) < 4 || f[3] != "ms":
				bad = true
			case len(f) == 5 && strings.HasPrefix(f[4], "!"):
				h.note = f[4]
			default:
				bad = len(f) != 4
			}
		}
		if bad {
			t.Fatalf("unexpected traceroute line %q in:\n%s", s, out)
		}
		hops = append(hops, h)
	}
	return hops
}

func checkHops(t *testing.T, out string, want ...hop) {
	t.Helper()
	if got := parseTraceroute(t, out); !slices.Equal(got, want) {
		t.Errorf("traceroute hops: got %v, want %v", got, want)
	}
}

// TestClients checks what real clients see through `icmpgw up
// --ratelimit off`.
func TestClients(t *testing.T) {
	l := startLab(t, "", "--ratelimit", "off")

	t.Run("ping", func(t *testing.T) {
		needTools(t, "ping")
		l.flushCache(t)
		out := l.run(t, 0, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", server.String())
		if got, want := parsePingStats(t, out), (pingStats{3, 3, 0, "0"}); got != want {
			t.Errorf("ping statistics: got %+v, want %+v", got, want)
		}
		// The server's replies cross the router once: TTL 64 arrives as 63.
		replyRE := regexp.MustCompile(`(?m)^64 bytes from 203\.0\.113\.2: icmp_seq=(\d+) ttl=(\d+) time=`)
		var seqs []string
		for _, m := range replyRE.FindAllStringSubmatch(out, -1) {
			seqs = append(seqs, m[1])
			if m[2] != "63" {
				t.Errorf("reply icmp_seq=%s has ttl=%s, want 63 (decremented once by icmpgw)", m[1], m[2])
			}
		}
		if want := []string{"1", "2", "3"}; !slices.Equal(seqs, want) {
			t.Errorf("echo replies: got icmp_seq %v, want %v", seqs, want)
		}
		if from := pingFrom(out); len(from) != 0 {
			t.Errorf("ping reported errors %q, want none", from)
		}
	})

	t.Run("ping-ttl-1", func(t *testing.T) {
		needTools(t, "ping")
		l.flushCache(t)
		out := l.run(t, 1, "ping", "-n", "-c", "1", "-t", "1", "-W", "2", server.String())
		want := []string{"From 198.51.100.1 icmp_seq=1 Time to live exceeded"}
		if got := pingFrom(out); !slices.Equal(got, want) {
			t.Errorf("ping errors: got %q, want %q", got, want)
		}
		if got, want := parsePingStats(t, out), (pingStats{1, 0, 1, "100"}); got != want {
			t.Errorf("ping statistics: got %+v, want %+v", got, want)
		}
	})

	// ping -R and -T print the addresses the routers recorded; the
	// expected lists are what they print through a Linux router
	// (scripts/kernel-lab.sh), hop by hop: client, r1 out, server in,
	// server out, r1 out, client in.
	for _, tt := range []struct {
		name  string
		flags []string
		dst   string
		want  []string
	}{
		{"ping-record-route", []string{"-R"}, server.String(),
			[]string{"198.51.100.2", "203.0.113.1", "203.0.113.2", "203.0.113.2", "198.51.100.1", "198.51.100.2"}},
		{"ping-record-route-to-router", []string{"-R"}, "198.51.100.1",
			[]string{"198.51.100.2", "198.51.100.1", "198.51.100.1", "198.51.100.2"}},
		{"ping-timestamp-addresses", []string{"-T", "tsandaddr"}, server.String(),
			[]string{"198.51.100.2", "198.51.100.1", "203.0.113.2", "203.0.113.2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			needTools(t, "ping")
			l.flushCache(t)
			out := l.run(t, 0, "ping", append(tt.flags, "-n", "-c", "1", "-W", "2", tt.dst)...)
			addrRE := regexp.MustCompile(`(?m)^(?:RR: |TS: )?\t(\d+\.\d+\.\d+\.\d+)`)
			var got []string
			for _, m := range addrRE.FindAllStringSubmatch(out, -1) {
				got = append(got, m[1])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("recorded addresses %q, want %q; ping printed:\n%s", got, tt.want, out)
			}
		})
	}

	for _, mode := range []struct{ name, flag string }{
		{"udp", ""},
		{"icmp", "-I"},
		{"tcp", "-T"}, // SYN to port 80; the server's kernel answers RST
	} {
		t.Run("traceroute-"+mode.name, func(t *testing.T) {
			needTools(t, "traceroute")
			l.flushCache(t)
			args := []string{"-n", "-q", "1", "-w", "2", "-m", "5"}
			if mode.flag != "" {
				args = append(args, mode.flag)
			}
			out := l.run(t, 0, "traceroute", append(args, server.String())...)
			checkHops(t, out, hop{n: 1, addr: r1.String()}, hop{n: 2, addr: server.String()})
		})
	}

	for _, tt := range []struct {
		name, dst string
		want      []hop
	}{
		{"net", "198.18.0.1", []hop{{1, r1.String(), "!N"}}},
		{"host", "198.18.0.65", []hop{{1, r1.String(), "!H"}}},
		{"prohibit", "198.18.0.129", []hop{{1, r1.String(), "!X"}}},
	} {
		t.Run("traceroute-unreachable-"+tt.name, func(t *testing.T) {
			needTools(t, "traceroute")
			l.flushCache(t)
			out := l.run(t, 0, "traceroute", "-n", "-q", "1", "-w", "2", "-m", "5", tt.dst)
			checkHops(t, out, tt.want...)
		})
	}

	t.Run("traceroute-blackhole", func(t *testing.T) {
		needTools(t, "traceroute")
		l.flushCache(t)
		out := l.run(t, 0, "traceroute", "-n", "-q", "1", "-w", "1", "-m", "2", "198.18.0.193")
		checkHops(t, out, hop{n: 1, addr: "*"}, hop{n: 2, addr: "*"})
	})

	t.Run("tracepath-pmtu", func(t *testing.T) {
		needTools(t, "tracepath")
		l.flushCache(t)
		out := l.run(t, 0, "tracepath", "-n", "-m", "5", server.String())
		// With an empty cache tracepath starts at the client's MTU,
		// learns 1400 from icmpgw's Fragmentation Needed, and reaches
		// the server two hops away both ways:
		//
		//	 1?: [LOCALHOST]                      pmtu 1500
		//	 1:  198.51.100.1                                          0.200ms
		//	 2:  198.51.100.1                                          0.044ms pmtu 1400
		//	 2:  203.0.113.2                                           0.243ms reached
		//	     Resume: pmtu 1400 hops 2 back 2
		for _, re := range []string{
			`(?m)^\s*1\?: \[LOCALHOST\]\s+pmtu 1500\s*$`,
			`(?m)^\s*\d+:\s+198\.51\.100\.1\s+[\d.]+ms pmtu 1400\s*$`,
			`(?m)^\s*2:\s+203\.0\.113\.2\s+[\d.]+ms reached\s*$`,
			`(?m)^\s*Resume: pmtu 1400 hops 2 back 2\s*$`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("tracepath output has no line matching %s", re)
			}
		}
	})

	t.Run("ping-frag-needed", func(t *testing.T) {
		needTools(t, "ping")
		l.flushCache(t)
		out := l.run(t, 1, "ping", "-n", "-c", "1", "-M", "do", "-s", "1450", "-W", "2", server.String())
		want := []string{"From 198.51.100.1 icmp_seq=1 Frag needed and DF set (mtu = 1400)"}
		if got := pingFrom(out); !slices.Equal(got, want) {
			t.Errorf("ping errors: got %q, want %q", got, want)
		}
		if got, want := parsePingStats(t, out), (pingStats{1, 0, 1, "100"}); got != want {
			t.Errorf("ping statistics: got %+v, want %+v", got, want)
		}
	})

	t.Run("redirect", func(t *testing.T) {
		needTools(t, "ping")
		l.flushCache(t)
		dst := netip.MustParseAddr("198.18.1.1")
		if via, redirected := l.routeVia(t, dst); via != r1.String() || redirected {
			t.Fatalf("before the redirect: route to %s via %q (redirected %v), want via %s", dst, via, redirected, r1)
		}
		// No reply comes (198.51.100.254 does not exist), and a
		// redirect is not an error to ping: 0 received, no errors.
		out := l.run(t, 1, "ping", "-n", "-c", "1", "-W", "1", dst.String())
		want := []string{"From 198.51.100.1: icmp_seq=1 Redirect Host(New nexthop: 198.51.100.254)"}
		if got := pingFrom(out); !slices.Equal(got, want) {
			t.Errorf("ping redirects: got %q, want %q", got, want)
		}
		if got, want := parsePingStats(t, out), (pingStats{1, 0, 0, "100"}); got != want {
			t.Errorf("ping statistics: got %+v, want %+v", got, want)
		}
		if via, redirected := l.routeVia(t, dst); via != redirectGW.String() || !redirected {
			t.Errorf("after the redirect: route to %s via %q (redirected %v), want via %s (redirected true)", dst, via, redirected, redirectGW)
		}
	})

	t.Run("kernel-sockets", func(t *testing.T) {
		// Each probe must end on the kernel's report of icmpgw's error
		// within 1 s: the report is prompt, not a time-out (a Timeout
		// result fails the comparison). No wall-clock assertion needed.
		const timeout = time.Second
		unreach := func(code uint8, errno syscall.Errno) probe.Result {
			return probe.Result{ICMP: true, Type: 3, Code: code, From: r1, Errno: errno}
		}
		udp := func(dst string, o probe.UDPOptions) func() (probe.Result, error) {
			return func() (probe.Result, error) {
				return probe.UDP(l.client, netip.MustParseAddrPort(dst), o, timeout)
			}
		}
		tcp := func(dst string) func() (probe.Result, error) {
			return func() (probe.Result, error) { return probe.TCP(l.client, netip.MustParseAddrPort(dst), timeout) }
		}
		df := probe.UDPOptions{Size: 1450, DontFragment: true}
		l.flushCache(t)
		for _, tt := range []struct {
			name string
			run  func() (probe.Result, error)
			want probe.Result
		}{
			{"udp-net-unreachable", udp("198.18.0.1:33434", probe.UDPOptions{}), unreach(0, syscall.ENETUNREACH)},
			{"tcp-net-unreachable", tcp("198.18.0.1:80"), unreach(0, syscall.ENETUNREACH)},
			{"udp-host-unreachable", udp("198.18.0.65:33434", probe.UDPOptions{}), unreach(1, syscall.EHOSTUNREACH)},
			{"tcp-host-unreachable", tcp("198.18.0.65:80"), unreach(1, syscall.EHOSTUNREACH)},
			{"udp-prohibited", udp("198.18.0.129:33434", probe.UDPOptions{}), unreach(13, syscall.EHOSTUNREACH)},
			{"udp-router-port-unreachable", udp("198.51.100.1:33434", probe.UDPOptions{}), unreach(3, syscall.ECONNREFUSED)},
			{"udp-df-1450-frag-needed", udp("203.0.113.2:33434", df),
				probe.Result{ICMP: true, Type: 3, Code: 4, From: r1, Errno: syscall.EMSGSIZE, Info: 1400}},
			// The client's kernel cached the path MTU icmpgw reported,
			// and now refuses the datagram itself.
			{"udp-df-1450-cached-pmtu", udp("203.0.113.2:33434", df), probe.Result{Errno: syscall.EMSGSIZE, Info: 1400}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				got, err := tt.run()
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("got %v (%+v), want %v (%+v)", got, got, tt.want, tt.want)
				}
			})
		}
	})

	t.Run("wireshark", func(t *testing.T) { testWireshark(t, l) })
}

// capture is tshark capturing on the client's gw0 into a file, and
// printing one line per packet as it goes ("ip.src\ticmp.type\ticmp.code",
// outer headers only) so that the test can tell what it has seen.
type capture struct {
	file           string
	cmd            *exec.Cmd
	stdout, stderr *lines
	exited         chan struct{}
	waitErr        error
}

// seen counts the packets tshark has printed from src with ICMP type typ.
func (c *capture) seen(src netip.Addr, typ int) int {
	prefix := fmt.Sprintf("%s\t%d\t", src, typ)
	return c.stdout.count(func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func (l *lab) startCapture(t *testing.T, file string) *capture {
	t.Helper()
	c := &capture{file: file, stdout: new(lines), stderr: new(lines), exited: make(chan struct{})}
	c.cmd = exec.Command("ip", "netns", "exec", l.client,
		"tshark", "-n", "-i", "gw0", "-w", file, "-l", "-P",
		"-T", "fields", "-E", "occurrence=f", "-e", "ip.src", "-e", "icmp.type", "-e", "icmp.code")
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	c.cmd.WaitDelay = 2 * time.Second
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", c.cmd, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
			return
		default:
		}
		c.cmd.Process.Kill()
		select {
		case <-c.exited:
		case <-time.After(5 * time.Second):
			t.Errorf("tshark (pid %d) did not exit after SIGKILL", c.cmd.Process.Pid)
		}
	})
	// "Capturing on" comes before tshark starts dumpcap, so it only
	// says tshark got going; what proves the capture runs is a packet
	// in it. Ping the server until tshark shows a reply (bounded).
	capturing := func() bool {
		return c.stderr.count(func(s string) bool { return strings.HasPrefix(s, "Capturing on") }) > 0
	}
	if !waitFor(10*time.Second, c.exited, capturing) {
		t.Fatalf("tshark did not start capturing: %v\n%s", c.waitErr, c.stderr)
	}
	for range 20 {
		if _, err := probe.Echo(l.client, server, 0, time.Second); err != nil {
			t.Fatal(err)
		}
		if waitFor(time.Second, c.exited, func() bool { return c.seen(server, 0) > 0 }) {
			return c
		}
	}
	t.Fatalf("tshark showed no echo reply from %s after 20 pings\n%s", server, c.stderr)
	return nil
}

// stop waits until tshark has shown one more echo reply from the server
// than it had, so that every packet before it is in the file, then stops
// tshark with SIGINT.
func (c *capture) stop(t *testing.T, l *lab) {
	t.Helper()
	before := c.seen(server, 0)
	if _, err := probe.Echo(l.client, server, 0, time.Second); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, c.exited, func() bool { return c.seen(server, 0) > before }) {
		t.Errorf("tshark did not show the closing echo reply from %s", server)
	}
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("send SIGINT to tshark: %v", err)
	}
	select {
	case <-c.exited:
		if c.waitErr != nil {
			t.Fatalf("tshark: %v\n%s", c.waitErr, c.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("tshark did not exit within 10s of SIGINT")
	}
}

// tsharkRead runs `tshark -r FILE` with IP and ICMP checksum validation
// on, and returns its output.
func tsharkRead(t *testing.T, file string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tshark", append([]string{"-n", "-r", file, "-o", "ip.check_checksum:TRUE"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, stderr.String())
	}
	return string(out)
}

// testWireshark captures on the client's link while probes draw every
// kind of message icmpgw sends, and checks Wireshark's reading of each
// one from the router: good checksums, nothing malformed, and exactly the
// messages the probes drew.
func testWireshark(t *testing.T, l *lab) {
	needTools(t, "tshark")
	l.flushCache(t)
	file := filepath.Join(t.TempDir(), "gw0.pcapng")
	c := l.startCapture(t, file)

	const wait = 2 * time.Second
	unreach := func(code uint8, errno syscall.Errno) probe.Result {
		return probe.Result{ICMP: true, Type: 3, Code: code, From: r1, Errno: errno}
	}
	udp := func(dst string, o probe.UDPOptions, timeout time.Duration) func() (probe.Result, error) {
		return func() (probe.Result, error) {
			return probe.UDP(l.client, netip.MustParseAddrPort(dst), o, timeout)
		}
	}
	type key struct {
		src       netip.Addr
		typ, code int
	}
	probes := []struct {
		name string
		run  func() (probe.Result, error)
		want probe.Result
		msg  key // what icmpgw sends the client; zero for nothing
	}{
		{"echo ttl 1", func() (probe.Result, error) { return probe.Echo(l.client, server, 1, wait) },
			probe.Result{ICMP: true, Type: 11, Code: 0, From: r1, Errno: syscall.EHOSTUNREACH}, key{r1, 11, 0}},
		{"udp unreachable net", udp("198.18.0.1:33434", probe.UDPOptions{}, wait), unreach(0, syscall.ENETUNREACH), key{r1, 3, 0}},
		{"udp unreachable host", udp("198.18.0.65:33434", probe.UDPOptions{}, wait), unreach(1, syscall.EHOSTUNREACH), key{r1, 3, 1}},
		{"proto 253 to the router", func() (probe.Result, error) { return probe.Proto(l.client, r1, 253, wait) },
			unreach(2, syscall.ENOPROTOOPT), key{r1, 3, 2}},
		{"udp to the router", udp("198.51.100.1:33434", probe.UDPOptions{}, wait), unreach(3, syscall.ECONNREFUSED), key{r1, 3, 3}},
		{"udp DF 1450", udp("203.0.113.2:33434", probe.UDPOptions{Size: 1450, DontFragment: true}, wait),
			probe.Result{ICMP: true, Type: 3, Code: 4, From: r1, Errno: syscall.EMSGSIZE, Info: 1400}, key{r1, 3, 4}},
		{"udp prohibited", udp("198.18.0.129:33434", probe.UDPOptions{}, wait), unreach(13, syscall.EHOSTUNREACH), key{r1, 3, 13}},
		{"udp blackhole", udp("198.18.0.193:33434", probe.UDPOptions{}, 300*time.Millisecond), probe.Result{Timeout: true}, key{}},
		{"echo 198.18.1.2 (redirect)", func() (probe.Result, error) { return probe.Redirect(l.client, netip.MustParseAddr("198.18.1.2"), wait) },
			probe.Result{ICMP: true, Type: 5, Code: 1, From: r1, Gateway: redirectGW}, key{r1, 5, 1}},
		{"echo 198.51.100.1", func() (probe.Result, error) { return probe.Echo(l.client, r1, 0, wait) },
			probe.Result{Reply: true, ICMP: true, Type: 0, From: r1}, key{r1, 0, 0}},
		{"echo 203.0.113.1", func() (probe.Result, error) { return probe.Echo(l.client, r2, 0, wait) },
			probe.Result{Reply: true, ICMP: true, Type: 0, From: r2}, key{r2, 0, 0}},
	}
	want := map[key]int{}
	for _, p := range probes {
		got, err := p.run()
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		if got != p.want {
			t.Errorf("%s: client's kernel reported %v (%+v), want %v (%+v)", p.name, got, got, p.want, p.want)
		}
		if p.msg != (key{}) {
			want[p.msg]++
		}
	}
	c.stop(t, l)

	// Nothing malformed, no error-level expert info, in any packet.
	if out := tsharkRead(t, file, "-Y", "_ws.malformed || _ws.expert.severity >= 8388608",
		"-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"); strings.TrimSpace(out) != "" {
		t.Errorf("tshark found malformed packets or error-level expert info (frame, messages):\n%s\nall packets:\n%s", out, tsharkRead(t, file))
	}

	// Every ICMP message from the router: outer headers only.
	out := tsharkRead(t, file, "-Y", "icmp", "-T", "fields", "-E", "occurrence=f",
		"-e", "frame.number", "-e", "ip.src", "-e", "icmp.type", "-e", "icmp.code",
		"-e", "icmp.checksum.status", "-e", "ip.checksum.status", "-e", "icmp.mtu", "-e", "icmp.redir_gw")
	t.Logf("tshark: ICMP (frame, source, type, code, ICMP and IP checksum status, MTU, gateway):\n%s", out)
	got := map[key]int{}
	for s := range strings.Lines(out) {
		f := strings.Split(strings.TrimRight(s, "\n"), "\t")
		if len(f) != 8 {
			t.Fatalf("tshark line %q: got %d fields, want 8", s, len(f))
		}
		src, err := netip.ParseAddr(f[1])
		if err != nil {
			t.Fatalf("tshark line %q: ip.src: %v", s, err)
		}
		if src != r1 && src != r2 {
			continue
		}
		typ, err1 := strconv.Atoi(f[2])
		code, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("tshark line %q: bad ICMP type or code", s)
		}
		k := key{src, typ, code}
		got[k]++
		// Checksum status 1 is "Good" (0 bad, 2 unverified).
		if f[4] != "1" {
			t.Errorf("frame %s, ICMP %d/%d from %s: icmp.checksum.status %q, want 1 (good)", f[0], typ, code, src, f[4])
		}
		if f[5] != "1" {
			t.Errorf("frame %s, ICMP %d/%d from %s: ip.checksum.status %q, want 1 (good)", f[0], typ, code, src, f[5])
		}
		switch {
		case typ == 3 && code == 4 && f[6] != "1400":
			t.Errorf("frame %s: Fragmentation Needed with icmp.mtu %q, want 1400", f[0], f[6])
		case typ == 5 && f[7] != redirectGW.String():
			t.Errorf("frame %s: Redirect with icmp.redir_gw %q, want %s", f[0], f[7], redirectGW)
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("ICMP type %d code %d from %s: tshark counted %d, want %d", k.typ, k.code, k.src, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("ICMP type %d code %d from %s: tshark counted %d, want none", k.typ, k.code, k.src, n)
		}
	}
	if t.Failed() {
		t.Logf("tshark -r %s:\n%s", file, tsharkRead(t, file))
	}
}

// TestRateLimit checks icmpgw's default ICMP error rate limit, which is
// Linux's: a burst of 6 errors per destination, then 1 per second; and
// Fragmentation Needed is never limited.
func TestRateLimit(t *testing.T) {
	needTools(t, "ping")
	l := startLab(t, "rl-")

	// The subtests run in order: the second needs the burst spent.
	t.Run("time-exceeded-burst", func(t *testing.T) {
		l.flushCache(t)
		// 10 requests in about 100 ms: the burst answers the first 6.
		out := l.run(t, 1, "ping", "-n", "-c", "10", "-i", "0.01", "-t", "1", "-W", "1", server.String())
		var want []string
		for seq := 1; seq <= 6; seq++ {
			want = append(want, fmt.Sprintf("From 198.51.100.1 icmp_seq=%d Time to live exceeded", seq))
		}
		if got := pingFrom(out); !slices.Equal(got, want) {
			t.Errorf("ping errors: got %q, want %q", got, want)
		}
		if got, want := parsePingStats(t, out), (pingStats{10, 0, 6, "100"}); got != want {
			t.Errorf("ping statistics: got %+v, want %+v", got, want)
		}
	})

	// The burst is spent, yet every Fragmentation Needed still comes.
	// One `ping -c 3 -M do` cannot show this: after the first answer the
	// client's kernel caches the path MTU and refuses the next two
	// itself ("local error: message too long, mtu=1400"), so each ping
	// starts from an empty cache.
	t.Run("frag-needed-unlimited", func(t *testing.T) {
		for i := range 3 {
			l.flushCache(t)
			out := l.run(t, 1, "ping", "-n", "-c", "1", "-M", "do", "-s", "1450", "-W", "1", server.String())
			want := []string{"From 198.51.100.1 icmp_seq=1 Frag needed and DF set (mtu = 1400)"}
			if got := pingFrom(out); !slices.Equal(got, want) {
				t.Errorf("DF ping %d of 3 after the burst: got %q, want %q", i+1, got, want)
			}
		}
	})
}
