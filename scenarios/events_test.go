package scenarios

import (
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/tun/tuntest"
)

func TestEventLogRecordsDecisions(t *testing.T) {
	var buf bytes.Buffer
	l := NewEventLog(&buf)
	eth0 := &routing.Interface{Name: "eth0"}
	client, server := netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("203.0.113.2")
	udp := tuntest.UDP(client, server, 1, 8)
	hook := l.decisions("r1")
	hook(routing.Decision{Reason: responder.TimeExceeded(), In: eth0, Out: eth0, From: netip.MustParseAddr("198.51.100.1"), Orig: udp})
	hook(routing.Decision{Reason: responder.TimeExceeded(), Suppressed: responder.RateLimited, In: eth0, Orig: udp})
	hook(routing.Decision{Suppressed: responder.Blackholed, In: eth0, Orig: tuntest.Ping(client, server, 64, 8)})
	if dropped := l.Close(); dropped != 0 {
		t.Errorf("%d records dropped", dropped)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	var recs []Record
	for _, line := range lines {
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		r.Time = r.Time.UTC().Truncate(0)
		recs = append(recs, r)
	}
	sent, limited, hole := recs[0], recs[1], recs[2]
	if sent.Kind != "icmp" || sent.Router != "r1" || sent.Action != "sent" || sent.Type != "time-exceeded" || *sent.Code != 0 ||
		sent.Src != "198.51.100.1" || sent.Dst != "198.51.100.2" || sent.Iface != "eth0" ||
		*sent.About != (About{Proto: "udp", Src: "198.51.100.2", Dst: "203.0.113.2", TTL: 1, Len: 36, Sport: 40000, Dport: 33434}) {
		t.Errorf("sent record %+v (about %+v)", sent, sent.About)
	}
	if limited.Action != "suppressed" || limited.Reason != "rate-limited" || limited.Src != "" {
		t.Errorf("suppressed record %+v", limited)
	}
	if hole.Reason != "blackhole" || hole.Type != "" || hole.About.Proto != "icmp echo" || hole.About.ID != 7 || hole.About.Seq != 1 {
		t.Errorf("blackhole record %+v (about %+v)", hole, hole.About)
	}
}

// TestAddAfterClose checks that a record added while or after the log
// closes is dropped, not a panic (a control API change racing shutdown).
func TestAddAfterClose(t *testing.T) {
	l := NewEventLog(io.Discard)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 1000 {
			l.Add(Record{Kind: "change"})
		}
	})
	l.Close()
	wg.Wait()
	l.Add(Record{Kind: "change"})
	if l.Close() == 0 {
		t.Error("a record added after Close was not counted as dropped")
	}
}

// TestReplayKeepsTheLastRecords checks the history ring: once more than
// historyLen records have been written, Replay gives the last ones, oldest
// first.
func TestReplayKeepsTheLastRecords(t *testing.T) {
	l := NewEventLog(io.Discard)
	for i := range historyLen + 44 {
		l.Add(Record{Kind: "change", Event: strconv.Itoa(i)})
	}
	l.Close() // waits until every record is written
	past, _, stop := l.Replay()
	stop()
	if len(past) != historyLen || past[0].Event != "44" || past[historyLen-1].Event != strconv.Itoa(historyLen+43) {
		t.Errorf("%d records from %q to %q, want %d from \"44\" to %q", len(past), past[0].Event, past[len(past)-1].Event, historyLen, strconv.Itoa(historyLen+43))
	}
	for i := 1; i < len(past); i++ {
		a, _ := strconv.Atoi(past[i-1].Event)
		b, _ := strconv.Atoi(past[i].Event)
		if b != a+1 {
			t.Fatalf("record %d is %q after %q: not in order", i, past[i].Event, past[i-1].Event)
		}
	}
}
