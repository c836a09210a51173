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
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/scenarios"
	"github.com/icmpgw/icmpgw/tun/packet"
)

const usage = `icmpgw is a userspace IPv4 router on TUN devices for network labs. It
forwards between Linux network namespaces, decrements TTL, and sends the ICMP a
real router sends: Time Exceeded, Destination Unreachable (net, host, protocol,
port, fragmentation needed, prohibited), Redirect, and Echo Replies.

Usage:
  icmpgw up [flags]      build the default lab and forward until Ctrl-C
  icmpgw demo [flags]    build the default lab, probe it from the client, tear it down
  icmpgw down [flags]    remove a lab left behind by a killed icmpgw
  icmpgw help            this text

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
Run "icmpgw COMMAND -h" for a command's flags.
`

func main() {
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
	case "help", "-h", "-help", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "icmpgw: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "icmpgw %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

// labFlags are the flags of every command that builds the default lab.
type labFlags struct {
	prefix    string
	rateLimit string
	burst     int
	quote     int
	noRedir   string
	verbose   bool
}

func newFlagSet(name, summary string, lf *labFlags, withPolicy bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: icmpgw %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	fs.StringVar(&lf.prefix, "prefix", "icmpgw-", "prefix of the lab's namespace names (`PREFIX`client, PREFIXserver);\ntwo labs with different prefixes run side by side")
	if withPolicy {
		fs.StringVar(&lf.rateLimit, "ratelimit", "1s", "ICMP error rate limit per destination: the `interval` one error costs once\nthe burst is spent (Linux's net.ipv4.icmp_ratelimit), or \"off\".\nFragmentation Needed and Echo Replies are never limited")
		fs.IntVar(&lf.burst, "burst", responder.DefaultBurst, "errors a destination may draw at once before the limit applies")
		fs.IntVar(&lf.quote, "quote", 0, "bytes of the offending datagram an error quotes at most; 0 fills a\n576-byte error (RFC 1812 §4.3.2.3); the least is the IP header + 8 bytes")
		fs.StringVar(&lf.noRedir, "no-redirects", "", "router `interfaces` (comma-separated: eth0 faces the client, eth1 the server)\non which no Redirects are sent; Redirects are on by default (RFC 1812 §5.2.7.2)")
		fs.BoolVar(&lf.verbose, "v", false, "log debugging detail to stderr")
	}
	return fs
}

func (lf *labFlags) policy() (responder.Policy, error) {
	var p responder.Policy
	if lf.rateLimit == "off" || lf.rateLimit == "0" {
		p.NoRateLimit = true
	} else {
		d, err := time.ParseDuration(lf.rateLimit)
		if err != nil || d <= 0 {
			return p, fmt.Errorf("--ratelimit: got %q, want a duration such as 1s or 250ms, or off", lf.rateLimit)
		}
		p.RateInterval = d
	}
	if lf.burst < 1 {
		return p, fmt.Errorf("--burst: got %d, want 1 or more", lf.burst)
	}
	p.RateBurst = lf.burst
	if lf.quote < 0 || lf.quote > responder.MaxErrorLen {
		return p, fmt.Errorf("--quote: got %d, want 0 to %d", lf.quote, responder.MaxErrorLen)
	}
	p.Quote = lf.quote
	return p, nil
}

func (lf *labFlags) applyNoRedirects(lab *scenarios.Lab) error {
	if lf.noRedir == "" {
		return nil
	}
	var names []string
	for _, h := range lab.Hosts {
		names = append(names, h.RouterIface)
	}
	for _, name := range strings.Split(lf.noRedir, ",") {
		i := slices.Index(names, name)
		if i < 0 {
			return fmt.Errorf("--no-redirects: no router interface %q; the lab's are %s", name, strings.Join(names, ", "))
		}
		lab.Hosts[i].RouterNoRedirects = true
	}
	return nil
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
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
		return errors.New("needs root to create network namespaces and TUN devices; run it with sudo")
	}
	return nil
}

// start builds the default lab and returns it with a context that ends on
// SIGINT or SIGTERM.
func start(lf *labFlags) (*scenarios.Running, scenarios.Lab, context.Context, context.CancelFunc, error) {
	policy, err := lf.policy()
	if err != nil {
		return nil, scenarios.Lab{}, nil, nil, err
	}
	if err := needRoot(); err != nil {
		return nil, scenarios.Lab{}, nil, nil, err
	}
	lab := scenarios.Default()
	lab.Policy = policy
	if err := lf.applyNoRedirects(&lab); err != nil {
		return nil, lab, nil, nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	run, err := scenarios.Up(lab, lf.prefix, logger(lf.verbose))
	if err != nil {
		stop()
		return nil, lab, nil, nil, err
	}
	return run, lab, ctx, stop, nil
}

func up(args []string) error {
	var lf labFlags
	fs := newFlagSet("up", "Builds the default lab and forwards until SIGINT or SIGTERM, then deletes\nexactly the namespaces and devices it created. Prints a line with \"ready\"\nonce clients can use the lab.", &lf, true)
	if err := parse(fs, args); err != nil {
		return err
	}
	run, _, ctx, stop, err := start(&lf)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("icmpgw: lab ready: namespaces %s; Ctrl-C tears it down\n", strings.Join(run.Namespaces, ", "))
	err = run.Wait(ctx)
	printStats(os.Stderr, run.Router.Stats())
	if err != nil {
		return fmt.Errorf("tear-down: %w", err)
	}
	fmt.Fprintln(os.Stderr, "icmpgw: lab removed")
	return nil
}

type demoFailed struct{}

func (demoFailed) Error() string { return "some probes did not draw the expected reaction" }

func demo(args []string) error {
	var lf labFlags
	fs := newFlagSet("demo", "Builds the default lab, sends probes from inside the client namespace with the\nkernel's own sockets, prints what the client's kernel reported for each, and\ntears the lab down. Exits 0 only if every probe drew the expected reaction.", &lf, true)
	if err := parse(fs, args); err != nil {
		return err
	}
	run, lab, ctx, stop, err := start(&lf)
	if err != nil {
		return err
	}
	defer stop()
	done := make(chan bool, 1)
	go func() {
		done <- scenarios.RunDemo(os.Stdout, scenarios.Namespace(lf.prefix, "client"), scenarios.DemoProbes(), run.Router, lab.Policy)
	}()
	var ok bool
	select {
	case ok = <-done:
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "icmpgw: interrupted")
	}
	fmt.Println()
	printStats(os.Stdout, run.Router.Stats())
	if err := run.Close(); err != nil {
		return fmt.Errorf("tear-down: %w", err)
	}
	if !ok {
		return demoFailed{}
	}
	fmt.Println("\nall probes drew the expected reaction; lab removed")
	return nil
}

func down(args []string) error {
	var lf labFlags
	fs := newFlagSet("down", "Deletes the namespaces of a default lab left behind by an icmpgw that was\nkilled (its TUN devices went with the process). Deletes only PREFIXclient and\nPREFIXserver.", &lf, false)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := needRoot(); err != nil {
		return err
	}
	deleted, err := scenarios.Down(scenarios.Default(), lf.prefix)
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
	if s.WriteErrors > 0 {
		fmt.Fprintf(tw, "write errors\t%d\n", s.WriteErrors)
	}
	tw.Flush()
}
