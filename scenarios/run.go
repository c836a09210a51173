package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/icmpgw/icmpgw/scenarios/probe"
)

// Check is the verdict on one step or watch.
type Check struct {
	Name     string
	Pos      Pos
	Pass     bool
	Expected string
	Observed string
	Output   string // a command's output, kept for failures
	Took     time.Duration
}

// Report is what a run showed.
type Report struct {
	Scenario string
	Checks   []Check
	Took     time.Duration
}

// Passed reports whether every check passed.
func (r *Report) Passed() bool {
	for _, c := range r.Checks {
		if !c.Pass {
			return false
		}
	}
	return true
}

// Run plays t's scenario: timeline events at their times, while the steps
// run one after another, then checks the watches. It writes each event
// and step to w as it happens. Cancelling ctx stops it early; what ran is
// reported.
func Run(ctx context.Context, t *Topology, w io.Writer) *Report {
	sc := t.Scenario
	rep := &Report{Scenario: sc.Name}
	var logMu sync.Mutex // the timeline and the steps both log
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(w, "%9s  %s\n", fmt.Sprintf("+%.3fs", time.Since(t.Start).Seconds()), fmt.Sprintf(format, args...))
	}

	// A timeline event that cannot be applied (a route to delete that is
	// not there) fails the run like a step.
	var failMu sync.Mutex
	var eventFailures []Check
	apply := func(ev Event) {
		if err := t.Apply(ev); err != nil {
			logf("event at line %d failed: %v", ev.Line, err)
			failMu.Lock()
			eventFailures = append(eventFailures, Check{Name: fmt.Sprintf("event at %v: %s", ev.At, describeEvent(ev)), Pos: ev.Pos,
				Expected: "the event to apply", Observed: err.Error()})
			failMu.Unlock()
			return
		}
		logf("%s", describeEvent(ev))
	}
	// Events at 0s happen before any step starts.
	timeline := sc.Timeline
	for len(timeline) > 0 && timeline[0].At <= 0 {
		apply(timeline[0])
		timeline = timeline[1:]
	}
	timelineDone := make(chan struct{})
	go func() {
		defer close(timelineDone)
		for _, ev := range timeline {
			if !sleepUntil(ctx, t.Start.Add(ev.At)) {
				return
			}
			apply(ev)
		}
	}()

	prevEnd := t.Start
	for i, st := range sc.Steps {
		start := prevEnd.Add(st.At)
		if !st.After {
			start = t.Start.Add(st.At)
			if late := time.Since(start); late > 100*time.Millisecond {
				logf("step %d starts %v late: the steps before it ran past its time", i+1, late.Round(time.Millisecond))
			}
		}
		if !sleepUntil(ctx, start) {
			break
		}
		c := Check{Name: fmt.Sprintf("step %d: %s", i+1, describeStep(st)), Pos: st.Pos}
		logf("%s", c.Name)
		began := time.Now()
		if st.Probe != nil {
			runProbe(ctx, t, st, &c)
		} else {
			runCommand(ctx, t, st, &c)
		}
		c.Took = time.Since(began)
		prevEnd = time.Now()
		verdict := "pass"
		if !c.Pass {
			verdict = "FAIL: expected " + c.Expected
		}
		logf("  %s -> %s", c.Observed, verdict)
		rep.Checks = append(rep.Checks, c)
	}

	// Watches look at the whole run: let the timeline and every watch's
	// window finish first.
	if end := runEnd(sc); ctx.Err() == nil {
		sleepUntil(ctx, t.Start.Add(end))
	}
	<-timelineDone
	heard := t.Heard.All()
	for i, wt := range sc.Watches {
		c := checkWatch(i, wt, heard)
		if ctx.Err() != nil {
			c.Pass, c.Observed = false, "interrupted; "+c.Observed
		}
		rep.Checks = append(rep.Checks, c)
	}
	failMu.Lock()
	rep.Checks = append(rep.Checks, eventFailures...)
	failMu.Unlock()
	rep.Took = time.Since(t.Start)
	return rep
}

