// Command icmpgw is a userspace IPv4 router on TUN devices for network
// labs. See README.md, or run "icmpgw help".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/scenarios"
	"github.com/icmpgw/icmpgw/scenarios/control"
	"github.com/icmpgw/icmpgw/scenarios/metrics"
	"github.com/icmpgw/icmpgw/tun/packet"
)

const usage = `icmpgw is a userspace IPv4 router on TUN devices for network labs. It
forwards between Linux network namespaces, decrements TTL, and sends the ICMP a
real router sends: Time Exceeded, Destination Unreachable (net, host, protocol,
port, fragmentation needed, prohibited), Redirect, and Echo Replies.

Usage:
  icmpgw up [flags]               build the default lab (or --scenario's) and forward until Ctrl-C
  icmpgw demo [flags]             build the default lab, probe it from the client, tear it down
  icmpgw down [flags]             remove a lab left behind by a killed icmpgw
  icmpgw scenario run FILE|NAME   play a scenario with real clients; exit 0 if every expectation holds
  icmpgw scenario check FILE...   validate scenario files (no root, touches nothing)
  icmpgw scenario list            the built-in scenarios
  icmpgw scenario show NAME       print a built-in scenario
  icmpgw ctl COMMAND              look at and change a running lab (icmpgw ctl -h)
  icmpgw help                     this text

The default lab (namespace names take --prefix, default "icmpgw-"):

  icmpgw-client                     icmpgw (this process)                   icmpgw-server
  gw0 198.51.100.2/24 ── TUN ── eth0 198.51.100.1 | eth1 203.0.113.1 ── TUN ── gw0 203.0.113.2/24
  MTU 1500                                                                     MTU 1400

  router routes: unreachable net 198.18.0.0/26, unreachable host 198.18.0.64/26,
  prohibit 198.18.0.128/26, blackhole 198.18.0.192/26,
  198.18.1.0/24 via 198.51.100.254 (same link as the client: draws a Redirect)

Try, while "icmpgw up" runs:
  ip netns exec icmpgw-client traceroute -n 203.0.113.2
  ip netns exec icmpgw-client ping -M do -s 1450 203.0.113.2

icmpgw needs root: it creates network namespaces and TUN devices. It changes
nothing outside the namespaces it creates, and deletes them when it stops.
Once its lab is up, "icmpgw up" keeps only CAP_SYS_ADMIN (icmpgw up -h).
Run "icmpgw COMMAND -h" for a command's flags.
`

