package scenarios

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun/packet"
)

// TestParseGood parses a file that uses every key and compares the whole
// Scenario.
func TestParseGood(t *testing.T) {
	const file = "testdata/good/silent-hop.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	ap := netip.MustParseAddrPort
	ptr := func(i int) *int { return &i }
	code := func(c packet.Code) *packet.Code { return &c }
	want := &Scenario{
		File:  file,
		Name:  "silent-hop",
		About: "r2 drops TTL-expired packets silently: traceroute shows \"*\" for hop 2.\nEvery key of the format appears at least once.",
		Seed:  1,
		Hosts: []*HostSpec{
			{
				Pos: Pos{8, 5}, Name: "client", Iface: "gw0",
				Addr: p("198.18.0.10/24"), Gateway: a("198.18.0.1"),
				Routes:          []HostRoute{{Dst: p("203.0.113.0/24"), Via: a("198.18.0.1")}},
				AcceptRedirects: true,
			},
			{Pos: Pos{13, 5}, Name: "server", Iface: "eth9", Addr: p("203.0.113.10/24"), Gateway: a("203.0.113.1")},
		},
		Routers: []*RouterSpec{
			{
				Pos: Pos{15, 5}, Name: "r1",
				Ifaces: []IfaceSpec{{Name: "eth0", Addr: p("198.18.0.1/24")}, {Name: "eth1", Addr: p("198.51.100.1/30")}},
				Routes: []string{"default via 198.51.100.2", "unreachable host 198.18.5.0/24", "prohibit 198.18.6.0/24", "blackhole 198.18.7.0/24"},
				ICMP:   responder.Policy{NoRateLimit: true, Quote: 28, Source: responder.SourceIncoming, TTL: 255, NoRedirects: true},
			},
			{
				Pos: Pos{24, 5}, Name: "r2",
				Ifaces: []IfaceSpec{{Name: "eth0", Addr: p("198.51.100.2/30")}, {Name: "eth1", Addr: p("198.51.100.5/30")}},
				Routes: []string{"203.0.113.0/24 via 198.51.100.6", "198.18.0.0/24 via 198.51.100.1"},
				ICMP:   responder.Policy{Silent: true, RateBurst: 10, RateInterval: 100 * time.Millisecond, QuoteAll: true, NoEcho: true, Delay: 50 * time.Millisecond},
			},
			{
				Pos: Pos{28, 5}, Name: "r3",
				Ifaces: []IfaceSpec{{Name: "eth0", Addr: p("198.51.100.6/30")}, {Name: "eth1", Addr: p("203.0.113.1/24")}},
				Routes: []string{"default via 198.51.100.5"},
				ICMP:   responder.Policy{Quote: 1000, Source: responder.SourceFixed, SourceAddr: a("198.51.100.6")},
			},
		},
		Links: []*LinkSpec{
			{Pos: Pos{33, 7}, A: Endpoint{"client", ""}, B: Endpoint{"r1", "eth0"}, MTU: 1500},
			{
				Pos: Pos{34, 7}, A: Endpoint{"r1", "eth1"}, B: Endpoint{"r2", "eth0"}, MTU: 1400,
				Impairment: Impairment{Delay: 5 * time.Millisecond, Jitter: time.Millisecond, Loss: 1.5},
			},
			{Pos: Pos{35, 7}, A: Endpoint{"r2", "eth1"}, B: Endpoint{"r3", "eth0"}, MTU: 1500, Down: true},
			{Pos: Pos{37, 7}, A: Endpoint{"r3", "eth1"}, B: Endpoint{"server", ""}, MTU: 1500},
		},
		Timeline: []Event{
			{Pos: Pos{39, 5}, At: time.Second, Kind: LinkState, Link: Endpoint{"r2", "eth1"}, Up: true},
			{Pos: Pos{40, 5}, At: 5 * time.Second, Kind: LinkState, Link: Endpoint{"r2", "eth1"}},
			{Pos: Pos{41, 5}, At: 6 * time.Second, Kind: LinkImpair, Link: Endpoint{"r3", "eth0"}, Impair: Impairment{Delay: 20 * time.Millisecond}},
			{Pos: Pos{42, 5}, At: 7 * time.Second, Kind: RouteAdd, Router: "r1", Route: "198.18.9.0/24 via 198.51.100.2"},
			{Pos: Pos{43, 5}, At: 7 * time.Second, Kind: RouteReplace, Router: "r1", Route: "198.18.9.0/24 via 198.51.100.2"},
			{Pos: Pos{44, 5}, At: 7500 * time.Millisecond, Kind: RouteDelete, Router: "r1", Route: "198.18.9.0/24"},
			{Pos: Pos{45, 5}, At: 8 * time.Second, Kind: PolicySet, Router: "r2", Policy: responder.Policy{Silent: true}},
			{Pos: Pos{46, 5}, At: 9 * time.Second, Kind: Flap, Link: Endpoint{"r1", "eth1"}, Period: 2 * time.Second, Count: 3},
		},
		Steps: []Step{
			{
				Pos: Pos{48, 5}, On: "client", Run: "traceroute -n -q1 203.0.113.10", Timeout: 20 * time.Second,
				Expect: StepExpect{Exit: ptr(0), Output: []string{"^ 1  198.18.0.1 ", `^ 2  \*`}, NoOutput: []string{"!N"}},
			},
			{
				Pos: Pos{56, 5}, At: time.Second, After: true, On: "client", Timeout: 2 * time.Second,
				Probe: &ProbeSpec{Kind: ProbeUDP, Dst: ap("203.0.113.10:33434"), TTL: 1, Size: 100, DF: true, Count: 10},
				Expect: StepExpect{
					Errno:    "EHOSTUNREACH",
					ICMP:     &ICMPMatch{Type: ipv4.ICMPTypeTimeExceeded, Code: code(0), From: a("198.18.0.1"), About: a("203.0.113.10")},
					Answered: ptr(6),
				},
			},
			{
				Pos: Pos{63, 5}, After: true, On: "client", Timeout: 2 * time.Second,
				Probe:  &ProbeSpec{Kind: ProbeTCP, Dst: ap("203.0.113.10:80"), Count: 1},
				Expect: StepExpect{Reply: true, ICMP: &ICMPMatch{AnyType: true, Code: code(3)}},
			},
			{
				Pos: Pos{67, 5}, At: 12 * time.Second, On: "server", Timeout: 2 * time.Second,
				Probe:  &ProbeSpec{Kind: ProbeEcho, Dst: ap("198.18.0.10:0"), Count: 1},
				Expect: StepExpect{NoAnswer: true, Errno: "none"},
			},
		},
		Watches: []Watch{
			{Pos: Pos{72, 5}, Host: "client", Match: ICMPMatch{Type: ipv4.ICMPTypeTimeExceeded, From: a("198.51.100.2")}, Min: 1, Until: 10 * time.Second},
			{Pos: Pos{73, 5}, Host: "client", Match: ICMPMatch{Type: ipv4.ICMPTypeRedirect}, Never: true},
			{Pos: Pos{74, 5}, Host: "server", Match: ICMPMatch{Type: ipv4.ICMPTypeDestinationUnreachable, Code: code(packet.CodeFragNeeded)}, Min: 2},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(%s) differs from what was expected:\n%s", file, diffJSON(got, want))
	}
}

// diffJSON shows the lines of got and want, as JSON, that differ.
func diffJSON(got, want any) string {
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	gl, wl := strings.Split(string(g), "\n"), strings.Split(string(w), "\n")
	var b strings.Builder
	for i := range max(len(gl), len(wl)) {
		var x, y string
		if i < len(gl) {
			x = gl[i]
		}
		if i < len(wl) {
			y = wl[i]
		}
		if x != y {
			fmt.Fprintf(&b, "line %d:\n  got:  %s\n  want: %s\n", i+1, x, y)
		}
	}
	if b.Len() == 0 {
		return "(the JSON forms are equal: a difference JSON does not show, such as a nil against an empty slice)"
	}
	return b.String()
}

// TestParseBad parses each file in testdata/bad and checks the whole
// message, position included. Every file there has a row.
func TestParseBad(t *testing.T) {
	tests := []struct {
		name string // testdata/bad/NAME.yaml
		want string
	}{
		{"bad-host-name",
			`bad-host-name.yaml:5:5: topology.hosts.Client: got "Client", want a name of lowercase letters, digits and '-', starting with a letter or digit, at most 20 characters`},
		{"bad-prefix",
			`bad-prefix.yaml:9:16: topology.routers.r1.routes[0]: got "198.51.100/24 via 203.0.113.2", want a route such as "203.0.113.0/24 via 198.51.100.2" (prefix: got "198.51.100/24", want an IPv4 prefix such as 198.18.0.0/26 or default)`},
		{"bad-quote",
			`bad-quote.yaml:9:21: topology.routers.r1.icmp.quote: got 20, want 576 (the default: fill a 576-byte error), rfc792 or 8 (the header and 8 bytes), a byte count from 28 to 65535, or all`},
		{"bad-regexp",
			"bad-regexp.yaml:14:30: steps[0].expect.output[1]: got \"ttl=[0-9+\", want a regular expression (Go syntax) such as \"^ 1  198.18.0.1 \" (error parsing regexp: missing closing ]: `[0-9+`)"},
		{"between-backwards",
			`between-backwards.yaml:13:20: expect[0].between[1]: got "2s", want a time after 10s`},
		{"delay-too-long",
			`delay-too-long.yaml:9:40: topology.links[0].delay: got "100000h", want a delay from 0 to 60s, such as 20ms`},
		{"duplicate-address",
			`duplicate-address.yaml:5:20: topology.hosts.client.addr: got "198.18.0.1/24", want an address no other host or interface has (r1:eth0 has 198.18.0.1)`},
		{"duplicate-key",
			`duplicate-key.yaml:10:9: topology.routers.r1.ifaces.eth0: got the key "eth0" again, want each key once ("eth0" is at line 9)`},
		{"duplicate-name",
			`duplicate-name.yaml:7:5: topology.routers.client: got "client", want a router name no host has (there is a host client)`},
		{"end-on-two-links",
			`end-on-two-links.yaml:11:16: topology.links[1][1]: got "r1:eth0", want an end not on another link (r1:eth0 is on the link at line 10)`},
		{"errno-alias",
			`errno-alias.yaml:13:21: steps[0].expect.errno: got "EWOULDBLOCK", want a Linux errno name such as ENETUNREACH, EHOSTUNREACH, ECONNREFUSED or EMSGSIZE, or none (Linux calls EWOULDBLOCK EAGAIN)`},
		{"event-unknown-link",
			`event-unknown-link.yaml:11:20: timeline[0].link: got "r1:eth1", want an end of a link in topology.links, such as client (no link has the end r1:eth1; the ends are client, r1:eth0)`},
		{"event-unknown-router",
			`event-unknown-router.yaml:11:22: timeline[0].router: got "r2", want a router of topology.routers, such as r1 (no router r2)`},
		{"exit-for-probe",
			`exit-for-probe.yaml:13:14: steps[0].expect.exit: got the key "exit" in a probe step, want one of errno, icmp, answered, reply, no_answer, gateway, route_via (exit is for run steps)`},
		{"flap-zero-count",
			`flap-zero-count.yaml:15:14: timeline[0].flap.count: got 0, want how many times the link goes down, 1 to 10000`},
		{"gw-off-subnet",
			`gw-off-subnet.yaml:5:40: topology.hosts.client.gw: got "198.18.1.1", want an IPv4 address in 198.18.0.0/24, such as 198.18.0.1 (a gateway must be on the host's subnet)`},
		{"host-iface-lo",
			`host-iface-lo.yaml:5:59: topology.hosts.client.iface: got "lo", want an interface name other than lo, which every namespace has`},
		{"host-in-no-link",
			`host-in-no-link.yaml:6:5: topology.hosts.server: got "server" in no link, want every host on one link, such as [server, r1:eth0] in topology.links`},
		{"host-off-subnet",
			`host-off-subnet.yaml:6:20: topology.hosts.server.addr: got "203.0.113.10/24", want an address in 203.0.114.0/24, the subnet of r1:eth1 it links to`},
		{"host-route-not-via",
			`host-route-not-via.yaml:7:16: topology.hosts.client.routes[0]: got "unreachable 203.0.113.0/24", want a route such as "203.0.113.0/24 via 198.18.0.1" (hosts take only PREFIX via ADDR)`},
		{"host-to-host",
			`host-to-host.yaml:10:7: topology.links[0]: got two hosts (client, server), want a link with at least one router end, such as [client, r1:eth0]`},
		{"link-and-router",
			`link-and-router.yaml:11:42: timeline[0].router: got router together with link, want only one of link, router, flap`},
		{"long-value",
			`long-value.yaml:2:7: name: got "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…" (200 bytes), want a scenario name of lowercase letters, digits and '-', at most 64 characters, such as silent-hop`},
		{"loss-150",
			`loss-150.yaml:10:13: topology.links[0].loss: got 150, want a loss in percent from 0 to 100, such as 1.5`},
		{"missing-interface",
			`missing-interface.yaml:9:16: topology.links[0][1]: got "r1:eth9", want an interface of r1 (router r1 has no interface eth9; it has eth0, eth1)`},
		{"missing-name",
			`missing-name.yaml:2:1: name: got nothing, want a scenario name of lowercase letters, digits and '-', at most 64 characters, such as silent-hop`},
		{"mtu-too-small",
			`mtu-too-small.yaml:9:38: topology.links[0].mtu: got 60, want an MTU from 68 to 65535`},
		{"negative-delay",
			`negative-delay.yaml:9:40: topology.links[0].delay: got "-5ms", want a duration of 0 or more, such as 5ms`},
		{"never-with-min",
			`never-with-min.yaml:11:45: expect[0].min: got min with never, want min only with receives`},
		{"no-routers",
			`no-routers.yaml:6:3: topology.routers: got no routers, want at least one router, such as r1: {ifaces: {eth0: 198.18.0.1/24}}`},
		{"overlapping-subnets",
			`overlapping-subnets.yaml:10:15: topology.routers.r1.ifaces.eth1: got "198.18.0.129/25", want a subnet apart from the router's others (198.18.0.128/25 overlaps 198.18.0.0/24 of eth0)`},
		{"route-gateway-off-link",
			`route-gateway-off-link.yaml:9:16: topology.routers.r1.routes[0]: got "default via 198.51.100.2", want a route such as "203.0.113.0/24 via 198.51.100.2" (gateway 198.51.100.2 is on none of the router's subnets)`},
		{"route-via-own-address",
			`route-via-own-address.yaml:9:16: topology.routers.r1.routes[0]: got "198.19.0.0/16 via 198.51.100.1", want a route such as "203.0.113.0/24 via 198.51.100.2" (gateway 198.51.100.1 is the router's own address on eth0)`},
		{"router-link-subnets",
			`router-link-subnets.yaml:11:17: topology.links[1][1]: got "r2:eth0", want an interface on r1:eth1's subnet 198.51.100.0/30 (r2:eth0 is on 198.51.100.4/30)`},
		{"run-and-probe",
			`run-and-probe.yaml:13:5: steps[0].probe: got probe together with run, want only one of run, probe`},
		{"step-at-backwards",
			`step-at-backwards.yaml:13:10: steps[2].at: got "2s", want 3s or later (steps[0] starts at 3s: time cannot go backwards)`},
		{"step-on-router",
			`step-on-router.yaml:11:10: steps[0].on: got "r1", want a host of topology.hosts, such as client (r1 is a router; steps run on hosts)`},
		{"time-backwards",
			`time-backwards.yaml:13:10: timeline[2].at: got "4s", want 5s or later (timeline[1] is at 5s: time cannot go backwards)`},
		{"unknown-errno",
			`unknown-errno.yaml:13:21: steps[0].expect.errno: got "EUNREACHABLE", want a Linux errno name such as ENETUNREACH, EHOSTUNREACH, ECONNREFUSED or EMSGSIZE, or none`},
		{"unknown-icmp-code",
			`unknown-icmp-code.yaml:14:41: steps[0].expect.icmp.code: got "port", want a code of time-exceeded: ttl (0), reassembly (1), or a number from 0 to 255`},
		{"unknown-icmp-type",
			`unknown-icmp-type.yaml:11:37: expect[0].receives.type: got "ttl-exceeded", want an ICMP type: echo-reply, destination-unreachable, redirect, echo-request, time-exceeded, parameter-problem`},
		{"unknown-key",
			`unknown-key.yaml:7:7: topology.hosts.client.gateway: got the key "gateway", want one of addr, gw, iface, routes, accept_redirects`},
		{"unknown-router",
			`unknown-router.yaml:9:16: topology.links[0][1]: got "r9:eth0", want a host name or ROUTER:IFACE such as r1:eth0 (no router r9)`},
		{"wrong-scalar-type",
			`wrong-scalar-type.yaml:5:70: topology.hosts.client.accept_redirects: got 1, want true or false`},
		{"wrong-type",
			`wrong-type.yaml:9:15: topology.routers.r1.routes: got a mapping, want a list of routes such as ["default via 198.51.100.2"]`},
		{"yaml-syntax",
			`yaml-syntax.yaml:6:3: got invalid YAML (',' or '}' must be specified), want YAML such as the examples in scenarios/README.md`},
	}
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if !slices.ContainsFunc(tests, func(tt struct{ name, want string }) bool { return tt.name == name }) {
			t.Errorf("%s has no row in TestParseBad", f)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/bad", tt.name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(tt.name+".yaml", data)
			if err == nil {
				t.Fatalf("Parse succeeded (%s), want error\n\t%s", s.Name, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error is a %T, want a *ParseError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n\tgot:  %s\n\twant: %s", err, tt.want)
			}
			checkPos(t, string(data), err)
		})
	}
}

