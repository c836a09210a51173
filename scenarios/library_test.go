package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
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

// TestReadmeExample keeps the README's example scenario valid.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(readme, []byte("```yaml\n"))
	example, _, ok2 := bytes.Cut(rest, []byte("```\n"))
	if !ok || !ok2 {
		t.Fatal("README.md has no yaml example")
	}
	if _, err := Parse("README.md", example); err != nil {
		t.Error(err)
	}
}
