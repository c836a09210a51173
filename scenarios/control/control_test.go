package control

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icmpgw/icmpgw/scenarios"
)

func TestAPI(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root, and CI=true forbids skipping")
		}
		t.Skip("needs root")
	}
	sc := scenarios.Default()
	prefix := fmt.Sprintf("icmpgw-tc%d-", os.Getpid())
	t.Cleanup(func() { scenarios.Down(sc, prefix) })
	events := scenarios.NewEventLog(discard{})
	defer events.Close()
	topo, err := scenarios.Build(sc, scenarios.Options{Prefix: prefix, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	defer topo.Close()
	sock := filepath.Join(t.TempDir(), "sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	bodyTimeout = 500 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Serve(ctx, ln, topo, events)
	c := NewClient(sock)

	var rs []Router
	if err := c.Get(ctx, "/v1/routers", &rs); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Name != "r1" || len(rs[0].Ifaces) != 2 || rs[0].Ifaces[1].Addr != "203.0.113.1/24" || !rs[0].Ifaces[1].Up {
		t.Fatalf("routers %+v", rs)
	}

	// A datagram with a bad header checksum shows under malformed.
	r1 := topo.Routers["r1"]
	bad := []byte{0x45, 0, 0, 20, 0, 1, 0, 0, 64, 17, 0, 0, 198, 51, 100, 2, 203, 0, 113, 2} // checksum 0: wrong
	r1.Receive(r1.Ifaces[0], [][]byte{bad})

	// The JSON speaks the scenario file's words, in one key style.
	var raw []map[string]any
	if err := c.Get(ctx, "/v1/routers", &raw); err != nil {
		t.Fatal(err)
	}
	if m, _ := json.Marshal(raw[0]["malformed"]); string(m) != `{"bad-checksum":1}` {
		t.Errorf("malformed %s, want {\"bad-checksum\":1}", m)
	}
	policy, _ := json.Marshal(raw[0]["policy"])
	if want := `{"delay":"0s","echo":true,"quote":576,"ratelimit":"linux","redirects":true,"silent":false,"source":"outgoing","ttl":64}`; string(policy) != want {
		t.Errorf("policy %s, want %s", policy, want)
	}
	var rawLinks []map[string]any
	if err := c.Get(ctx, "/v1/links", &rawLinks); err != nil {
		t.Fatal(err)
	}
	if got := rawLinks[1]; got["a"] != "r1:eth1" || got["b"] != "server" || got["up"] != true || got["a_to_b"] == nil {
		t.Errorf("link %v, want a r1:eth1, b server, up, a_to_b counters", got)
	}

	followed := make(chan scenarios.Record, 8)
	fctx, fcancel := context.WithCancel(ctx)
	go c.Events(fctx, true, func(r scenarios.Record) { followed <- r })
	time.Sleep(100 * time.Millisecond) // let the follower subscribe

	applied, err := c.Change(ctx, `{"link": "r1:eth1", "state": "down"}`)
	if err != nil || applied != "link r1:eth1 down" {
		t.Fatalf("change: %q, %v", applied, err)
	}
	if topo.Routers["r1"].Ifaces[1].Up() {
		t.Error("r1:eth1 is still up")
	}
	select {
	case r := <-followed:
		if r.Kind != "change" || r.Event != "link r1:eth1 down" {
			t.Errorf("followed %+v, want the change", r)
		}
	case <-time.After(5 * time.Second):
		t.Error("the event stream showed nothing")
	}
	select { // the link's own record follows the change's
	case r := <-followed:
		if r.Kind != "link" {
			t.Errorf("followed %+v, want the link going down", r)
		}
	case <-time.After(5 * time.Second):
		t.Error("the event stream showed no link record")
	}
	fcancel()

	// Without follow: the history, then the end of the stream.
	var past []string
	if err := c.Events(ctx, false, func(r scenarios.Record) { past = append(past, r.Kind+" "+r.Event) }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"change link r1:eth1 down", "link link r1:eth1 -- server down"}; !slices.Equal(past, want) {
		t.Errorf("event history %q, want %q", past, want)
	}

	for _, tt := range []struct{ body, want string }{
		{`{router: r1, route: {add: "198.19.0.0/16 via 198.19.5.5"}}`, "gateway 198.19.5.5 is on none of the router's subnets"},
		{`{router: r1, icmp: {loud: true}}`, `got the key "loud"`},
		{`{router: r1, route: {delete: 198.19.0.0/16}}`, "no such route"},
		{strings.Repeat(" ", maxBody+1), "at most 65536 bytes"},
	} {
		before := topo.Routers["r1"].Routes.Routes()
		if _, err := c.Change(ctx, tt.body); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("change %.40q: %v, want an error containing %q", tt.body, err, tt.want)
		}
		if after := topo.Routers["r1"].Routes.Routes(); len(after) != len(before) {
			t.Errorf("a refused change altered the routes: %d, then %d", len(before), len(after))
		}
	}
	// A body that stops half-way: 400 once bodyTimeout passes, and the
	// connection is not kept.
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST /v1/changes HTTP/1.1\r\nHost: icmpgw\r\nContent-Length: 100\r\n\r\n{link: ")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if status, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.HasPrefix(status, "HTTP/1.1 400 ") {
		t.Errorf("a stalled body drew %q, %v; want 400 Bad Request within 5 s", status, err)
	}

	var routes []Route
	if err := c.Get(ctx, "/v1/routers/r9/routes", &routes); err == nil || !strings.Contains(err.Error(), `no router "r9"`) {
		t.Errorf("routes of r9: %v", err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