// minimal is a valid scenario the inline cases add to.
const minimal = `name: t
topology:
  hosts:
    client: {addr: 198.18.0.10/24, gw: 198.18.0.1}
  routers:
    r1: {ifaces: {eth0: 198.18.0.1/24, eth1: 198.51.100.1/30}}
    r2: {ifaces: {eth0: 198.51.100.2/30}}
  links:
    - [client, r1:eth0]
    - {ends: [r1:eth1, r2:eth0]}
`

// TestParseYAML covers what the YAML itself can do wrong, and the YAML
// features a scenario may use.
func TestParseYAML(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the error; "" for none
	}{
		{"empty", "", `t.yaml:1:1: got an empty file, want a mapping with at least name and topology`},
		{"only a comment", "# nothing here\n", `t.yaml:1:1: got an empty file, want a mapping with at least name and topology`},
		{"a list", "- name: t\n", `t.yaml:1:1: got a list of 1 item, want a mapping with at least name and topology`},
		{"two documents", minimal + "---\nname: u\n", `t.yaml:12:1: got a second YAML document, want one document per file`},
		{"tab indentation", "name: t\ntopology:\n\thosts: {}\n", "t.yaml:3:1: got invalid YAML (found character '\t' that cannot start any token), want YAML such as the examples in scenarios/README.md"},
		{"tag", "name: !!str t\n", `t.yaml:1:7: name: got the tag "!!str", want a value without a YAML tag`},
		{"undefined alias", "name: *n\n", `t.yaml:1:7: name: got *n, want an alias to an anchor defined above it`},
		{"anchor and alias", minimal + "steps:\n  - {on: client, run: \"true\", expect: &e {exit: 0}}\n  - {on: client, run: \"false\", expect: *e}\n", ""},
		{"merge key", minimal + "timeline:\n  - {<<: {at: 1s}, link: client, state: down}\n", `t.yaml:12:6: timeline[0].<<: got the key "<<", want one of at, link, state, delay, jitter, loss, router, route, icmp, flap`},
		{"key with no value is left out", minimal + "timeline:\nsteps:\n", ""},
		{"required key with no value", "name:\n", `t.yaml:1:1: name: got nothing, want a scenario name of lowercase letters, digits and '-', at most 64 characters, such as silent-hop`},
		{"list as a key", "[a]: 1\n", `t.yaml:1:4: got invalid YAML (found an invalid key for this map), want YAML such as the examples in scenarios/README.md`},
		{"too deep", "name: " + strings.Repeat("[", 40) + "\n", `t.yaml:1:39: got more than 32 nested [ and {, want a scenario file`},
		{"too wide", "name:\n" + strings.Repeat(" ", 130) + "- x\n", `t.yaml:2:131: got a block nested beyond column 128, want a scenario file`},
		{"too big", "name: t\n#" + strings.Repeat("x", 1<<20) + "\n", `t.yaml:1:1: got 1048586 bytes, want a scenario file of at most 1048576 bytes`},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
			`t.yaml:5:36: e[7]: got more than 100000 values, want a scenario file`},
		{"seed negative", "name: t\nseed: -1\n", `t.yaml:2:7: seed: got -1, want an unsigned integer such as 1`},
		{"seed quoted", "name: t\nseed: \"1\"\n", `t.yaml:2:7: seed: got "1", want an unsigned integer such as 1`},
		{"seed octal", "name: t\nseed: 010\n", `t.yaml:2:7: seed: got 010, want an unsigned integer such as 1`},
		{"seed max", "name: t\nseed: 18446744073709551615\n" + strings.TrimPrefix(minimal, "name: t\n"), ""},
		{"bad scenario name", "name: Silent_Hop\n", `t.yaml:1:7: name: got "Silent_Hop", want a scenario name of lowercase letters, digits and '-', at most 64 characters, such as silent-hop`},
		{"leading zero", strings.Replace(minimal, "{ends: [r1:eth1, r2:eth0]}", "{ends: [r1:eth1, r2:eth0], mtu: 01500}", 1), `t.yaml:10:39: topology.links[1].mtu: got 01500, want an MTU from 68 to 65535 (without a leading 0)`},
		{"colon ends in a flow list in a flow mapping", minimal + "timeline:\n  - {at: 1s, flap: {link: r2:eth0, period: 1s, count: 1}}\n  - {at: 2s, link: r1:eth1, state: up}\n", ""},
		{"control characters are quoted", "name: t\n\"\\e[31mred\": 1\n", `t.yaml:2:1: "\x1b[31mred": got the key "\x1b[31mred", want one of name, seed, topology, timeline, steps, expect`},
		{"binary", "\x00\x01", `t.yaml:1:1: got binary data (the control character U+0000), want a mapping with at least name and topology`},
		{"not UTF-8", "name: t\n#\xff\n", `t.yaml:2:2: got binary data (the byte 0xff is not UTF-8), want a mapping with at least name and topology`},
		{"junk after a comment sign is not empty", "#\xa2", `t.yaml:1:2: got binary data (the byte 0xa2 is not UTF-8), want a mapping with at least name and topology`},
		{"DEL", "name: t\x7f\n", `t.yaml:1:8: got binary data (the control character U+007F), want a mapping with at least name and topology`},
		{"byte order mark, tab and CRLF are text", "\uFEFF" + minimal + "# a\ttab\r\n", ""},
		{"quoted key is a key", minimal + "timeline:\n  - {at: 1s, flap: {link: [\"r2\":eth0], period: 1s, count: 1}}\n", `t.yaml:12:27: timeline[0].flap.link: got a list of 1 item, want an end of a link in topology.links, such as client`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.in))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("error\n\tgot:  %s\n\twant: %s", got, tt.want)
			}
			checkPos(t, tt.in, err)
		})
	}
}