func main() {
	// A reader of --events - that goes away must not kill icmpgw before
	// it tears its lab down: writes to the broken pipe fail instead.
	signal.Ignore(syscall.SIGPIPE)
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "up":
		err = up(args)
	case "demo":
		err = demo(args)
	case "down":
		err = down(args)
	case "scenario":
		err = scenarioCmd(args)
	case "ctl":
		err = ctl(args)
	case "help", "-h", "-help", "--help":
		if len(args) > 0 && args[0] != "help" { // "icmpgw help up" is "icmpgw up -h"
			os.Args = []string{os.Args[0], args[0], "-h"}
			main()
			return
		}
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "icmpgw: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	var usageErr flagError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return
	case errors.As(err, &usageErr):
		os.Exit(2) // the flag package has said what was wrong, and shown the usage
	case err != nil:
		fmt.Fprintf(os.Stderr, "icmpgw %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

// flagError is a command line the flag package rejected and explained.
type flagError struct{ error }

// labFlags are the flags of the commands that build a lab.
type labFlags struct {
	prefix    string
	scenario  string
	seed      uint64
	rateLimit string
	burst     int
	quote     int
	noRedir   string
	events    string
	pcap      string
	snaplen   int
	metrics   string
	noOffload bool
	verbose   bool
	// alwaysEvents keeps an event log even without --events.
	alwaysEvents bool
	eventLog     *scenarios.EventLog
	eventFile    *os.File
	set          map[string]bool // flags given on the command line
}

func newFlagSet(name, summary string, lf *labFlags, withPolicy bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: icmpgw %s\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	fs.StringVar(&lf.prefix, "prefix", "icmpgw-", "prefix of the lab's namespace names (`PREFIX`client, PREFIXserver, ...);\ntwo labs with different prefixes run side by side")
	if withPolicy {
		fs.StringVar(&lf.events, "events", "", "write every ICMP message the routers send or suppress (and why), every timeline\nevent and link change, as JSON lines to `FILE` (- for standard output)")
		fs.StringVar(&lf.metrics, "metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics while the lab runs, e.g.\n"+metrics.DefaultAddr+"; loopback addresses only; empty: off")
		fs.StringVar(&lf.pcap, "pcap", "", "record every datagram each router interface receives and sends to\n`DIR`/ROUTER-IFACE.pcapng (raw IPv4; read with tshark -r or Wireshark)")
		fs.IntVar(&lf.snaplen, "pcap-snaplen", 0, "with --pcap, keep only the first `BYTES` of each datagram (128 keeps the\nheaders and most of an ICMP error's quote); 0 keeps them whole")
		fs.Uint64Var(&lf.seed, "seed", 0, "seed of the links' random impairments (loss, jitter); 0 takes the scenario's")
		fs.StringVar(&lf.rateLimit, "ratelimit", "1s", "ICMP error rate limit per destination: the `interval` one error costs once\nthe burst is spent (Linux's net.ipv4.icmp_ratelimit), or \"off\".\nFragmentation Needed and Echo Replies are never limited.\nWith a scenario, applies to every router only when given")
		fs.IntVar(&lf.burst, "burst", responder.DefaultBurst, "errors a destination may draw at once before the limit applies (1 to 1000000)")
		fs.IntVar(&lf.quote, "quote", 0, "bytes of the offending datagram an error quotes at most; 0 fills a\n576-byte error (RFC 1812 §4.3.2.3); otherwise 28 (the IP header + 8 bytes,\nRFC 792) to 576")
		fs.StringVar(&lf.noRedir, "no-redirects", "", "router `interfaces` on which no Redirects are sent, comma-separated, as\nROUTER:IFACE or, for the default lab's r1, IFACE (eth0 faces the client);\nRedirects are on by default (RFC 1812 §5.2.7.2)")
		fs.BoolVar(&lf.noOffload, "no-offload", false, "open the hosts' TUN devices without the kernel's offloads: one datagram per\nsystem call each way, no GSO/GRO (slower; for comparison and debugging)")
		fs.BoolVar(&lf.verbose, "v", false, "log debugging detail to stderr")
	}
	return fs
}

// apply puts the policy flags that were given into every router of sc.
func (lf *labFlags) apply(sc *scenarios.Scenario) error {
	for _, rs := range sc.Routers {
		p := &rs.ICMP
		if lf.set["ratelimit"] {
			if lf.rateLimit == "off" {
				p.NoRateLimit = true
			} else {
				d, err := time.ParseDuration(lf.rateLimit)
				if err != nil || d <= 0 {
					return fmt.Errorf("--ratelimit: got %q, want a duration above 0 such as 1s or 250ms, or off", lf.rateLimit)
				}
				p.NoRateLimit, p.RateInterval = false, d
			}
		}
		if lf.set["burst"] {
			// The scenario format's bounds, so that a flag and a file agree.
			if lf.burst < 1 || lf.burst > 1_000_000 {
				return fmt.Errorf("--burst: got %d, want 1 to 1000000", lf.burst)
			}
			p.RateBurst = lf.burst
		}
		if lf.set["quote"] {
			// RFC 792: the header and 8 bytes at least, 28 without options.
			if lf.quote != 0 && (lf.quote < 28 || lf.quote > responder.MaxErrorLen) {
				return fmt.Errorf("--quote: got %d, want 0 (fill a %d-byte error) or 28 (the IP header + 8 bytes) to %d", lf.quote, responder.MaxErrorLen, responder.MaxErrorLen)
			}
			p.Quote = lf.quote
		}
	}
	if lf.noRedir == "" {
		return nil
	}
	var names []string
	ifaces := map[string]*scenarios.IfaceSpec{}
	for _, rs := range sc.Routers {
		for i := range rs.Ifaces {
			name := rs.Name + ":" + rs.Ifaces[i].Name
			names = append(names, name)
			ifaces[name] = &rs.Ifaces[i]
		}
	}
	for _, name := range strings.Split(lf.noRedir, ",") {
		if !strings.Contains(name, ":") && len(sc.Routers) == 1 {
			name = sc.Routers[0].Name + ":" + name
		}
		is, ok := ifaces[name]
		if !ok {
			return fmt.Errorf("--no-redirects: no router interface %q; the lab has %s", name, strings.Join(names, ", "))
		}
		is.NoRedirects = true
	}
	return nil
}

func parse(fs *flag.FlagSet, args []string, lf *labFlags) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return flagError{err}
	}
	if err := scenarios.CheckPrefix(lf.prefix); err != nil {
		return fmt.Errorf("--prefix: %w", err)
	}
	lf.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { lf.set[f.Name] = true })
	return nil
}

