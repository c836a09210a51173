package wire

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/icmpgw/icmpgw/tun/tuntest"
)

// read takes what p would Read next, waiting at most within.
func read(t *testing.T, p *Port, within time.Duration) ([]byte, bool) {
	t.Helper()
	select {
	case pkt := <-p.in:
		b := append([]byte(nil), pkt.b...)
		p.pool.Put(pkt)
		return b, true
	case <-time.After(within):
		return nil, false
	}
}

func TestPairCarriesBothWays(t *testing.T) {
	l := NewPair("r1:eth1", "r2:eth0", 1500, 1, 0)
	defer l.Close()
	l.A.Write([][]byte{[]byte("to b")})
	l.B.Write([][]byte{[]byte("to a")})
	if b, ok := read(t, l.B, time.Second); !ok || string(b) != "to b" {
		t.Errorf("B read %q, want %q", b, "to b")
	}
	if b, ok := read(t, l.A, time.Second); !ok || string(b) != "to a" {
		t.Errorf("A read %q, want %q", b, "to a")
	}
	ab, ba := l.Stats()
	if ab.Delivered != 1 || ba.Delivered != 1 || ab.Bytes != 4 {
		t.Errorf("stats %+v %+v, want one delivered each way", ab, ba)
	}
}

func TestWriteCopies(t *testing.T) {
	l := NewPair("a", "b", 1500, 1, 0)
	defer l.Close()
	buf := []byte("first")
	l.A.Write([][]byte{buf})
	copy(buf, "XXXXX") // the router reuses its buffers at once
	if b, _ := read(t, l.B, time.Second); string(b) != "first" {
		t.Errorf("read %q, want the datagram as written", b)
	}
}

func TestDownDrops(t *testing.T) {
	l := NewPair("a", "b", 1500, 1, 0)
	defer l.Close()
	l.SetUp(false)
	l.A.Write([][]byte{[]byte("lost")})
	if _, ok := read(t, l.B, 50*time.Millisecond); ok {
		t.Fatal("a down link delivered")
	}
	l.SetUp(true)
	l.A.Write([][]byte{[]byte("kept")})
	if b, ok := read(t, l.B, time.Second); !ok || string(b) != "kept" {
		t.Errorf("read %q after up, want kept", b)
	}
	if ab, _ := l.Stats(); ab.DroppedDown != 1 || ab.Sent != 2 {
		t.Errorf("stats %+v, want 2 sent and 1 dropped down", ab)
	}
}

// TestLossIsSeeded checks that loss follows the seed: the same seed drops
// the same datagrams, and about the percentage asked for.
func TestLossIsSeeded(t *testing.T) {
	run := func(seed uint64) (dropped uint64) {
		l := NewPair("a", "b", 1500, seed, 3)
		defer l.Close()
		l.SetImpairment(Impairment{Loss: 25})
		for range 1000 {
			l.A.Write([][]byte{{1}})
			select {
			case pkt := <-l.B.in:
				l.B.pool.Put(pkt)
			default:
			}
		}
		ab, _ := l.Stats()
		return ab.DroppedLoss
	}
	a, b := run(42), run(42)
	if a != b {
		t.Errorf("seed 42 dropped %d, then %d: not replayable", a, b)
	}
	if a < 200 || a > 300 {
		t.Errorf("25%% loss dropped %d of 1000", a)
	}
}

func TestDelayKeepsOrder(t *testing.T) {
	l := NewPair("a", "b", 1500, 1, 0)
	defer l.Close()
	l.SetImpairment(Impairment{Delay: 30 * time.Millisecond, Jitter: 20 * time.Millisecond})
	for i := range 20 {
		l.A.Write([][]byte{{byte(i)}})
	}
	select {
	case <-l.B.in:
		t.Fatal("delivered before its delay")
	default:
	}
	for i := range 20 {
		b, ok := read(t, l.B, 2*time.Second)
		if !ok || len(b) != 1 || b[0] != byte(i) {
			t.Fatalf("datagram %d: read %v, want [%d] in order", i, b, i)
		}
	}
}

// checkStats checks that s accounts for every datagram sent, as Stats
// promises, and is want.
func checkStats(t *testing.T, step string, s, want Stats) {
	t.Helper()
	outcomes := s.Delivered + s.DroppedDown + s.DroppedLoss + s.DroppedQueue
	if outcomes > s.Sent || s.Sent-outcomes != s.InFlight {
		t.Errorf("%s: stats %+v do not add up: %d sent, %d delivered or dropped, %d in flight",
			step, s, s.Sent, outcomes, s.InFlight)
	}
	if s != want {
		t.Errorf("%s: stats %+v, want %+v", step, s, want)
	}
}