// TestParseErrorClips checks that a message repeats at most the start of
// a long value, saying how long it was, and short values whole.
func TestParseErrorClips(t *testing.T) {
	a60, a := strings.Repeat("a", 60), strings.Repeat("A", 60)
	const nameWant = "want a scenario name of lowercase letters, digits and '-', at most 64 characters, such as silent-hop"
	for _, tt := range []struct{ name, in, want string }{
		{"60 bytes whole", "name: " + a + "\n", `t.yaml:1:7: name: got "` + a + `", ` + nameWant},
		{"61 bytes cut", "name: " + a + "A\n", `t.yaml:1:7: name: got "` + a + `…" (61 bytes), ` + nameWant},
		{"900 KB", "name: " + strings.Repeat("a", 900_000) + "\n", `t.yaml:1:7: name: got "` + a60 + `…" (900000 bytes), ` + nameWant},
		{"escapes count", "name: \"" + strings.Repeat(`\x01`, 100) + "\"\n", `t.yaml:1:7: name: got "` + strings.Repeat(`\x01`, 15) + `…" (100 bytes), ` + nameWant},
		{"whole characters", "name: " + strings.Repeat("é", 100) + "\n", `t.yaml:1:7: name: got "` + strings.Repeat("é", 30) + `…" (200 bytes), ` + nameWant},
		{"long key in path and got", strings.Repeat("k", 100) + ": 1\n",
			`t.yaml:1:1: "` + strings.Repeat("k", 60) + `…" (100 bytes): got the key "` + strings.Repeat("k", 60) + `…" (100 bytes), want one of name, seed, topology, timeline, steps, expect`},
		{"long alias, not quoted", "name: *" + strings.Repeat("x", 300) + "\n", `t.yaml:1:7: name: got *` + strings.Repeat("x", 199) + `… (301 bytes), want an alias to an anchor defined above it`},
		{"long value in want", strings.Replace(minimal, "[client, r1:eth0]", "[client, r1:eth"+strings.Repeat("0", 100)+"]", 1),
			`t.yaml:9:16: topology.links[0][1]: got "r1:eth` + strings.Repeat("0", 54) + `…" (106 bytes), want an interface of r1 (router r1 has no interface "eth` + strings.Repeat("0", 57) + `…" (103 bytes); it has eth0, eth1)`},
		{"long regexp in want", minimal + "steps:\n  - {on: client, run: ls, expect: {output: [\"[" + strings.Repeat("x", 100) + "\"]}}\n",
			"t.yaml:12:45: steps[0].expect.output[0]: got \"[" + strings.Repeat("x", 59) + "…\" (101 bytes), want a regular expression (Go syntax) such as \"^ 1  198.18.0.1 \" (error parsing regexp: missing closing ]: `[" + strings.Repeat("x", 59) + "…` (101 bytes))"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n\tgot:  %v\n\twant: %s", err, tt.want)
			}
			checkPos(t, tt.in, err)
		})
	}
}

// checkPos checks that an error about a value or key points at it: the
// text at its line and column starts with what it got.
func checkPos(t *testing.T, src string, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		return
	}
	lines := strings.Split(src, "\n")
	if pe.Line > len(lines) || pe.Column > len(lines[pe.Line-1])+1 {
		t.Errorf("%s: no such position in the input", err)
		return
	}
	at := lines[pe.Line-1][pe.Column-1:]
	want := pe.Got
	if k, ok := strings.CutPrefix(pe.Got, "the key "); ok {
		q, err := strconv.QuotedPrefix(k)
		if err != nil {
			t.Errorf("%s: got %q names no key", err, pe.Got)
			return
		}
		want, _ = strconv.Unquote(q)
	} else if s, err := strconv.Unquote(pe.Got); err == nil {
		want = s
	} else if pe.Got == "nothing" || strings.Contains(pe.Got, " ") {
		return // a description such as "a list"
	}
	if strings.HasPrefix(at, `"`) || strings.HasPrefix(at, "'") {
		return // quoted in the file: escapes differ
	}
	if !strings.HasPrefix(at, want) {
		t.Errorf("%s: points at %q, not at %q", err, at, want)
	}
}

