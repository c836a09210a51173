package scenarios

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestApplyChanges checks live changes against a running default lab: a
// refused change leaves no record in the event log, "route add" refuses a
// prefix that has a route (as ip route add does) while "replace" takes it,
// and a link state event stops a running flap.
func TestApplyChanges(t *testing.T) {
	needRoot(t)
	sc := Default()
	prefix := fmt.Sprintf("icmpgw-tp%d-", os.Getpid())
	t.Cleanup(func() { Down(sc, prefix) })
	events := NewEventLog(io.Discard)
	defer events.Close()
	records, stop := events.Follow()
	defer stop()
	topo, err := Build(sc, Options{Prefix: prefix, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	defer topo.Close()
	change := func(text string) error {
		ev, err := ParseEvent(sc, "change", []byte(text))
		if err != nil {
			t.Fatalf("ParseEvent(%s): %v", text, err)
		}
		return topo.Apply(ev)
	}
	next := func() string {
		select {
		case r := <-records:
			return r.Event
		case <-time.After(2 * time.Second):
			return "(none)"
		}
	}

	err = change(`{router: r1, route: {add: 198.18.0.0/26 via 203.0.113.2}}`)
	if err == nil || !strings.Contains(err.Error(), "a route for 198.18.0.0/26 exists") {
		t.Errorf("route add over an existing route: %v, want an error saying it exists", err)
	}
	if err := change(`{router: r1, route: {delete: 10.0.0.0/8}}`); err == nil {
		t.Error("deleting a route that is not there: no error")
	}
	if err := change(`{router: r1, route: {replace: 198.18.0.0/26 via 203.0.113.2}}`); err != nil {
		t.Errorf("route replace: %v", err)
	}
	if got, want := next(), "router r1 route replace 198.18.0.0/26 via 203.0.113.2"; got != want {
		t.Errorf("first record %q, want %q: refused changes are not logged", got, want)
	}

	link := topo.link(Endpoint{Node: "r1", Iface: "eth1"})
	if err := change(`{flap: {link: r1:eth1, period: 50ms, count: 100}}`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	if err := change(`{link: r1:eth1, state: up}`); err != nil {
		t.Fatal(err)
	}
	for range 6 { // three flap periods: the flap, had it gone on, would have taken it down
		time.Sleep(25 * time.Millisecond)
		if !link.wire.Up() {
			t.Fatal("r1:eth1 went down after a state event said up: the flap is still running")
		}
	}
}