// waitFor waits until cond holds, for at most 2 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 2s for %s", what)
		}
	}
}

// TestDownDropsInFlight checks that taking a link down drops what it
// holds, in both directions, at once: after it comes back, a new datagram
// does not wait behind them.
func TestDownDropsInFlight(t *testing.T) {
	l := NewPair("a", "b", 1500, 1, 0)
	defer l.Close()
	l.SetImpairment(Impairment{Delay: time.Hour})
	for i := range 3 {
		l.A.Write([][]byte{{byte(i)}})
	}
	l.B.Write([][]byte{{9}})
	ab, ba := l.Stats()
	checkStats(t, "a to b, holding 3", ab, Stats{Sent: 3, InFlight: 3})
	checkStats(t, "b to a, holding 1", ba, Stats{Sent: 1, InFlight: 1})

	l.SetUp(false)
	l.SetUp(true)
	l.SetImpairment(Impairment{})
	l.A.Write([][]byte{[]byte("new")})
	l.B.Write([][]byte{[]byte("new")})
	if b, ok := read(t, l.B, 2*time.Second); !ok || string(b) != "new" {
		t.Fatalf("B read %q after down and up, want %q within 2s", b, "new")
	}
	if b, ok := read(t, l.A, 2*time.Second); !ok || string(b) != "new" {
		t.Fatalf("A read %q after down and up, want %q within 2s", b, "new")
	}
	ab, ba = l.Stats()
	checkStats(t, "a to b, after down and up", ab, Stats{Sent: 4, Delivered: 1, DroppedDown: 3, Bytes: 3})
	checkStats(t, "b to a, after down and up", ba, Stats{Sent: 2, Delivered: 1, DroppedDown: 1, Bytes: 3})
}

// TestDelayCutKeepsOrder checks that a datagram sent after the delay is
// cut to 0 still arrives after one sent before, held by the link.
func TestDelayCutKeepsOrder(t *testing.T) {
	l := NewPair("a", "b", 1500, 1, 0)
	defer l.Close()
	l.SetImpairment(Impairment{Delay: 50 * time.Millisecond})
	l.A.Write([][]byte{[]byte("first")})
	// The case that went wrong: drain has taken it, so the queue is empty.
	waitFor(t, "drain to take the first datagram", func() bool { return len(l.ab.queue) == 0 })
	ab, _ := l.Stats()
	checkStats(t, "first held", ab, Stats{Sent: 1, InFlight: 1})

	l.SetImpairment(Impairment{})
	l.A.Write([][]byte{[]byte("second")})
	ab, _ = l.Stats()
	checkStats(t, "second sent", ab, Stats{Sent: 2, InFlight: 2})
	for _, want := range []string{"first", "second"} {
		if b, ok := read(t, l.B, 2*time.Second); !ok || string(b) != want {
			t.Fatalf("read %q, want %q: sent first, delivered first", b, want)
		}
	}
	ab, _ = l.Stats()
	checkStats(t, "both delivered", ab, Stats{Sent: 2, Delivered: 2, Bytes: 11})
}

// TestCloseDropsInFlight checks that the stats still add up once the link
// is closed with datagrams in flight.
func TestCloseDropsInFlight(t *testing.T) {
	l := NewPair("a", "b", 1500, 1, 0)
	l.SetImpairment(Impairment{Delay: time.Hour})
	l.A.Write([][]byte{{1}})
	l.A.Write([][]byte{{2}})
	ab, _ := l.Stats()
	checkStats(t, "before close", ab, Stats{Sent: 2, InFlight: 2})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ab, ba := l.Stats()
	checkStats(t, "a to b, after close", ab, Stats{Sent: 2, DroppedDown: 2})
	checkStats(t, "b to a, after close", ba, Stats{})
	l.ab.send([]byte{3}) // as a Write that raced Close would
	ab, _ = l.Stats()
	checkStats(t, "sent after close", ab, Stats{Sent: 3, DroppedDown: 3})
	if n := l.ab.queued.Load(); n != 0 {
		t.Errorf("%d datagrams queued after close, want 0", n)
	}
}