// TestParseChecks covers the checks the bad files do not, each with
// its message.
func TestParseChecks(t *testing.T) {
	topo := func(hosts, routers, links string) string {
		return "name: t\ntopology:\n  hosts: " + hosts + "\n  routers: " + routers + "\n  links: " + links + "\n"
	}
	const (
		client = `{client: {addr: 198.18.0.10/24, gw: 198.18.0.1}}`
		r1     = `{r1: {ifaces: {eth0: 198.18.0.1/24, eth1: 198.51.100.1/30}}, r2: {ifaces: {eth0: 198.51.100.2/30}}}`
		links  = `[[client, r1:eth0], [r1:eth1, r2:eth0]]`
	)
	ok := topo(client, r1, links)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"ok", ok, ""},
		{"no topology", "name: t\n", `t.yaml:1:1: topology: got nothing, want a mapping with hosts, routers and links`},
		{"no routers key", "name: t\ntopology: {hosts: {}}\n", `t.yaml:2:11: topology.routers: got no routers, want at least one router, such as r1: {ifaces: {eth0: 198.18.0.1/24}}`},
		{"hosts is a list", topo(`[client]`, r1, links), `t.yaml:3:10: topology.hosts: got a list of 1 item, want a mapping of host names to hosts, such as {client: {addr: 198.18.0.10/24, gw: 198.18.0.1}}`},
		{"host name too long", topo(`{a123456789012345678901: {addr: 198.18.0.10/24}}`, r1, links), `t.yaml:3:11: topology.hosts.a123456789012345678901: got "a123456789012345678901", want a name of lowercase letters, digits and '-', starting with a letter or digit, at most 20 characters`},
		{"host name starts with -", topo(`{-x: {addr: 198.18.0.10/24}}`, r1, links), `t.yaml:3:11: topology.hosts.-x: got "-x", want a name of lowercase letters, digits and '-', starting with a letter or digit, at most 20 characters`},
		{"host without addr", topo(`{client: {gw: 198.18.0.1}}`, r1, links), `t.yaml:3:19: topology.hosts.client.addr: got nothing, want an IPv4 address with its prefix length, such as 198.18.0.10/24`},
		{"host with nothing", topo(`{client: }`, r1, links), `t.yaml:3:11: topology.hosts.client.addr: got nothing, want an IPv4 address with its prefix length, such as 198.18.0.10/24`},
		{"host addr without length", topo(`{client: {addr: 198.18.0.10}}`, r1, links), `t.yaml:3:26: topology.hosts.client.addr: got "198.18.0.10", want an IPv4 address with its prefix length, such as 198.18.0.10/24`},
		{"host addr IPv6", topo(`{client: {addr: "2001:db8::1/64"}}`, r1, links), `t.yaml:3:26: topology.hosts.client.addr: got "2001:db8::1/64", want an IPv4 address with its prefix length, such as 198.18.0.10/24`},
		{"host addr is the subnet", topo(`{client: {addr: 198.18.0.0/24}}`, r1, links), `t.yaml:3:26: topology.hosts.client.addr: got "198.18.0.0/24", want an IPv4 address with its prefix length, such as 198.18.0.10/24 (that is the subnet's own address)`},
		{"host addr is broadcast", topo(`{client: {addr: 198.18.0.255/24}}`, r1, links), `t.yaml:3:26: topology.hosts.client.addr: got "198.18.0.255/24", want an IPv4 address with its prefix length, such as 198.18.0.10/24 (that is the subnet's broadcast address)`},
		{"gw is the host", topo(`{client: {addr: 198.18.0.10/24, gw: 198.18.0.10}}`, r1, links), `t.yaml:3:46: topology.hosts.client.gw: got "198.18.0.10", want an IPv4 address in 198.18.0.0/24, such as 198.18.0.1 (that is the host's own address)`},
		{"iface too long", topo(`{client: {addr: 198.18.0.10/24, iface: a234567890123456}}`, r1, links), `t.yaml:3:49: topology.hosts.client.iface: got "a234567890123456", want an interface name of letters, digits, '_', '.' and '-', at most 15 characters, such as eth0`},
		{"iface with colon", topo(`{client: {addr: 198.18.0.10/24, iface: "gw:0"}}`, r1, links), `t.yaml:3:49: topology.hosts.client.iface: got "gw:0", want an interface name of letters, digits, '_', '.' and '-', at most 15 characters, such as eth0`},
		{"iface lo", topo(`{client: {addr: 198.18.0.10/24, iface: lo}}`, r1, links), `t.yaml:3:49: topology.hosts.client.iface: got "lo", want an interface name other than lo, which every namespace has`},
		{"iface all", topo(`{client: {addr: 198.18.0.10/24, iface: all}}`, r1, links), `t.yaml:3:49: topology.hosts.client.iface: got "all", want an interface name other than all, which Linux keeps for /proc/sys/net/ipv4/conf/all`},
		{"iface default", topo(`{client: {addr: 198.18.0.10/24, iface: default}}`, r1, links), `t.yaml:3:49: topology.hosts.client.iface: got "default", want an interface name other than default, which Linux keeps for /proc/sys/net/ipv4/conf/default`},
		{"iface tunl0", topo(`{client: {addr: 198.18.0.10/24, iface: tunl0}}`, r1, links), `t.yaml:3:49: topology.hosts.client.iface: got "tunl0", want an interface name other than tunl0, which the ipip module adds to every namespace`},
		{"iface lo0", topo(`{client: {addr: 198.18.0.10/24, iface: lo0}}`, r1, links), ""},
		{"host route via off-subnet", topo(`{client: {addr: 198.18.0.10/24, routes: ["203.0.113.0/24 via 198.51.100.1"]}}`, r1, links), `t.yaml:3:51: topology.hosts.client.routes[0]: got "203.0.113.0/24 via 198.51.100.1", want a route such as "203.0.113.0/24 via 198.18.0.1" (via: 198.51.100.1 is not a neighbour on 198.18.0.0/24)`},
		{"host route host bits", topo(`{client: {addr: 198.18.0.10/24, routes: ["203.0.113.1/24 via 198.18.0.1"]}}`, r1, links), `t.yaml:3:51: topology.hosts.client.routes[0]: got "203.0.113.1/24 via 198.18.0.1", want a route such as "203.0.113.0/24 via 198.18.0.1" (prefix: got "203.0.113.1/24", which has host bits set; want 203.0.113.0/24)`},
		{"host default route and gw", topo(`{client: {addr: 198.18.0.10/24, gw: 198.18.0.1, routes: ["default via 198.18.0.2"]}}`, r1, links), `t.yaml:3:67: topology.hosts.client.routes[0]: got "default via 198.18.0.2", want a route such as "203.0.113.0/24 via 198.18.0.1" (gw is the default route already)`},
		{"host route twice", topo(`{client: {addr: 198.18.0.10/24, routes: ["203.0.113.0/24 via 198.18.0.1", "203.0.113.0/24 via 198.18.0.2"]}}`, r1, links), `t.yaml:3:84: topology.hosts.client.routes[1]: got "203.0.113.0/24 via 198.18.0.2", want a route such as "203.0.113.0/24 via 198.18.0.1" (routes[0] is for 203.0.113.0/24 already)`},
		{"router without ifaces", topo(client, `{r1: {routes: []}}`, links), `t.yaml:4:17: topology.routers.r1.ifaces: got nothing, want a mapping of interface names to addresses, such as {eth0: 198.18.0.1/24, eth1: 198.51.100.1/30}`},
		{"router ifaces empty", topo(client, `{r1: {ifaces: {}}}`, links), `t.yaml:4:26: topology.routers.r1.ifaces: got an empty mapping, want a mapping of interface names to addresses, such as {eth0: 198.18.0.1/24, eth1: 198.51.100.1/30}`},
		{"router route twice", topo(client, `{r1: {ifaces: {eth0: 198.18.0.1/24}, routes: [default via 198.18.0.2, "0.0.0.0/0 via 198.18.0.3"]}}`, `[[client, r1:eth0]]`), `t.yaml:4:82: topology.routers.r1.routes[1]: got "0.0.0.0/0 via 198.18.0.3", want a route for another prefix (routes[0] is for 0.0.0.0/0 already)`},
		{"router route dev unknown", topo(client, `{r1: {ifaces: {eth0: 198.18.0.1/24}, routes: ["203.0.113.0/24 dev eth1"]}}`, `[[client, r1:eth0]]`), `t.yaml:4:58: topology.routers.r1.routes[0]: got "203.0.113.0/24 dev eth1", want a route such as "203.0.113.0/24 via 198.51.100.2" (dev: no interface named "eth1")`},
		{"two routers one address", topo(client, `{r1: {ifaces: {eth0: 198.18.0.1/24, eth1: 198.51.100.1/30}}, r2: {ifaces: {eth0: 198.51.100.1/30}}}`, links), `t.yaml:4:93: topology.routers.r2.ifaces.eth0: got "198.51.100.1/30", want an address no other host or interface has (r1:eth1 has 198.51.100.1)`},
		{"router end without iface", topo(client, r1, `[[client, r1]]`), `t.yaml:5:20: topology.links[0][1]: got "r1", want a host name or ROUTER:IFACE such as r1:eth0 (a router end names an interface: r1:eth0)`},
		{"host end with iface", topo(client, r1, `[[client:gw0, r1:eth0]]`), `t.yaml:5:12: topology.links[0][0]: got "client:gw0", want a host name or ROUTER:IFACE such as r1:eth0 (a host end is just its name: client)`},
		{"unknown end", topo(client, r1, `[[laptop, r1:eth0]]`), `t.yaml:5:12: topology.links[0][0]: got "laptop", want a host name or ROUTER:IFACE such as r1:eth0 (no host or router laptop)`},
		{"three ends", topo(client, r1, `[[client, r1:eth0, r2:eth0]]`), `t.yaml:5:11: topology.links[0]: got a list of 3 items, want two ends, such as [client, r1:eth0]`},
		{"link to itself", topo(client, r1, `[[client, r1:eth0], [r2:eth0, r2:eth0]]`), `t.yaml:5:40: topology.links[1][1]: got "r2:eth0", want an end not on another link (r2:eth0 is on this link)`},
		{"link is a string", topo(client, r1, `["client r1:eth0"]`), `t.yaml:5:11: topology.links[0]: got "client r1:eth0", want a link such as [client, r1:eth0] or {ends: [r1:eth1, r2:eth0], mtu: 1400}`},
		{"link without ends", topo(client, r1, `[{mtu: 1400}]`), `t.yaml:5:11: topology.links[0].ends: got nothing, want the two ends of the link, such as [r1:eth1, r2:eth0]`},
		{"jitter not a duration", topo(client, r1, `[[client, r1:eth0], {ends: [r1:eth1, r2:eth0], jitter: 5}]`), `t.yaml:5:65: topology.links[1].jitter: got 5, want a duration such as 5s, 100ms or 1m30s`},
		{"delay too long", topo(client, r1, `[[client, r1:eth0], {ends: [r1:eth1, r2:eth0], delay: 100000h}]`), `t.yaml:5:64: topology.links[1].delay: got "100000h", want a delay from 0 to 60s, such as 20ms`},
		{"jitter too long", topo(client, r1, `[[client, r1:eth0], {ends: [r1:eth1, r2:eth0], jitter: 61s}]`), `t.yaml:5:65: topology.links[1].jitter: got "61s", want a jitter from 0 to 60s, such as 2ms`},
		{"delay and jitter at the bound", topo(client, r1, `[[client, r1:eth0], {ends: [r1:eth1, r2:eth0], delay: 60s, jitter: 1m}]`), ""},
		{"router route via own address", topo(client, `{r1: {ifaces: {eth0: 198.18.0.1/24, eth1: 198.51.100.1/30}, routes: ["198.19.0.0/16 via 198.51.100.1"]}, r2: {ifaces: {eth0: 198.51.100.2/30}}}`, links), `t.yaml:4:81: topology.routers.r1.routes[0]: got "198.19.0.0/16 via 198.51.100.1", want a route such as "203.0.113.0/24 via 198.51.100.2" (gateway 198.51.100.1 is the router's own address on eth1)`},
		{"router route via own address on another dev", topo(client, `{r1: {ifaces: {eth0: 198.18.0.1/24, eth1: 198.51.100.1/30}, routes: ["198.19.0.0/16 via 198.18.0.1 dev eth1"]}, r2: {ifaces: {eth0: 198.51.100.2/30}}}`, links), `t.yaml:4:81: topology.routers.r1.routes[0]: got "198.19.0.0/16 via 198.18.0.1 dev eth1", want a route such as "203.0.113.0/24 via 198.51.100.2" (gateway 198.18.0.1 is the router's own address on eth0)`},
		{"second router default via itself", topo(client, `{r1: {ifaces: {eth0: 198.18.0.1/24, eth1: 198.51.100.1/30}}, r2: {ifaces: {eth0: 198.51.100.2/30}, routes: ["default via 198.51.100.2"]}}`, links), `t.yaml:4:120: topology.routers.r2.routes[0]: got "default via 198.51.100.2", want a route such as "203.0.113.0/24 via 198.51.100.2" (gateway 198.51.100.2 is the router's own address on eth0)`},
		{"loss is a word", topo(client, r1, `[[client, r1:eth0], {ends: [r1:eth1, r2:eth0], loss: none}]`), `t.yaml:5:63: topology.links[1].loss: got "none", want a loss in percent from 0 to 100, such as 1.5`},
		{"down is a word", topo(client, r1, `[[client, r1:eth0], {ends: [r1:eth1, r2:eth0], down: yes}]`), `t.yaml:5:63: topology.links[1].down: got "yes", want true or false`},
		{"ratelimit word", ok + "    # r1\n", ""},
	}
	icmp := func(policy string) string {
		return topo(client, `{r1: {ifaces: {eth0: 198.18.0.1/24}, icmp: `+policy+`}}`, `[[client, r1:eth0]]`)
	}
	tests = append(tests, []struct{ name, in, want string }{
		{"icmp ratelimit word", icmp(`{ratelimit: some}`), `t.yaml:4:67: topology.routers.r1.icmp.ratelimit: got "some", want linux, off, or {burst: 10, interval: 100ms}`},
		{"icmp ratelimit zero interval", icmp(`{ratelimit: {interval: 0s}}`), `t.yaml:4:78: topology.routers.r1.icmp.ratelimit.interval: got "0s", want a duration above 0 such as 100ms (write ratelimit: off for no limit)`},
		{"icmp ratelimit zero burst", icmp(`{ratelimit: {burst: 0}}`), `t.yaml:4:75: topology.routers.r1.icmp.ratelimit.burst: got 0, want a burst of 1 to 1000000 errors`},
		{"icmp ratelimit unknown key", icmp(`{ratelimit: {rate: 5}}`), `t.yaml:4:68: topology.routers.r1.icmp.ratelimit.rate: got the key "rate", want one of burst, interval`},
		{"icmp source word", icmp(`{source: inbound}`), `t.yaml:4:64: topology.routers.r1.icmp.source: got "inbound", want outgoing, incoming, or an IPv4 address such as 198.51.100.1`},
		{"icmp ttl 0", icmp(`{ttl: 0}`), `t.yaml:4:61: topology.routers.r1.icmp.ttl: got 0, want a TTL from 1 to 255`},
		{"icmp quote 70000", icmp(`{quote: 70000}`), `t.yaml:4:63: topology.routers.r1.icmp.quote: got 70000, want 576 (the default: fill a 576-byte error), rfc792 or 8 (the header and 8 bytes), a byte count from 28 to 65535, or all`},
		{"icmp redirects word", icmp(`{redirects: off}`), `t.yaml:4:67: topology.routers.r1.icmp.redirects: got "off", want true or false`},
		{"icmp delay too long", icmp(`{delay: 100000h}`), `t.yaml:4:63: topology.routers.r1.icmp.delay: got "100000h", want a delay from 0 to 60s, such as 50ms`},
		{"icmp is a list", icmp(`[silent]`), `t.yaml:4:55: topology.routers.r1.icmp: got a list of 1 item, want a mapping of ICMP settings such as {silent: true}`},
	}...)
	steps := func(s string) string { return ok + "steps:\n" + s }
	tests = append(tests, []struct{ name, in, want string }{
		{"step with no on", steps("  - {run: ls}\n"), `t.yaml:7:5: steps[0].on: got nothing, want the host the step runs on`},
		{"step on nobody", steps("  - {on: laptop, run: ls}\n"), `t.yaml:7:10: steps[0].on: got "laptop", want a host of topology.hosts, such as client (no host laptop)`},
		{"step with neither", steps("  - {on: client}\n"), `t.yaml:7:5: steps[0]: got a step with neither run nor probe, want run: COMMAND or probe: {udp|tcp|echo: ...}`},
		{"step at and after", steps("  - {at: 1s, after: 1s, on: client, run: ls}\n"), `t.yaml:7:14: steps[0].after: got after together with at, want only one of at, after`},
		{"step empty run", steps("  - {on: client, run: \" \"}\n"), `t.yaml:7:23: steps[0].run: got " ", want a shell command`},
		{"step negative timeout", steps("  - {on: client, run: ls, timeout: -1s}\n"), `t.yaml:7:36: steps[0].timeout: got "-1s", want a duration of 0 or more, such as 5ms`},
		{"proto probe without to", steps("  - {on: client, probe: {proto: 253}}\n"), `t.yaml:7:25: steps[0].probe.to: got nothing, want the destination, an IPv4 address such as 203.0.113.10`},
		{"gateway in a udp probe", steps("  - {on: client, probe: {udp: 203.0.113.1:53}, expect: {gateway: 198.18.0.2}}\n"), `t.yaml:7:66: steps[0].expect.gateway: got gateway in a probe that is not a redirect probe, want gateway only with probe: {redirect: ADDR}`},
		{"probe two kinds", steps("  - {on: client, probe: {udp: 203.0.113.1:53, echo: 203.0.113.1}}\n"), `t.yaml:7:47: steps[0].probe.echo: got echo together with udp, want only one of udp, tcp, echo, redirect, proto`},
		{"probe no kind", steps("  - {on: client, probe: {ttl: 1}}\n"), `t.yaml:7:25: steps[0].probe: got a probe with no udp, tcp, echo, redirect or proto, want a probe such as {udp: 203.0.113.10:33434, ttl: 1}, {tcp: 203.0.113.10:80}, {echo: 203.0.113.10}, {redirect: 198.18.1.1} or {proto: 253, to: 203.0.113.10}`},
		{"probe no port", steps("  - {on: client, probe: {udp: 203.0.113.1}}\n"), `t.yaml:7:31: steps[0].probe.udp: got "203.0.113.1", want an IPv4 address and port such as 203.0.113.10:33434`},
		{"probe port 0", steps("  - {on: client, probe: {tcp: 203.0.113.1:0}}\n"), `t.yaml:7:31: steps[0].probe.tcp: got "203.0.113.1:0", want an IPv4 address and port such as 203.0.113.10:33434`},
		{"probe echo with port", steps("  - {on: client, probe: {echo: 203.0.113.1:7}}\n"), `t.yaml:7:32: steps[0].probe.echo: got "203.0.113.1:7", want an IPv4 address such as 203.0.113.10`},
		{"probe ttl 256", steps("  - {on: client, probe: {echo: 203.0.113.1, ttl: 256}}\n"), `t.yaml:7:50: steps[0].probe.ttl: got 256, want a TTL from 1 to 255`},
		{"probe size too big", steps("  - {on: client, probe: {udp: 203.0.113.1:53, size: 65508}}\n"), `t.yaml:7:53: steps[0].probe.size: got 65508, want a payload size from 0 to 65507 bytes`},
		{"echo probe with size", steps("  - {on: client, probe: {echo: 203.0.113.1, size: 100}}\n"), `t.yaml:7:45: steps[0].probe.size: got the key "size" in an echo probe, want one of echo, ttl, count`},
		{"tcp probe with ttl", steps("  - {on: client, probe: {tcp: 203.0.113.1:80, ttl: 1}}\n"), `t.yaml:7:47: steps[0].probe.ttl: got the key "ttl" in a tcp probe, want one of tcp, count`},
		{"output for a probe", steps("  - {on: client, probe: {echo: 203.0.113.1}, expect: {output: [x]}}\n"), `t.yaml:7:55: steps[0].expect.output: got the key "output" in a probe step, want one of errno, icmp, answered, reply, no_answer, gateway, route_via (output is for run steps)`},
		{"probe count 0", steps("  - {on: client, probe: {echo: 203.0.113.1, count: 0}}\n"), `t.yaml:7:52: steps[0].probe.count: got 0, want a count from 1 to 100000`},
		{"answered above count", steps("  - {on: client, probe: {echo: 203.0.113.1, count: 3}, expect: {answered: 4}}\n"), `t.yaml:7:75: steps[0].expect.answered: got 4, want a count from 0 to the probe's count, 3`},
		{"errno for run", steps("  - {on: client, run: ls, expect: {errno: ENOENT}}\n"), `t.yaml:7:36: steps[0].expect.errno: got the key "errno" in a run step, want one of exit, output, no_output (errno is for probes)`},
		{"exit 256", steps("  - {on: client, run: ls, expect: {exit: 256}}\n"), `t.yaml:7:42: steps[0].expect.exit: got 256, want an exit status from 0 to 255`},
		{"reply and no_answer", steps("  - {on: client, probe: {echo: 203.0.113.1}, expect: {reply: true, no_answer: true}}\n"), `t.yaml:7:79: steps[0].expect.no_answer: got no_answer: true with reply: true, want one of them`},
		{"output a single regexp", steps("  - {on: client, run: ls, expect: {output: \"(\"}}\n"), `t.yaml:7:44: steps[0].expect.output: got "(", want a regular expression (Go syntax) such as "^ 1  198.18.0.1 " (error parsing regexp: missing closing ): ` + "`(`)"},
		{"output a number", steps("  - {on: client, run: ls, expect: {output: [1, {a: b}]}}\n"), `t.yaml:7:48: steps[0].expect.output[1]: got a mapping, want a regular expression (Go syntax) such as "^ 1  198.18.0.1 "`},
		{"code by name without type", steps("  - {on: client, probe: {echo: 203.0.113.1}, expect: {icmp: {code: net}}}\n"), `t.yaml:7:68: steps[0].expect.icmp.code: got "net", want a code from 0 to 255 (a code by name needs a type)`},
		{"code by name of a type with none", steps("  - {on: client, probe: {echo: 203.0.113.1}, expect: {icmp: {type: echo-reply, code: net}}}\n"), `t.yaml:7:86: steps[0].expect.icmp.code: got "net", want a code from 0 to 255 (echo-reply has no named codes)`},
		{"code 256", steps("  - {on: client, probe: {echo: 203.0.113.1}, expect: {icmp: {type: redirect, code: 256}}}\n"), `t.yaml:7:84: steps[0].expect.icmp.code: got 256, want a code of redirect: net (0), host (1), or a number from 0 to 255`},
		{"icmp from not an address", steps("  - {on: client, probe: {echo: 203.0.113.1}, expect: {icmp: {from: r1}}}\n"), `t.yaml:7:68: steps[0].expect.icmp.from: got "r1", want an IPv4 address such as 198.51.100.1`},
	}...)
	timeline := func(s string) string { return ok + "timeline:\n" + s }
	tests = append(tests, []struct{ name, in, want string }{
		{"event without at", timeline("  - {link: client, state: down}\n"), `t.yaml:7:5: timeline[0].at: got nothing, want the time of the event, such as 5s`},
		{"event with nothing", timeline("  - {at: 1s}\n"), `t.yaml:7:5: timeline[0]: got an event with no link, router or flap, want an event such as {at: 5s, link: r1:eth1, state: down}`},
		{"event state word", timeline("  - {at: 1s, link: client, state: off}\n"), `t.yaml:7:35: timeline[0].state: got "off", want up or down`},
		{"event state and loss", timeline("  - {at: 1s, link: client, state: down, loss: 5}\n"), `t.yaml:7:41: timeline[0].loss: got loss together with state, want state, or any of delay, jitter, loss: one change per event`},
		{"event link no change", timeline("  - {at: 1s, link: client}\n"), `t.yaml:7:20: timeline[0]: got a link and no change, want state: up|down, or any of delay, jitter, loss`},
		{"event link with route", timeline("  - {at: 1s, link: client, route: {add: default via 198.18.0.2}}\n"), `t.yaml:7:28: timeline[0].route: got the key "route" in a link event, want one of at, link, state, delay, jitter, loss`},
		{"event router no change", timeline("  - {at: 1s, router: r1}\n"), `t.yaml:7:22: timeline[0]: got a router and no change, want route: {add|delete|replace: ...} or icmp: {...}`},
		{"event route two changes", timeline("  - {at: 1s, router: r1, route: {add: default via 198.18.0.2, delete: default}}\n"), `t.yaml:7:63: timeline[0].route.delete: got delete together with add, want only one of add, delete, replace`},
		{"event route bad", timeline("  - {at: 1s, router: r2, route: {add: default via 198.18.0.2}}\n"), `t.yaml:7:39: timeline[0].route.add: got "default via 198.18.0.2", want a route such as "203.0.113.0/24 via 198.51.100.2" (gateway 198.18.0.2 is on none of the router's subnets)`},
		{"event delete not a prefix", timeline("  - {at: 1s, router: r1, route: {delete: default via 198.18.0.2}}\n"), `t.yaml:7:42: timeline[0].route.delete: got "default via 198.18.0.2", want a prefix such as 198.18.9.0/24 or default`},
		{"event delete host bits", timeline("  - {at: 1s, router: r1, route: {delete: 198.18.9.1/24}}\n"), `t.yaml:7:42: timeline[0].route.delete: got "198.18.9.1/24", want a prefix such as 198.18.9.0/24 or default (host bits are set: 198.18.9.0/24)`},
		{"event route via own address", timeline("  - {at: 1s, router: r1, route: {add: 198.19.0.0/16 via 198.51.100.1}}\n"), `t.yaml:7:39: timeline[0].route.add: got "198.19.0.0/16 via 198.51.100.1", want a route such as "203.0.113.0/24 via 198.51.100.2" (gateway 198.51.100.1 is the router's own address on eth1)`},
		{"event delay too long", timeline("  - {at: 1s, link: client, delay: 100000h}\n"), `t.yaml:7:35: timeline[0].delay: got "100000h", want a delay from 0 to 60s, such as 20ms`},
		{"event jitter too long", timeline("  - {at: 1s, link: client, jitter: 1m0.001s}\n"), `t.yaml:7:36: timeline[0].jitter: got "1m0.001s", want a jitter from 0 to 60s, such as 2ms`},
		{"event icmp bad", timeline("  - {at: 1s, router: r1, icmp: {silent: 1}}\n"), `t.yaml:7:41: timeline[0].icmp.silent: got 1, want true or false`},
		{"flap without period", timeline("  - {at: 1s, flap: {link: client, count: 2}}\n"), `t.yaml:7:20: timeline[0].flap.period: got nothing, want how long the link stays down, then up, such as 2s`},
		{"flap too fast", timeline("  - {at: 1s, flap: {link: client, period: 1ms, count: 2}}\n"), `t.yaml:7:43: timeline[0].flap.period: got "1ms", want a time from 10ms to 1h, such as 2s`},
		{"flap too many", timeline("  - {at: 1s, flap: {link: client, period: 1s, count: 100000}}\n"), `t.yaml:7:54: timeline[0].flap.count: got 100000, want how many times the link goes down, 1 to 10000`},
		{"flap with state", timeline("  - {at: 1s, flap: {link: client, period: 1s, count: 2}, state: up}\n"), `t.yaml:7:58: timeline[0].state: got the key "state" in a flap event, want one of at, flap`},
		{"flap is a string", timeline("  - {at: 1s, flap: client}\n"), `t.yaml:7:20: timeline[0].flap: got "client", want a mapping such as {link: r1:eth1, period: 2s, count: 3}`},
		{"events at the same time", timeline("  - {at: 1s, link: client, state: down}\n  - {at: 1s, link: client, state: up}\n"), ""},
	}...)
	watch := func(s string) string { return ok + "expect:\n" + s }
	tests = append(tests, []struct{ name, in, want string }{
		{"watch without host", watch("  - {never: {type: redirect}}\n"), `t.yaml:7:5: expect[0].host: got nothing, want the host that receives the messages`},
		{"watch on a router", watch("  - {host: r1, never: {type: redirect}}\n"), `t.yaml:7:12: expect[0].host: got "r1", want a host of topology.hosts (no host r1)`},
		{"watch receives and never", watch("  - {host: client, receives: {}, never: {}}\n"), `t.yaml:7:34: expect[0].never: got never together with receives, want only one of receives, never`},
		{"watch neither", watch("  - {host: client}\n"), `t.yaml:7:5: expect[0]: got an expectation with neither receives nor never, want an expectation such as {host: client, receives: {type: time-exceeded}} or {host: client, never: {type: redirect}}`},
		{"watch min 0", watch("  - {host: client, receives: {type: redirect}, min: 0}\n"), `t.yaml:7:53: expect[0].min: got 0, want a count of 1 or more`},
		{"watch between one time", watch("  - {host: client, receives: {type: redirect}, between: [1s]}\n"), `t.yaml:7:57: expect[0].between: got a list of 1 item, want a time window such as [0s, 10s]`},
		{"watch match unknown key", watch("  - {host: client, never: {kind: redirect}}\n"), `t.yaml:7:28: expect[0].never.kind: got the key "kind", want one of type, code, from, about`},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.in))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("error\n\tgot:  %s\n\twant: %s\nin:\n%s", got, tt.want, tt.in)
			}
			checkPos(t, tt.in, err)
		})
	}
}

