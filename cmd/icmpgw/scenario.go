package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/scenarios"
)

const scenarioUsage = `Usage:
  icmpgw scenario run [flags] FILE|NAME   play a scenario with real clients
  icmpgw scenario check FILE...           validate scenario files
  icmpgw scenario list                    the built-in scenarios
  icmpgw scenario show NAME               print a built-in scenario

A scenario is a YAML file: a topology of hosts (network namespaces) and
virtual routers joined by links, a timeline of failures, and steps run on the
hosts with what they must show. scenarios/README.md documents every key.
"run" builds the topology, plays the timeline, runs the steps (commands run
as root inside the host namespaces), checks the expectations, prints a
summary, tears everything down, and exits 0 only if every expectation holds.
"check" reads files only: it needs no root and executes nothing.
`

func scenarioCmd(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, scenarioUsage)
		return errors.New("missing subcommand")
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "run":
		return scenarioRun(rest)
	case "check":
		return scenarioCheck(rest)
	case "list":
		return scenarioList()
	case "show":
		if len(rest) != 1 {
			return errors.New("show takes one built-in scenario name (see 'icmpgw scenario list')")
		}
		src, err := scenarios.Source(rest[0])
		if err != nil {
			return err
		}
		os.Stdout.Write(src)
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Print(scenarioUsage)
		return nil
	default:
		fmt.Fprint(os.Stderr, scenarioUsage)
		return fmt.Errorf("unknown subcommand %q", sub)
	}
}

func scenarioRun(args []string) error {
	var lf labFlags
	var junit string
	fs := newFlagSet("scenario run [flags] FILE|NAME", "Builds the scenario's topology, plays its timeline, runs its steps, checks its\nexpectations, prints a summary and tears everything down. Exits 0 only if\nevery expectation holds. Steps run commands as root inside host namespaces.", &lf, true)
	fs.StringVar(&junit, "junit", "", "also write the results as JUnit XML to `FILE`, for CI systems")
	if err := parse(fs, args, &lf); err != nil {
		return err
	}
	// Flags may follow the name too: "scenario run multi-hop --prefix lab2-".
	if fs.NArg() > 1 {
		name := fs.Arg(0)
		if err := parse(fs, fs.Args()[1:], &lf); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("run takes one scenario file or built-in name; got %q and %q", name, fs.Arg(0))
		}
		lf.scenario = name
		return play(&lf, junit)
	}
	if fs.NArg() != 1 {
		return errors.New("run takes one scenario file or built-in name (see 'icmpgw scenario list')")
	}
	lf.scenario = fs.Arg(0)
	return play(&lf, junit)
}

// play runs the scenario lf names, prints its report, and tears it down.
func play(lf *labFlags, junit string) error {
	sc, err := lf.load()
	if err != nil {
		return err
	}
	fmt.Printf("scenario %s", sc.Name)
	if sc.About != "" {
		fmt.Printf(": %s", sc.About)
	}
	fmt.Println()
	t, ctx, stop, err := build(sc, lf)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("topology up: namespaces %s\n", strings.Join(t.Namespaces, ", "))
	rep := scenarios.Run(ctx, t, os.Stdout)
	interrupted := ctx.Err() != nil
	closeErr := t.Close()
	lf.closeEvents()
	fmt.Println()
	printReport(rep)
	fmt.Println()
	for _, rs := range sc.Routers {
		fmt.Printf("router %s: %s\n", rs.Name, summary(t.Routers[rs.Name].Stats()))
	}
	if junit != "" {
		f, err := os.Create(junit)
		if err != nil {
			return err
		}
		werr := scenarios.WriteJUnit(f, rep)
		if err := errors.Join(werr, f.Close()); err != nil {
			return fmt.Errorf("--junit %s: %w", junit, err)
		}
	}
	switch {
	case closeErr != nil:
		return fmt.Errorf("tear-down: %w", closeErr)
	case interrupted:
		return errors.New("interrupted; topology removed")
	case !rep.Passed():
		return fmt.Errorf("scenario %s failed", sc.Name)
	}
	fmt.Printf("scenario %s passed; topology removed\n", sc.Name)
	return nil
}

// summary puts a router's counters on one line.
func summary(s routing.Stats) string {
	parts := []string{fmt.Sprintf("%d received", s.Received)}
	for i, n := range s.Outcomes {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, routing.Outcome(i)))
		}
	}
	var sent, suppressed uint64
	for _, n := range s.Sent {
		sent += n
	}
	for _, n := range s.Suppressed {
		suppressed += n
	}
	return strings.Join(parts, ", ") + fmt.Sprintf("; %d ICMP sent, %d suppressed", sent, suppressed)
}

// printReport prints one row per check: the verdict, the check and what
// was observed; a failed check adds what was expected, and a command's
// output.
func printReport(rep *scenarios.Report) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tCHECK\tOBSERVED")
	for _, c := range rep.Checks {
		verdict := "pass"
		if !c.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", verdict, c.Name, c.Observed)
		if !c.Pass {
			fmt.Fprintf(tw, "\t  expected: %s\t\n", c.Expected)
		}
	}
	tw.Flush()
	passed := 0
	for _, c := range rep.Checks {
		if c.Pass {
			passed++
		}
	}
	fmt.Printf("%d passed, %d failed\n", passed, len(rep.Checks)-passed)
	for _, c := range rep.Checks {
		if !c.Pass && c.Output != "" {
			fmt.Printf("\noutput of %s:\n%s", c.Name, c.Output)
		}
	}
}

func scenarioCheck(args []string) error {
	fs := flag.NewFlagSet("scenario check", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("check takes one or more scenario files")
	}
	var errs []error
	for _, f := range fs.Args() {
		sc, err := scenarios.Load(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Printf("%s: ok (%s: %s, %s, %s, %s, %s, %s)\n", f, sc.Name,
			count(len(sc.Hosts), "host"), count(len(sc.Routers), "router"), count(len(sc.Links), "link"),
			count(len(sc.Timeline), "event"), count(len(sc.Steps), "step"), count(len(sc.Watches), "expectation"))
	}
	return errors.Join(errs...)
}

func scenarioList() error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	for _, name := range scenarios.Library() {
		sc, err := scenarios.Load(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, firstSentence(sc.About))
	}
	return tw.Flush()
}

// firstSentence is the first sentence of text, on one line.
func firstSentence(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if i := strings.Index(text, ". "); i >= 0 {
		return text[:i+1]
	}
	return text
}

// count says "1 host", "2 hosts".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
