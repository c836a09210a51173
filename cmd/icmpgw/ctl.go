package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/icmpgw/icmpgw/scenarios"
	"github.com/icmpgw/icmpgw/scenarios/control"
)

const ctlUsage = `Usage: icmpgw ctl [--prefix P] [--json] COMMAND

Talks to a running "icmpgw up" through its control socket
(/run/icmpgw/PREFIXsock, root only). Changes are checked against the lab
before anything changes, and each is applied as one step.

Commands:
  routers                          routers, interfaces, counters
  routes ROUTER                    a router's routes
  links                            links: state and counters
  link END up|down                 bring a link up or down (END: r1:eth1, or a host)
  link END [delay D] [jitter D] [loss PCT]
                                   change a link's impairments
  route ROUTER add|replace ROUTE   e.g. route r1 add 198.19.0.0/16 via 203.0.113.2
  route ROUTER delete PREFIX
  policy ROUTER SETTINGS           e.g. policy r1 '{silent: true}' (the icmp: keys of a scenario)
  change EVENT                     any timeline event without "at", e.g. '{flap: {link: r1:eth1, period: 1s, count: 3}}'
  events [--follow]                the event log's last 256 records: changes, link events and,
                                   while the log is written or followed, every ICMP message
                                   sent or suppressed (and why); --follow: then every new one

A change states the whole of what it sets, as a scenario's timeline event
does: "link END loss 5" also sets delay and jitter to 0, and "policy R
SETTINGS" replaces the router's whole ICMP policy, keys left out taking
their defaults (a limiter turned off by "up --ratelimit off" comes back:
say ratelimit: off again). "route add" fails if the prefix has a route;
"replace" does not. A link state change stops a flap of that link.
`

func ctl(args []string) error {
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), ctlUsage, "\nFlags:\n"); fs.PrintDefaults() }
	prefix := fs.String("prefix", "icmpgw-", "the lab's namespace `PREFIX`, as given to icmpgw up")
	asJSON := fs.Bool("json", false, "print the API's JSON instead of tables")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return flagError{err}
	}
	if err := scenarios.CheckPrefix(*prefix); err != nil {
		return fmt.Errorf("--prefix: %w", err)
	}
	a := fs.Args()
	if len(a) == 0 {
		return ctlUsageError(fs, "missing command")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c := control.NewClient(control.SocketPath(*prefix))
	show := func(v any, table func()) error {
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		}
		table()
		return nil
	}
	change := func(ev string) error {
		applied, err := c.Change(ctx, ev)
		if err != nil {
			return err
		}
		fmt.Println("applied:", applied)
		return nil
	}
	switch cmd, rest := a[0], a[1:]; {
	case cmd == "routers" && len(rest) == 0:
		var rs []control.Router
		if err := c.Get(ctx, "/v1/routers", &rs); err != nil {
			return err
		}
		return show(rs, func() {
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ROUTER\tIFACE\tADDR\tMTU\tSTATE\tRX PKTS\tTX PKTS")
			for _, r := range rs {
				for _, i := range r.Ifaces {
					state := "up"
					if !i.Up {
						state = "down"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\n", r.Name, i.Name, i.Addr, i.MTU, state, i.Stats.RxPackets, i.Stats.TxPackets)
				}
			}
			tw.Flush()
		})
	case cmd == "routes" && len(rest) == 1:
		var rs []control.Route
		if err := c.Get(ctx, "/v1/routers/"+rest[0]+"/routes", &rs); err != nil {
			return err
		}
		return show(rs, func() {
			for _, r := range rs {
				fmt.Println(r.Route)
			}
		})
	case cmd == "links" && len(rest) == 0:
		var ls []control.Link
		if err := c.Get(ctx, "/v1/links", &ls); err != nil {
			return err
		}
		return show(ls, func() {
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "LINK\tSTATE\tA→B DELIVERED\tDROPPED\tIN FLIGHT\tB→A DELIVERED\tDROPPED\tIN FLIGHT")
			for _, l := range ls {
				state := "up"
				if !l.Up {
					state = "down"
				}
				fmt.Fprintf(tw, "%s -- %s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", l.A, l.B, state,
					l.AToB.Delivered, l.AToB.Dropped(), l.AToB.InFlight, l.BToA.Delivered, l.BToA.Dropped(), l.BToA.InFlight)
			}
			tw.Flush()
		})
	case cmd == "link" && len(rest) == 2 && (rest[1] == "up" || rest[1] == "down"):
		return change(fmt.Sprintf("{link: %s, state: %s}", quote(rest[0]), rest[1]))
	case cmd == "link" && len(rest) >= 3 && len(rest)%2 == 1:
		kv := []string{"link: " + quote(rest[0])}
		for i := 1; i < len(rest); i += 2 {
			switch rest[i] {
			case "delay", "jitter", "loss":
				kv = append(kv, rest[i]+": "+rest[i+1]) // a number or a duration, as in a scenario file
			default:
				return fmt.Errorf("link: got %q, want delay, jitter or loss", rest[i])
			}
		}
		return change("{" + strings.Join(kv, ", ") + "}")
	case cmd == "route" && len(rest) >= 3 && (rest[1] == "add" || rest[1] == "replace" || rest[1] == "delete"):
		return change(fmt.Sprintf("{router: %s, route: {%s: %s}}", quote(rest[0]), rest[1], quote(strings.Join(rest[2:], " "))))
	case cmd == "policy" && len(rest) == 2:
		return change(fmt.Sprintf("{router: %s, icmp: %s}", quote(rest[0]), rest[1]))
	case cmd == "change" && len(rest) == 1:
		return change(rest[0])
	case cmd == "events" && (len(rest) == 0 || len(rest) == 1 && (rest[0] == "--follow" || rest[0] == "-f")):
		return c.Events(ctx, len(rest) == 1, func(r scenarios.Record) {
			if *asJSON {
				json.NewEncoder(os.Stdout).Encode(r)
				return
			}
			fmt.Println(humanRecord(r))
		})
	}
	if syntax, ok := ctlSyntax[a[0]]; ok {
		msg := fmt.Sprintf("%s: got %q, want %s", a[0], strings.Join(a, " "), syntax)
		for _, arg := range a[1:] {
			if name := strings.TrimLeft(arg, "-"); strings.HasPrefix(arg, "-") && fs.Lookup(strings.SplitN(name, "=", 2)[0]) != nil {
				msg += fmt.Sprintf(" (%s is a flag of ctl: it goes before the command, as in icmpgw ctl %s %s)", arg, arg, a[0])
				break
			}
		}
		return ctlUsageError(fs, msg)
	}
	return ctlUsageError(fs, fmt.Sprintf("unknown command %q; the commands are routers, routes, links, link, route, policy, change and events", a[0]))
}