// TestParseValues checks what keys map to, where the good file does not.
func TestParseValues(t *testing.T) {
	policy := func(t *testing.T, icmp string) responder.Policy {
		t.Helper()
		s, err := Parse("t.yaml", []byte(strings.Replace(minimal, "r2: {ifaces: {eth0: 198.51.100.2/30}}", "r2: {ifaces: {eth0: 198.51.100.2/30}, icmp: "+icmp+"}", 1)))
		if err != nil {
			t.Fatal(err)
		}
		return s.Routers[1].ICMP
	}
	for _, tt := range []struct {
		icmp string
		want responder.Policy
	}{
		{`{}`, responder.Policy{}},
		{`{ratelimit: linux}`, responder.Policy{}},
		{`{ratelimit: off}`, responder.Policy{NoRateLimit: true}},
		{`{ratelimit: {burst: 3}}`, responder.Policy{RateBurst: 3}},
		{`{quote: 576}`, responder.Policy{}},
		{`{quote: 8}`, responder.Policy{Quote: 28}},
		{`{quote: rfc792}`, responder.Policy{Quote: 28}},
		{`{quote: 28}`, responder.Policy{Quote: 28}},
		{`{quote: 65535}`, responder.Policy{Quote: 65535}},
		{`{quote: all}`, responder.Policy{QuoteAll: true}},
		{`{source: outgoing}`, responder.Policy{}},
		{`{source: incoming}`, responder.Policy{Source: responder.SourceIncoming}},
		{`{source: 203.0.113.99}`, responder.Policy{Source: responder.SourceFixed, SourceAddr: netip.MustParseAddr("203.0.113.99")}},
		{`{redirects: true, echo: true, silent: false}`, responder.Policy{}},
		{`{redirects: false, echo: false, silent: true}`, responder.Policy{NoRedirects: true, NoEcho: true, Silent: true}},
		{`{delay: 0}`, responder.Policy{}},
		{`{delay: 1m}`, responder.Policy{Delay: time.Minute}},
		{`{ttl: 1}`, responder.Policy{TTL: 1}},
	} {
		t.Run(tt.icmp, func(t *testing.T) {
			if got := policy(t, tt.icmp); got != tt.want {
				t.Errorf("icmp: %s = %+v, want %+v", tt.icmp, got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		match string
		want  ICMPMatch
	}{
		{`{}`, ICMPMatch{AnyType: true}},
		{`{type: echo-reply}`, ICMPMatch{Type: ipv4.ICMPTypeEchoReply}},
		{`{type: echo-request}`, ICMPMatch{Type: ipv4.ICMPTypeEcho}},
		{`{type: parameter-problem}`, ICMPMatch{Type: ipv4.ICMPTypeParameterProblem}},
		{`{type: destination-unreachable, code: prohibited}`, ICMPMatch{Type: ipv4.ICMPTypeDestinationUnreachable, Code: ptrCode(13)}},
		{`{type: destination-unreachable, code: protocol}`, ICMPMatch{Type: ipv4.ICMPTypeDestinationUnreachable, Code: ptrCode(2)}},
		{`{type: time-exceeded, code: reassembly}`, ICMPMatch{Type: ipv4.ICMPTypeTimeExceeded, Code: ptrCode(1)}},
		{`{type: redirect, code: net}`, ICMPMatch{Type: ipv4.ICMPTypeRedirect, Code: ptrCode(0)}},
		{`{type: redirect, code: host}`, ICMPMatch{Type: ipv4.ICMPTypeRedirect, Code: ptrCode(1)}},
		{`{code: 255, about: 203.0.113.1}`, ICMPMatch{AnyType: true, Code: ptrCode(255), About: netip.MustParseAddr("203.0.113.1")}},
	} {
		t.Run(tt.match, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(minimal+"expect:\n  - {host: client, never: "+tt.match+"}\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Watches[0].Match; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %s, want %s", tt.match, diffJSON(got, tt.want), "")
			}
		})
	}
}

func ptrCode(c packet.Code) *packet.Code { return &c }

// TestParseAbout checks which comment becomes About.
func TestParseAbout(t *testing.T) {
	for _, tt := range []struct{ name, head, want string }{
		{"none", "", ""},
		{"one line", "# Hop 2 is silent.\n", "Hop 2 is silent."},
		{"after blank lines", "\n\n#   Indented.\n", "  Indented."},
		{"two lines", "# One\n#two\n", "One\ntwo"},
		{"first block only", "# One\n\n# Two\n", "One"},
		{"byte order mark", "\uFEFF# One\n", "One"},
		{"a key first", "seed: 1\n# Not this\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tt.head+minimal))
			if err != nil {
				t.Fatal(err)
			}
			if s.About != tt.want {
				t.Errorf("About = %q, want %q", s.About, tt.want)
			}
		})
	}
}

// TestLibrary loads every built-in scenario.
func TestLibrary(t *testing.T) {
	names := Library()
	if !slices.IsSorted(names) {
		t.Errorf("Library() = %q, not sorted", names)
	}
	if !slices.Contains(names, "default") {
		t.Fatalf("Library() = %q, want default among them", names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			if s.About == "" {
				t.Errorf("%s has no first comment saying what it shows", name)
			}
			src, err := Source(name)
			if err != nil {
				t.Fatal(err)
			}
			disk, err := os.ReadFile(filepath.Join("library", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if string(src) != string(disk) {
				t.Errorf("Source(%q) is not library/%s.yaml", name, name)
			}
		})
	}
}

// TestLibraryDefault checks that library/default.yaml is the default lab
// of README.md: the client and the server on either side of r1, MTU 1400
// on the server's link, the five demo routes.
func TestLibraryDefault(t *testing.T) {
	got, err := Load("default")
	if err != nil {
		t.Fatal(err)
	}
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	want := &Scenario{
		Name: "default",
		Hosts: []*HostSpec{
			{Name: "client", Iface: "gw0", Addr: p("198.51.100.2/24"), Gateway: a("198.51.100.1"), AcceptRedirects: true},
			{Name: "server", Iface: "gw0", Addr: p("203.0.113.2/24"), Gateway: a("203.0.113.1")},
		},
		Routers: []*RouterSpec{{
			Name:   "r1",
			Ifaces: []IfaceSpec{{Name: "eth0", Addr: p("198.51.100.1/24")}, {Name: "eth1", Addr: p("203.0.113.1/24")}},
			Routes: []string{
				"unreachable net 198.18.0.0/26",
				"unreachable host 198.18.0.64/26",
				"prohibit 198.18.0.128/26",
				"blackhole 198.18.0.192/26",
				"198.18.1.0/24 via 198.51.100.254",
			},
		}},
		Links: []*LinkSpec{
			{A: Endpoint{Node: "client"}, B: Endpoint{Node: "r1", Iface: "eth0"}, MTU: 1500},
			{A: Endpoint{Node: "r1", Iface: "eth1"}, B: Endpoint{Node: "server"}, MTU: 1400},
		},
	}
	// Positions and text are the file's business; the demo's timeline and
	// steps are TestLibraryRuns'.
	got.File, got.About = "", ""
	got.Timeline, got.Steps, got.Watches = nil, nil, nil
	for _, h := range got.Hosts {
		h.Pos = Pos{}
	}
	for _, r := range got.Routers {
		r.Pos = Pos{}
	}
	for _, l := range got.Links {
		l.Pos = Pos{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("library/default.yaml is not the default lab:\n%s", diffJSON(got, want))
	}
}

func TestLoad(t *testing.T) {
	s, err := Load("testdata/good/silent-hop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.File != "testdata/good/silent-hop.yaml" || s.Name != "silent-hop" {
		t.Errorf("Load(file) = %s from %s", s.Name, s.File)
	}
	if _, err := Load("no-such-scenario"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(no-such-scenario) = %v, want fs.ErrNotExist", err)
	}
	if _, err := Source("no-such-scenario"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Source(no-such-scenario) = %v, want fs.ErrNotExist", err)
	}
	_, err = Load("testdata/bad/bad-prefix.yaml")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "testdata/bad/bad-prefix.yaml" || pe.Line != 9 || pe.Column != 16 || pe.Path != "topology.routers.r1.routes[0]" {
		t.Errorf("Load(bad file) = %#v, want a *ParseError at testdata/bad/bad-prefix.yaml:9:16", err)
	}
}

// FuzzParse checks that Parse never panics, that every error is a
// *ParseError with a position, and that what it accepts holds together.
// Seeds: testdata/fuzz/FuzzParse, and every scenario file in the package.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/good/*.yaml", "testdata/bad/*.yaml", "library/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is a %T, want *ParseError", err, err)
			}
			if pe.Line < 1 || pe.Column < 1 || pe.Got == "" || pe.Want == "" || pe.File != "f.yaml" {
				t.Fatalf("error %#v lacks a position, got or want", pe)
			}
			if s != nil {
				t.Fatalf("Parse returned a Scenario and an error")
			}
			return
		}
		checkScenario(t, s)
	})
}