func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see 'icmpgw %s -h')", fs.Arg(0), fs.Name())
	}
	return nil
}

func logger(verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func needRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root to create and delete network namespaces and TUN devices; run it with sudo")
	}
	return nil
}

// openEvents opens the event log --events names, if any.
func (lf *labFlags) openEvents() (*scenarios.EventLog, error) {
	switch lf.events {
	case "":
		if lf.alwaysEvents {
			lf.eventLog = scenarios.NewEventLog(io.Discard)
		}
		return lf.eventLog, nil
	case "-":
		lf.eventLog = scenarios.NewEventLog(os.Stdout)
	default:
		f, err := os.Create(lf.events)
		if err != nil {
			return nil, fmt.Errorf("--events: %w", err)
		}
		lf.eventFile, lf.eventLog = f, scenarios.NewEventLog(f)
	}
	return lf.eventLog, nil
}

// closeEvents flushes and closes the event log, saying if records were
// dropped.
// humanOut is where messages for people go: standard output, unless the
// event log's JSON lines go there (--events -), so that a pipe reads only
// JSON.
func (lf *labFlags) humanOut() io.Writer {
	if lf.events == "-" {
		return os.Stderr
	}
	return os.Stdout
}

func (lf *labFlags) closeEvents() {
	if dropped := lf.eventLog.Close(); dropped > 0 {
		fmt.Fprintf(os.Stderr, "icmpgw: --events: %d records dropped (the writer could not keep up)\n", dropped)
	}
	if lf.eventFile != nil {
		lf.eventFile.Close()
	}
}

// load returns the scenario named by --scenario, or the default lab.
func (lf *labFlags) load() (*scenarios.Scenario, error) {
	sc := scenarios.Default()
	if lf.scenario != "" {
		var err error
		if sc, err = scenarios.Load(lf.scenario); err != nil {
			return nil, err
		}
	}
	return sc, lf.apply(sc)
}

// serveMetrics serves t's metrics at --metrics, if given, until ctx ends.
func (lf *labFlags) serveMetrics(ctx context.Context, t *scenarios.Topology) error {
	if lf.metrics == "" {
		return nil
	}
	addr, err := metrics.Serve(ctx, lf.metrics, t)
	if err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	fmt.Fprintf(lf.humanOut(), "metrics on http://%s/metrics\n", addr)
	return nil
}