// ctlSyntax is how each command is written, for errors.
var ctlSyntax = map[string]string{
	"routers": "routers",
	"routes":  "routes ROUTER",
	"links":   "links",
	"link":    "link END up|down, or link END [delay D] [jitter D] [loss PCT]",
	"route":   "route ROUTER add|replace ROUTE, or route ROUTER delete PREFIX",
	"policy":  "policy ROUTER SETTINGS",
	"change":  "change EVENT",
	"events":  "events [--follow]",
}

// ctlUsageError prints the usage, then what was wrong, last, where it is
// seen.
func ctlUsageError(fs *flag.FlagSet, msg string) error {
	fs.Usage()
	fmt.Fprintf(fs.Output(), "\nicmpgw ctl: %s\n", msg)
	return flagError{errors.New(msg)}
}

// quote makes s a YAML string, whatever it holds.
func quote(s string) string { return strconv.Quote(s) }

// humanRecord puts an event log record on one line for people.
func humanRecord(r scenarios.Record) string {
	t := r.Time.Local().Format(time.TimeOnly + ".000")
	if r.Kind != "icmp" {
		return fmt.Sprintf("%s  %-8s %s", t, r.Kind, r.Event)
	}
	what := r.Type
	if r.Code != nil {
		what += "/" + strconv.Itoa(*r.Code)
	}
	if what == "" {
		what = "(no message)"
	}
	line := fmt.Sprintf("%s  %s %s %s %s", t, r.Router, r.Iface, r.Action, what)
	if r.Reason != "" {
		line += " (" + r.Reason + ")"
	}
	if r.Src != "" {
		line += " " + r.Src + " -> " + r.Dst
	}
	if a := r.About; a != nil {
		line += fmt.Sprintf(" about %s %s", a.Proto, a.Src)
		if a.Sport != 0 {
			line += fmt.Sprintf(":%d", a.Sport)
		}
		line += " -> " + a.Dst
		if a.Dport != 0 {
			line += fmt.Sprintf(":%d", a.Dport)
		}
		line += fmt.Sprintf(" ttl %d", a.TTL)
	}
	return line
}