// checkScenario checks the promises Parse makes about what it returns.
func checkScenario(t *testing.T, s *Scenario) {
	t.Helper()
	if len(s.Routers) == 0 {
		t.Fatal("no routers")
	}
	nodes := map[string]bool{}
	ends := map[Endpoint]bool{}
	for _, h := range s.Hosts {
		nodes[h.Name] = true
		if !h.Addr.IsValid() || h.Iface == "" {
			t.Fatalf("host %s: addr %v iface %q", h.Name, h.Addr, h.Iface)
		}
	}
	for _, r := range s.Routers {
		if nodes[r.Name] {
			t.Fatalf("name %s twice", r.Name)
		}
		nodes[r.Name] = true
		for _, ifc := range r.Ifaces {
			ends[Endpoint{r.Name, ifc.Name}] = true
		}
	}
	linked := map[Endpoint]int{}
	for _, l := range s.Links {
		for _, e := range []Endpoint{l.A, l.B} {
			if !ends[e] && !(e.Iface == "" && nodes[e.Node]) {
				t.Fatalf("link end %s does not exist", e)
			}
			linked[e]++
		}
		if l.MTU < 68 || l.MTU > 65535 || l.Loss < 0 || l.Loss > 100 || l.Delay < 0 || l.Jitter < 0 {
			t.Fatalf("link %s-%s: %+v", l.A, l.B, l)
		}
	}
	for _, h := range s.Hosts {
		if linked[Endpoint{Node: h.Name}] != 1 {
			t.Fatalf("host %s on %d links", h.Name, linked[Endpoint{Node: h.Name}])
		}
	}
	for i, e := range s.Timeline {
		if i > 0 && e.At < s.Timeline[i-1].At {
			t.Fatalf("timeline[%d] at %v before %v", i, e.At, s.Timeline[i-1].At)
		}
		if e.Kind < LinkState || e.Kind > Flap {
			t.Fatalf("timeline[%d] kind %d", i, e.Kind)
		}
	}
	for i, st := range s.Steps {
		if (st.Run == "") == (st.Probe == nil) || st.Timeout <= 0 || !nodes[st.On] {
			t.Fatalf("steps[%d]: %+v", i, st)
		}
	}
}