// runEnd is when the run's last event (a flap's last change included) or
// watch window ends.
func runEnd(sc *Scenario) time.Duration {
	var end time.Duration
	for _, w := range sc.Watches {
		end = max(end, w.Until)
	}
	for _, ev := range sc.Timeline {
		at := ev.At
		if ev.Kind == Flap {
			at += 2 * time.Duration(ev.Count) * ev.Period
		}
		end = max(end, at)
	}
	return end
}

func sleepUntil(ctx context.Context, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// Describe says what ev does, in a few words: "link r2:eth1 down".
func Describe(ev Event) string { return describeEvent(ev) }

func describeEvent(ev Event) string {
	switch ev.Kind {
	case LinkState:
		if ev.Up {
			return "link " + ev.Link.String() + " up"
		}
		return "link " + ev.Link.String() + " down"
	case LinkImpair:
		return fmt.Sprintf("link %s delay %v jitter %v loss %g%%", ev.Link, ev.Impair.Delay, ev.Impair.Jitter, ev.Impair.Loss)
	case RouteAdd:
		return "router " + ev.Router + " route add " + ev.Route
	case RouteDelete:
		return "router " + ev.Router + " route delete " + ev.Route
	case RouteReplace:
		return "router " + ev.Router + " route replace " + ev.Route
	case PolicySet:
		return "router " + ev.Router + " icmp policy changed"
	case Flap:
		times := fmt.Sprintf("%d times", ev.Count)
		if ev.Count == 1 {
			times = "once"
		}
		return fmt.Sprintf("link %s flaps %s, %v down then %v up", ev.Link, times, ev.Period, ev.Period)
	}
	return "?"
}

func describeStep(st Step) string {
	if st.Probe == nil {
		return st.On + "$ " + st.Run
	}
	p := st.Probe
	s := st.On + " probe " + [...]string{"", "udp", "tcp", "echo", "proto", "redirect"}[p.Kind] + " " + p.Dst.String()
	switch p.Kind {
	case ProbeEcho, ProbeRedirect:
		s = st.On + " probe " + [...]string{"", "udp", "tcp", "echo", "proto", "redirect"}[p.Kind] + " " + p.Dst.Addr().String()
	case ProbeProto:
		s = fmt.Sprintf("%s probe ip proto %d to %s", st.On, p.Protocol, p.Dst.Addr())
	}
	if p.TTL > 0 {
		s += fmt.Sprintf(" ttl %d", p.TTL)
	}
	if p.Size > 0 {
		s += fmt.Sprintf(" size %d", p.Size)
	}
	if p.DF {
		s += " df"
	}
	if p.Count > 1 {
		s += fmt.Sprintf(" x%d", p.Count)
	}
	return s
}

// maxOutput bounds the output a step keeps: its first and last halves.
const maxOutput = 64 << 10

// runCommand runs st.Run with sh -c inside the host's namespace. The step
// ends when sh exits, or at its timeout; then every process it started,
// background ones included, is killed: a step leaves nothing behind.
func runCommand(ctx context.Context, t *Topology, st Step, c *Check) {
	timeout := st.Timeout
	if timeout == 0 {
		timeout = DefaultRunTimeout
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Output goes to a file, not a pipe, so that a background process
	// holding it open cannot keep the step from ending.
	out, err := os.CreateTemp("", "icmpgw-step-*")
	if err != nil {
		c.Observed = "could not start: " + err.Error()
		return
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.Command("sh", "-c", st.Run)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	exit := -1
	if err := startIn(t.Namespace(st.On), cmd); err != nil {
		c.Observed = "could not start: " + err.Error()
		return
	}
	killGroup := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stopped := context.AfterFunc(runCtx, killGroup)
	werr := cmd.Wait()
	stopped()
	killGroup() // whatever the step left running in the background
	var ee *exec.ExitError
	switch {
	case werr == nil:
		exit = 0
	case errors.As(werr, &ee) && ee.Exited():
		exit = ee.ExitCode()
	}
	c.Observed = fmt.Sprintf("exit %d", exit)
	timedOut := runCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil
	switch {
	case ctx.Err() != nil:
		c.Observed = "interrupted"
	case timedOut:
		c.Observed = fmt.Sprintf("timed out after %v", timeout)
	}
	c.Output = readOutput(out)
	lines := strings.Split(strings.TrimRight(c.Output, "\n"), "\n")
	var want, failed []string
	e := st.Expect
	if e.Exit != nil {
		want = append(want, fmt.Sprintf("exit %d", *e.Exit))
		if exit != *e.Exit && !timedOut && ctx.Err() == nil {
			failed = append(failed, fmt.Sprintf("exit %d", exit))
		}
	}
	if n := len(e.Output); n > 0 {
		want = append(want, plural(n, "output pattern"))
	}
	for _, re := range e.Output {
		if !anyLine(lines, re) {
			failed = append(failed, "no line matches "+re)
		}
	}
	if n := len(e.NoOutput); n > 0 {
		want = append(want, plural(n, "absent pattern"))
	}
	for _, re := range e.NoOutput {
		if anyLine(lines, re) {
			failed = append(failed, "a line matches "+re)
		}
	}
	if len(want) == 0 {
		want = append(want, "the command to finish")
	}
	c.Expected = strings.Join(want, ", ")
	c.Pass = len(failed) == 0 && !timedOut && ctx.Err() == nil
	if len(failed) > 0 {
		c.Observed += "; " + strings.Join(failed, "; ")
	}
}

// readOutput reads what a step wrote, at most maxOutput bytes of it (the
// first and last halves), with control characters other than newlines and
// tabs shown as '?' so that a step cannot drive the terminal.
func readOutput(f *os.File) string {
	size, _ := f.Seek(0, io.SeekEnd)
	var b []byte
	if size <= maxOutput {
		b = make([]byte, size)
		f.ReadAt(b, 0)
	} else {
		head, tail := make([]byte, maxOutput/2), make([]byte, maxOutput/2)
		f.ReadAt(head, 0)
		f.ReadAt(tail, size-maxOutput/2)
		b = append(append(head, fmt.Sprintf("\n[... %d bytes left out ...]\n", size-maxOutput)...), tail...)
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, string(b))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func anyLine(lines []string, re string) bool {
	r := regexp.MustCompile(re) // Parse compiled it once already
	for _, l := range lines {
		if r.MatchString(l) {
			return true
		}
	}
	return false
}

// startIn starts cmd from an OS thread inside the named namespace, so the
// child is born there. The thread goes back to its own namespace, or dies
// with its goroutine if it cannot.
func startIn(ns string, cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			errc <- fmt.Errorf("namespace %s: %w", ns, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("enter namespace %s: %w", ns, err)
			return
		}
		err = cmd.Start()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// runProbe sends st.Probe and compares what the host's kernel reported.
func runProbe(ctx context.Context, t *Topology, st Step, c *Check) {
	p := st.Probe
	timeout := st.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	ns := t.Namespace(st.On)
	send := func() (probe.Result, error) {
		switch p.Kind {
		case ProbeTCP:
			return probe.TCP(ns, p.Dst, timeout)
		case ProbeEcho:
			return probe.Echo(ns, p.Dst.Addr(), p.TTL, timeout)
		case ProbeProto:
			return probe.Proto(ns, p.Dst.Addr(), p.Protocol, timeout)
		case ProbeRedirect:
			return probe.Redirect(ns, p.Dst.Addr(), timeout)
		}
		return probe.UDP(ns, p.Dst, probe.UDPOptions{TTL: p.TTL, Size: p.Size, DontFragment: p.DF}, timeout)
	}
	count := max(p.Count, 1)
	e := st.Expect
	var first probe.Result
	answered := 0
	for i := range count {
		if ctx.Err() != nil {
			c.Observed = fmt.Sprintf("interrupted after %d of %d sends", i, count)
			return
		}
		got, err := send()
		if err != nil {
			c.Observed = err.Error()
			return
		}
		if i == 0 {
			first = got
		}
		if (got.ICMP || got.Reply) && (e.ICMP == nil || probeMatches(*e.ICMP, got)) {
			answered++
		}
	}
	var want, failed []string
	if e.Errno != "" {
		want = append(want, e.Errno)
		if got := errnoName(first.Errno); got != e.Errno {
			failed = append(failed, got)
		}
	}
	if e.ICMP != nil {
		want = append(want, describeMatch(*e.ICMP))
		if !first.ICMP || !probeMatches(*e.ICMP, first) {
			failed = append(failed, "not that ICMP message")
		}
	}
	if e.Reply {
		want = append(want, "an answer")
		if !first.Reply {
			failed = append(failed, "no answer")
		}
	}
	if e.NoAnswer {
		want = append(want, "no answer")
		if !first.Timeout {
			failed = append(failed, "an answer")
		}
	}
	if e.Gateway.IsValid() {
		want = append(want, "new next hop "+e.Gateway.String())
		if first.Gateway != e.Gateway {
			failed = append(failed, "another next hop")
		}
	}
	if e.RouteVia.IsValid() {
		want = append(want, "route via "+e.RouteVia.String())
		if via, _, err := probe.RouteGet(ns, p.Dst.Addr()); err != nil || via != e.RouteVia {
			failed = append(failed, fmt.Sprintf("route via %v", via))
		} else {
			first.Gateway = via // shown in the observation
		}
	}
	if e.Answered != nil {
		want = append(want, fmt.Sprintf("%d of %d answered", *e.Answered, count))
		if answered != *e.Answered {
			failed = append(failed, fmt.Sprintf("%d of %d answered", answered, count))
		}
	}
	c.Expected = strings.Join(want, ", ")
	c.Observed = first.String()
	if count > 1 {
		c.Observed = fmt.Sprintf("%d of %d answered; first: %s", answered, count, first)
	}
	c.Pass = len(failed) == 0
}

func errnoName(e syscall.Errno) string {
	if e == 0 {
		return "none"
	}
	if name := unix.ErrnoName(e); name != "" {
		return name
	}
	return e.Error()
}

func probeMatches(m ICMPMatch, r probe.Result) bool {
	return r.ICMP && (m.AnyType || r.Type == uint8(m.Type)) &&
		(m.Code == nil || uint8(*m.Code) == r.Code) &&
		(!m.From.IsValid() || m.From == r.From)
}

func describeMatch(m ICMPMatch) string {
	s := "any ICMP"
	if !m.AnyType {
		s = typeName(m.Type)
	}
	if m.Code != nil {
		s += fmt.Sprintf("/%d", *m.Code)
	}
	if m.From.IsValid() {
		s += " from " + m.From.String()
	}
	if m.About.IsValid() {
		s += " about " + m.About.String()
	}
	return s
}

// TypeName is an ICMP type's name as scenario files write it, such as
// "time-exceeded".
func TypeName(t int) string { return typeName(ipv4.ICMPType(t)) }

func typeName(t interface{ String() string }) string {
	return strings.ReplaceAll(strings.ToLower(t.String()), " ", "-")
}

func checkWatch(i int, wt Watch, heard []Heard) Check {
	c := Check{Pos: wt.Pos}
	verb := "receives"
	if wt.Never {
		verb = "never receives"
	}
	window := "during the run"
	if wt.From > 0 || wt.Until > 0 {
		window = fmt.Sprintf("between %v and %v", wt.From, wt.Until)
	}
	c.Name = fmt.Sprintf("expect %d: %s %s %s %s", i+1, wt.Host, verb, describeMatch(wt.Match), window)
	n := 0
	for _, h := range heard {
		if h.Host == wt.Host && h.At >= wt.From && (wt.Until == 0 || h.At < wt.Until) && wt.Match.Matches(h) {
			n++
		}
	}
	min := max(wt.Min, 1)
	if wt.Never {
		c.Expected, c.Pass = "none", n == 0
	} else {
		c.Expected, c.Pass = fmt.Sprintf("at least %d", min), n >= min
	}
	c.Observed = fmt.Sprintf("%d heard", n)
	return c
}