func TestHostLink(t *testing.T) {
	host := tuntest.NewChannel("client/gw0", 1400)
	var tapped []byte
	l := NewHostLink("r1:eth0", host, 1, 0, func(b []byte) { tapped = append([]byte(nil), b...) })
	host.In <- []byte("from host")
	if b, ok := read(t, l.A, time.Second); !ok || string(b) != "from host" {
		t.Errorf("router read %q, want %q", b, "from host")
	}
	l.A.Write([][]byte{[]byte("to host")})
	select {
	case b := <-host.Out:
		if !bytes.Equal(b, []byte("to host")) {
			t.Errorf("host got %q", b)
		}
	case <-time.After(time.Second):
		t.Fatal("nothing reached the host")
	}
	if string(tapped) != "to host" {
		t.Errorf("tap saw %q, want %q", tapped, "to host")
	}
	if l.A.MTU() != 1400 {
		t.Errorf("MTU %d, want the host device's 1400", l.A.MTU())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.A.Read([][]byte{make([]byte, 10)}, []int{0}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: %v, want os.ErrClosed", err)
	}
}

// TestReceiverInline checks that a perfect wire hands the sender's own
// datagrams to the receiver before Write returns: no copy, no queue.
func TestReceiverInline(t *testing.T) {
	l := NewPair("a", "b", 1500, 1, 0)
	defer l.Close()
	var got [][]byte
	l.B.SetReceiver(func(pkts [][]byte) { got = append(got, pkts...) })
	sent := [][]byte{[]byte("one"), []byte("two")}
	l.A.Write(sent)
	if len(got) != 2 || &got[0][0] != &sent[0][0] || &got[1][0] != &sent[1][0] {
		t.Fatalf("receiver got %q, want the 2 datagrams written, not copies", got)
	}
	if ab, _ := l.Stats(); ab.Sent != 2 || ab.Delivered != 2 || ab.Bytes != 6 {
		t.Errorf("stats %+v, want 2 sent and delivered, 6 bytes", ab)
	}
	l.SetUp(false)
	l.A.Write(sent)
	if ab, _ := l.Stats(); len(got) != 2 || ab.DroppedDown != 2 {
		t.Errorf("down link: receiver has %d datagrams, dropped %d; want 2 and 2", len(got), ab.DroppedDown)
	}
}

// TestReceiverDelayed checks that a delayed link copies, waits, and then
// calls the receiver from its own goroutine.
func TestReceiverDelayed(t *testing.T) {
	l := NewPair("a", "b", 1500, 1, 0)
	defer l.Close()
	l.SetImpairment(Impairment{Delay: 20 * time.Millisecond})
	got := make(chan []byte, 1)
	l.B.SetReceiver(func(pkts [][]byte) { got <- append([]byte(nil), pkts[0]...) })
	buf := []byte("late")
	start := time.Now()
	l.A.Write([][]byte{buf})
	copy(buf, "XXXX")
	select {
	case b := <-got:
		if string(b) != "late" || time.Since(start) < 20*time.Millisecond {
			t.Errorf("got %q after %v, want %q after 20ms", b, time.Since(start), "late")
		}
	case <-time.After(time.Second):
		t.Fatal("nothing delivered")
	}
}

// BenchmarkPairHopInline is one datagram across a perfect wire to a
// receiver: a function call.
func BenchmarkPairHopInline(b *testing.B) {
	l := NewPair("a", "b", 1500, 1, 0)
	defer l.Close()
	var n int
	l.B.SetReceiver(func(pkts [][]byte) { n += len(pkts) })
	pkt := [][]byte{make([]byte, 1400)}
	b.ReportAllocs()
	b.SetBytes(1400)
	for b.Loop() {
		l.A.Write(pkt)
	}
}

// BenchmarkPairHop is one datagram across a perfect wire to a port
// without a receiver: a copy into a pooled buffer, a channel hand-off,
// and the copy out.
func BenchmarkPairHop(b *testing.B) {
	l := NewPair("a", "b", 1500, 1, 0)
	defer l.Close()
	pkt := [][]byte{make([]byte, 1400)}
	bufs, sizes := [][]byte{make([]byte, 1500)}, []int{0}
	b.ReportAllocs()
	b.SetBytes(1400)
	for b.Loop() {
		l.A.Write(pkt)
		l.B.Read(bufs, sizes)
	}
}