// build brings sc up and returns it with a context that ends on SIGINT or
// SIGTERM.
func build(sc *scenarios.Scenario, lf *labFlags) (*scenarios.Topology, context.Context, context.CancelFunc, error) {
	switch {
	case lf.snaplen < 0:
		return nil, nil, nil, fmt.Errorf("--pcap-snaplen: got %d, want 0 (whole datagrams) or a byte count", lf.snaplen)
	case lf.snaplen > 0 && lf.pcap == "":
		return nil, nil, nil, errors.New("--pcap-snaplen: needs --pcap DIR")
	}
	if err := needRoot(); err != nil {
		return nil, nil, nil, err
	}
	seed := lf.seed
	if seed == 0 {
		seed = sc.Seed
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	events, err := lf.openEvents()
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	t, err := scenarios.Build(sc, scenarios.Options{Prefix: lf.prefix, Seed: seed, Log: logger(lf.verbose), Events: events, Pcap: lf.pcap, PcapSnaplen: lf.snaplen, PlainTUN: lf.noOffload})
	if err == nil {
		if err = lf.serveMetrics(ctx, t); err != nil {
			t.Close()
		}
	}
	if err != nil {
		lf.closeEvents()
		stop()
		return nil, nil, nil, err
	}
	return t, ctx, stop, nil
}

func up(args []string) error {
	var lf labFlags
	fs := newFlagSet("up [flags]", "Builds the default lab, or a scenario's topology (--scenario), and forwards\nuntil SIGINT or SIGTERM, then deletes exactly the namespaces and devices it\ncreated. Prints a line with \"ready\" once clients can use the lab. A\nscenario's timeline and steps are not run: explore by hand.\n\nOnce the lab is up, before \"ready\", it drops every capability but\nCAP_SYS_ADMIN, which tear-down needs to unmount /run/netns/NAME, and sets\nno_new_privs: forwarding and changes through 'icmpgw ctl' need none.\n'icmpgw scenario run' and 'icmpgw demo' keep full privileges: their steps\nrun commands and probes as root inside the namespaces.", &lf, true)
	fs.StringVar(&lf.scenario, "scenario", "", "a scenario `FILE` or built-in NAME whose topology to build (see 'icmpgw scenario list')")
	if err := parse(fs, args, &lf); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	sc, err := lf.load()
	if err != nil {
		return err
	}
	lf.alwaysEvents = true // the control API streams them
	// up checks no expectations, so nothing need record what hosts hear:
	// a flood of errors would otherwise fill that record (up to 8 MiB).
	sc.Watches = nil
	t, ctx, stop, err := build(sc, &lf)
	if err != nil {
		return err
	}
	defer stop()
	sock := control.SocketPath(lf.prefix)
	ln, err := control.Listen(sock)
	if err != nil {
		t.Close()
		lf.closeEvents()
		return err
	}
	defer os.Remove(sock)
	go control.Serve(ctx, ln, t, lf.eventLog)
	kept, err := dropCaps(keptCaps)
	if err != nil {
		t.Close()
		lf.closeEvents()
		return err
	}
	log := logger(lf.verbose)
	log.Debug("capabilities dropped", "kept", capNames(kept.Prm), "bounding", capNames(kept.Bnd), "no_new_privs", kept.NoNewPrivs)
	if kept.Bnd != kept.Prm {
		log.Warn("bounding set left as it was: icmpgw lacks cap_setpcap (harmless: with no_new_privs set, nothing it might run can gain from it)")
	}
	fmt.Fprintf(lf.humanOut(), "icmpgw: lab ready: namespaces %s; control socket %s; Ctrl-C tears it down\n", strings.Join(t.Namespaces, ", "), sock)
	select {
	case <-ctx.Done():
	case <-t.Gone():
		fmt.Fprintln(os.Stderr, "icmpgw: every host namespace of the lab is gone (deleted, or its device lost, while the lab ran); nothing left to forward for, removing the rest")
	}
	err = t.Close()
	lf.closeEvents()
	for _, rs := range sc.Routers {
		fmt.Fprintf(os.Stderr, "router %s\n", rs.Name)
		printStats(os.Stderr, t.Routers[rs.Name].Stats())
	}
	if err != nil {
		return fmt.Errorf("tear-down: %w", err)
	}
	fmt.Fprintln(os.Stderr, "icmpgw: lab removed")
	return nil
}

func demo(args []string) error {
	var lf labFlags
	var junit string
	fs := newFlagSet("demo [flags]", "Plays the built-in scenario \"default\" (icmpgw scenario show default): builds\nthe default lab, sends a probe for every reaction icmpgw can draw from inside\nthe client namespace with the kernel's own sockets, prints what the client's\nkernel reported for each, and tears the lab down. Exits 0 only if every probe\ndrew the expected reaction. The same as 'icmpgw scenario run default'.", &lf, false)
	fs.Uint64Var(&lf.seed, "seed", 0, "seed of the links' random impairments; 0 takes the scenario's")
	fs.StringVar(&junit, "junit", "", "also write the results as JUnit XML to `FILE`")
	fs.StringVar(&lf.events, "events", "", "write every ICMP message the routers send or suppress (and why), every timeline\nevent and link change, as JSON lines to `FILE` (- for standard output)")
	fs.StringVar(&lf.metrics, "metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics while the lab runs, e.g.\n"+metrics.DefaultAddr+"; loopback addresses only; empty: off")
	fs.StringVar(&lf.pcap, "pcap", "", "record every datagram each router interface receives and sends to\n`DIR`/ROUTER-IFACE.pcapng (raw IPv4; read with tshark -r or Wireshark)")
	fs.BoolVar(&lf.verbose, "v", false, "log debugging detail to stderr")
	if err := parse(fs, args, &lf); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	lf.scenario = "default"
	return play(&lf, junit)
}

func down(args []string) error {
	var lf labFlags
	fs := newFlagSet("down [flags]", "Deletes the namespaces of a lab left behind by an icmpgw that was killed (its\nTUN devices went with the process): those the lab listed in its state file,\n"+scenarios.LockDir+"/PREFIXstate, written before it created each one. Then\nremoves the state file and the lab's control socket. Deletes nothing else:\nwithout a state file it deletes nothing, and names any namespace that is\ncalled like a host of the default lab (or of --scenario) but that no icmpgw\nrecorded creating.", &lf, false)
	fs.StringVar(&lf.scenario, "scenario", "", "the scenario `FILE` or built-in NAME the lab was built from (only to name,\nwithout a state file, the namespaces left alone)")
	if err := parse(fs, args, &lf); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := needRoot(); err != nil {
		return err
	}
	sc, err := lf.load()
	if err != nil {
		return err
	}
	deleted, err := scenarios.Down(sc, lf.prefix, control.SocketPath(lf.prefix))
	for _, ns := range deleted {
		fmt.Println("deleted namespace", ns)
	}
	if err == nil && len(deleted) == 0 {
		fmt.Println("nothing to delete")
	}
	return err
}

// printStats prints the router's counters that are not zero.
func printStats(w io.Writer, s routing.Stats) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ROUTER COUNTERS\t\n")
	fmt.Fprintf(tw, "received\t%d\n", s.Received)
	for i, n := range s.Outcomes {
		if n > 0 {
			fmt.Fprintf(tw, "  %s\t%d\n", routing.Outcome(i), n)
		}
	}
	for i, n := range s.Malformed {
		if n > 0 {
			fmt.Fprintf(tw, "    malformed: %s\t%d\n", packet.Problem(i), n)
		}
	}
	for i, n := range s.Sent {
		if n == 0 {
			continue
		}
		fmt.Fprintf(tw, "icmp sent: %s\t%d\n", ipv4.ICMPType(i), n)
		if ipv4.ICMPType(i) == ipv4.ICMPTypeDestinationUnreachable {
			for code, n := range s.Unreachable {
				if n > 0 {
					fmt.Fprintf(tw, "  code %d (%s)\t%d\n", code, routing.CodeName(packet.Code(code)), n)
				}
			}
		}
	}
	for i, n := range s.Suppressed {
		if n > 0 {
			fmt.Fprintf(tw, "icmp suppressed: %s\t%d\n", responder.Suppress(i), n)
		}
	}
	if s.DelayedHeld+s.DelayedLost > 0 {
		// Printed once the lab is down: what is still held is lost too.
		fmt.Fprintf(tw, "icmp delayed by the policy, never sent\t%d\n", s.DelayedHeld+s.DelayedLost)
	}
	if s.WriteErrors > 0 {
		fmt.Fprintf(tw, "write errors\t%d\n", s.WriteErrors)
	}
	tw.Flush()
}
