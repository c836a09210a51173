package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLibraryRuns plays every built-in scenario with real clients, as
// `icmpgw scenario run NAME` does: each must pass.
func TestLibraryRuns(t *testing.T) {
	needRoot(t)
	for i, name := range Library() {
		t.Run(name, func(t *testing.T) {
			sc, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			rep, out := play(t, sc, fmt.Sprintf("icmpgw-tl%d-%d-", os.Getpid(), i))
			if !rep.Passed() {
				t.Errorf("scenario %s failed:\n%s", name, out)
			}
			if len(rep.Checks) != len(sc.Steps)+len(sc.Watches) {
				t.Errorf("%d checks, want one per step and watch (%d)", len(rep.Checks), len(sc.Steps)+len(sc.Watches))
			}
		})
	}
}

// TestWrongExpectationFails runs a built-in scenario with one expectation
// made wrong: the run fails, and the report says what was seen instead.
func TestWrongExpectationFails(t *testing.T) {
	needRoot(t)
	src, err := Source("silent-hop")
	if err != nil {
		t.Fatal(err)
	}
	wrong := bytes.Replace(src, []byte(`'^ 2  \*$'`), []byte(`'^ 2  198\.51\.100\.2  '`), 1)
	if bytes.Equal(wrong, src) {
		t.Fatal("the expectation to break is not in silent-hop.yaml any more")
	}
	sc, err := Parse("silent-hop-wrong.yaml", wrong)
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := play(t, sc, fmt.Sprintf("icmpgw-tw%d-", os.Getpid()))
	if rep.Passed() {
		t.Fatal("a scenario with a wrong expectation passed")
	}
	c := rep.Checks[0]
	if c.Pass || !strings.Contains(c.Observed, `no line matches ^ 2  198\.51\.100\.2  `) || !strings.Contains(c.Output, " 2  *") {
		t.Errorf("check %+v: want a failure naming the pattern, with the traceroute output showing hop 2 as *", c)
	}
	var junit bytes.Buffer
	if err := WriteJUnit(&junit, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(junit.String(), `failures="1"`) || !strings.Contains(junit.String(), "<failure message=") {
		t.Errorf("JUnit report does not show the failure:\n%s", junit.String())
	}
}

func play(t *testing.T, sc *Scenario, prefix string) (*Report, string) {
	t.Helper()
	t.Cleanup(func() { Down(sc, prefix) })
	events := NewEventLog(io.Discard)
	defer events.Close()
	topo, err := Build(sc, Options{Prefix: prefix, Seed: sc.Seed, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep := Run(context.Background(), topo, &out)
	if err := topo.Close(); err != nil {
		t.Errorf("tear-down: %v", err)
	}
	for _, c := range rep.Checks {
		if !c.Pass {
			fmt.Fprintf(&out, "FAIL %s: expected %s, observed %s\n%s\n", c.Name, c.Expected, c.Observed, c.Output)
		}
	}
	return rep, out.String()
}

// TestReadmeExamples keeps the READMEs' whole-file examples valid, and
// playable: each must pass.
func TestReadmeExamples(t *testing.T) {
	for i, file := range []string{"../README.md", "README.md"} {
		readme, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, rest, ok := bytes.Cut(readme, []byte("```yaml\n"))
		example, _, ok2 := bytes.Cut(rest, []byte("```\n"))
		if !ok || !ok2 {
			t.Fatalf("%s has no yaml example", file)
		}
		sc, err := Parse(file, example)
		if err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
			continue // parsing needs no root; playing does
		}
		needRoot(t)
		rep, out := play(t, sc, fmt.Sprintf("icmpgw-tr%d-%d-", os.Getpid(), i))
		if !rep.Passed() {
			t.Errorf("the example in %s fails:\n%s", file, out)
		}
	}
}

// TestStepLifecycle: a step's background processes die with it, a
// timeout fails a step, and a timeline event that cannot apply fails the
// run.
func TestStepLifecycle(t *testing.T) {
	needRoot(t)
	sc, err := Parse("lifecycle.yaml", []byte(`name: lifecycle
topology:
  hosts: {client: {addr: 198.18.0.10/24, gw: 198.18.0.1}}
  routers: {r1: {ifaces: {eth0: 198.18.0.1/24}}}
  links: [[client, r1:eth0]]
timeline:
  - {at: 100ms, router: r1, route: {delete: 198.19.0.0/16}}
steps:
  - {on: client, run: "sleep 987654 & echo started", expect: {exit: 0, output: [started]}}
  - {on: client, run: "sleep 5", timeout: 300ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	rep, out := play(t, sc, fmt.Sprintf("icmpgw-tf%d-", os.Getpid()))
	if len(rep.Checks) != 3 {
		t.Fatalf("%d checks, want 2 steps and 1 failed event:\n%s", len(rep.Checks), out)
	}
	if c := rep.Checks[0]; !c.Pass || c.Took > 5*time.Second {
		t.Errorf("a step that leaves a process in the background: %+v", c)
	}
	if c := rep.Checks[1]; c.Pass || c.Observed != "timed out after 300ms" {
		t.Errorf("a step past its timeout: %+v, want a failure saying it timed out", c)
	}
	if c := rep.Checks[2]; c.Pass || !strings.Contains(c.Observed, "no such route") {
		t.Errorf("an event that cannot apply: %+v, want a failure", c)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte("987654")) {
			t.Errorf("%s: a step's background process outlived it", p)
		}
	}
}

// TestLoadRefuses checks that Load refuses what is not a regular file
// before opening it, so that a FIFO cannot block it nor /dev/zero fill
// memory, and a file too big after reading no more than one byte past
// the limit.
func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "lab.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#"), maxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "zero.yaml")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, file, want string }{
		{"directory", dir, dir + ": got a directory, want a regular scenario file"},
		{"fifo", fifo, fifo + ": got a named pipe (FIFO), want a regular scenario file"},
		{"dev zero", "/dev/zero", "/dev/zero: got a character device, want a regular scenario file"},
		{"link to dev zero", link, link + ": got a character device, want a regular scenario file"},
		{"too big", big, big + ":1:1: got 1048577 bytes, want a scenario file of at most 1048576 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := Load(tt.file)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("Load(%s) has not returned after 10s", tt.file)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("Load(%s) = %v (%T), want a *ParseError", tt.file, err, err)
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("Load(%s)\n\tgot:  %v\n\twant: %s", tt.file, err, tt.want)
			}
		})
	}
}
