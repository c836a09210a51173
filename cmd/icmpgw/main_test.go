package main

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/icmpgw/icmpgw/scenarios"
)

func TestApplyPolicyFlags(t *testing.T) {
	for _, tt := range []struct {
		name  string
		lf    labFlags
		err   string
		check func(t *testing.T, sc *scenarios.Scenario)
	}{
		{name: "ratelimit off", lf: labFlags{rateLimit: "off", set: map[string]bool{"ratelimit": true}},
			check: func(t *testing.T, sc *scenarios.Scenario) {
				if !sc.Routers[0].ICMP.NoRateLimit {
					t.Error("rate limit still on")
				}
			}},
		{name: "ratelimit 250ms, burst 3", lf: labFlags{rateLimit: "250ms", burst: 3, set: map[string]bool{"ratelimit": true, "burst": true}},
			check: func(t *testing.T, sc *scenarios.Scenario) {
				if p := sc.Routers[0].ICMP; p.RateInterval != 250*time.Millisecond || p.RateBurst != 3 {
					t.Errorf("policy %+v", p)
				}
			}},
		{name: "no redirects on eth0", lf: labFlags{noRedir: "eth0"},
			check: func(t *testing.T, sc *scenarios.Scenario) {
				if !sc.Routers[0].Ifaces[0].NoRedirects || sc.Routers[0].Ifaces[1].NoRedirects {
					t.Errorf("ifaces %+v", sc.Routers[0].Ifaces)
				}
			}},
		{name: "unset flags change nothing", lf: labFlags{rateLimit: "1s", burst: 6},
			check: func(t *testing.T, sc *scenarios.Scenario) {
				if p := sc.Routers[0].ICMP; p.NoRateLimit || p.RateInterval != 0 || p.RateBurst != 0 {
					t.Errorf("policy %+v, want the scenario's", p)
				}
			}},
		{name: "bad ratelimit", lf: labFlags{rateLimit: "5", set: map[string]bool{"ratelimit": true}}, err: `--ratelimit: got "5", want a duration above 0 such as 1s or 250ms, or off`},
		{name: "ratelimit 0", lf: labFlags{rateLimit: "0", set: map[string]bool{"ratelimit": true}}, err: `--ratelimit: got "0", want a duration above 0 such as 1s or 250ms, or off`},
		{name: "bad burst", lf: labFlags{burst: 0, set: map[string]bool{"burst": true}}, err: "--burst: got 0, want 1 to 1000000"},
		{name: "huge burst", lf: labFlags{burst: 99999999999, set: map[string]bool{"burst": true}}, err: "--burst: got 99999999999, want 1 to 1000000"},
		{name: "bad quote", lf: labFlags{quote: 1000, set: map[string]bool{"quote": true}}, err: "--quote: got 1000, want 0 (fill a 576-byte error) or 28 (the IP header + 8 bytes) to 576"},
		{name: "quote below the header and 8 bytes", lf: labFlags{quote: 5, set: map[string]bool{"quote": true}}, err: "--quote: got 5, want 0 (fill a 576-byte error) or 28 (the IP header + 8 bytes) to 576"},
		{name: "unknown interface", lf: labFlags{noRedir: "eth9"}, err: `--no-redirects: no router interface "r1:eth9"; the lab has r1:eth0, r1:eth1`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc := scenarios.Default()
			err := tt.lf.apply(sc)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, sc)
		})
	}
}

func TestHumanRecord(t *testing.T) {
	code := 0
	r := scenarios.Record{Time: time.Date(2026, 12, 3, 17, 31, 48, 31e6, time.UTC), Kind: "icmp", Router: "r1", Iface: "eth0",
		Action: "sent", Type: "destination-unreachable", Code: &code, Src: "198.51.100.1", Dst: "198.51.100.2",
		About: &scenarios.About{Proto: "udp", Src: "198.51.100.2", Dst: "198.18.0.1", TTL: 64, Sport: 40000, Dport: 33434}}
	got := humanRecord(r)
	want := " r1 eth0 sent destination-unreachable/0 198.51.100.1 -> 198.51.100.2 about udp 198.51.100.2:40000 -> 198.18.0.1:33434 ttl 64"
	if !strings.HasSuffix(got, want) {
		t.Errorf("humanRecord = %q, want it to end with %q", got, want)
	}
}

func TestFirstSentence(t *testing.T) {
	if got := firstSentence("One line\nwrapped. Second one."); got != "One line wrapped." {
		t.Errorf("firstSentence = %q", got)
	}
	if got := count(1, "host") + ", " + count(2, "router"); got != "1 host, 2 routers" {
		t.Errorf("count = %q", got)
	}
}

// TestCtlUsageErrors: a bad ctl command line says, last, what was wrong.
func TestCtlUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "missing command"},
		{[]string{"bogus"}, `unknown command "bogus"; the commands are routers, routes, links, link, route, policy, change and events`},
		{[]string{"link"}, `link: got "link", want link END up|down, or link END [delay D] [jitter D] [loss PCT]`},
		{[]string{"link", "r1:eth1", "sideways"}, `link: got "link r1:eth1 sideways", want link END up|down, or link END [delay D] [jitter D] [loss PCT]`},
		{[]string{"routes"}, `routes: got "routes", want routes ROUTER`},
		{[]string{"routers", "--json"}, `routers: got "routers --json", want routers (--json is a flag of ctl: it goes before the command, as in icmpgw ctl --json routers)`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			stderr := os.Stderr
			os.Stderr = w
			err = ctl(tt.args)
			os.Stderr = stderr
			w.Close()
			printed, _ := io.ReadAll(r)
			var fe flagError
			if !errors.As(err, &fe) || err.Error() != tt.want {
				t.Errorf("ctl(%q) = %v, want a usage error %q", tt.args, err, tt.want)
			}
			if lines := strings.Split(strings.TrimSpace(string(printed)), "\n"); lines[len(lines)-1] != "icmpgw ctl: "+tt.want {
				t.Errorf("last line printed %q, want %q", lines[len(lines)-1], "icmpgw ctl: "+tt.want)
			}
		})
	}
}