func TestParseEvent(t *testing.T) {
	sc := Default()
	e, err := ParseEvent(sc, "request", []byte(`{"link": "r1:eth1", "state": "down"}`))
	if err != nil || e.Kind != LinkState || e.Link != (Endpoint{Node: "r1", Iface: "eth1"}) || e.Up {
		t.Errorf("link down: %+v, %v", e, err)
	}
	e, err = ParseEvent(sc, "request", []byte(`{router: r1, route: {add: "198.19.0.0/16 via 203.0.113.2"}}`))
	if err != nil || e.Kind != RouteAdd || e.Route != "198.19.0.0/16 via 203.0.113.2" {
		t.Errorf("route add: %+v, %v", e, err)
	}
	for _, tt := range []struct{ in, want string }{
		{`{router: r9, icmp: {silent: true}}`, `request:1:10: change.router: got "r9", want`},
		{`{at: 1s, link: r1:eth1, state: down}`, `request:1:2: change.at: got the key "at"`},
		{`{link: r1:eth7, state: down}`, `no link has the end r1:eth7`},
		{`{router: r1, route: {add: "198.19.0.0/16 via 198.19.5.5"}}`, `gateway 198.19.5.5 is on none of the router's subnets`},
	} {
		_, err := ParseEvent(sc, "request", []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseEvent(%s) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}

// TestParseEventErrors checks ParseEvent's whole messages where they
// differ from a scenario file's: what a change is, and the bounds and
// checks it shares with the timeline.
func TestParseEventErrors(t *testing.T) {
	sc := Default()
	const want = "want a mapping such as {link: r1:eth1, state: down}"
	for _, tt := range []struct{ name, in, want string }{
		{"empty", "", "change:1:1: got an empty change, " + want},
		{"only a comment", "# nothing\n", "change:1:1: got an empty change, " + want},
		{"a list", "[{link: r1:eth1, state: down}]", "change:1:1: got a list of 1 item, " + want},
		{"a word", "down", `change:1:1: got "down", ` + want},
		{"gzip", "\x1f\x8b\x08\x00", "change:1:1: got binary data (the control character U+001F), " + want},
		{"not UTF-8 after #", "#\xa2", "change:1:2: got binary data (the byte 0xa2 is not UTF-8), " + want},
		{"two changes", "{link: r1:eth1, state: down}\n---\n{link: r1:eth1, state: up}\n", "change:3:1: got a second YAML document, want one change at a time"},
		{"delay too long", "{link: r1:eth1, delay: 100000h}", `change:1:24: change.delay: got "100000h", want a delay from 0 to 60s, such as 20ms`},
		{"jitter too long", "{link: r1:eth1, jitter: 2m}", `change:1:25: change.jitter: got "2m", want a jitter from 0 to 60s, such as 2ms`},
		{"icmp delay too long", "{router: r1, icmp: {delay: 2m}}", `change:1:28: change.icmp.delay: got "2m", want a delay from 0 to 60s, such as 50ms`},
		{"route add via own address", "{router: r1, route: {add: 198.19.0.0/16 via 198.51.100.1}}",
			`change:1:27: change.route.add: got "198.19.0.0/16 via 198.51.100.1", want a route such as "203.0.113.0/24 via 198.51.100.2" (gateway 198.51.100.1 is the router's own address on eth0)`},
		{"route replace via own address, JSON", `{"router": "r1", "route": {"replace": "198.19.0.0/16 via 203.0.113.1"}}`,
			`change:1:39: change.route.replace: got "198.19.0.0/16 via 203.0.113.1", want a route such as "203.0.113.0/24 via 198.51.100.2" (gateway 203.0.113.1 is the router's own address on eth1)`},
		{"delay at the bound", "{link: r1:eth1, delay: 60s, jitter: 60s}", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEvent(sc, "change", []byte(tt.in))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("ParseEvent(%q)\n\tgot:  %s\n\twant: %s", tt.in, got, tt.want)
			}
			checkPos(t, tt.in, err)
		})
	}
}
