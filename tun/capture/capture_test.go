package capture

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/icmpgw/icmpgw/tun"
	"github.com/icmpgw/icmpgw/tun/tuntest"
)

var (
	client = netip.MustParseAddr("198.51.100.2")
	r1eth0 = netip.MustParseAddr("198.51.100.1")
	server = netip.MustParseAddr("203.0.113.2")
)

var _ tun.Device = (*Device)(nil)

// captured is one packet read back from a pcapng stream.
type captured struct {
	data []byte
	dir  pcapgo.NgEpbFlag
	ts   time.Time
}

// readBack parses a whole pcapng stream, checking its one interface.
func readBack(t *testing.T, r io.Reader, name string) []captured {
	t.Helper()
	nr, err := pcapgo.NewNgReader(r, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatalf("NewNgReader: %v", err)
	}
	if got := nr.LinkType(); got != LinkType || int(got) != 228 {
		t.Errorf("link type = %d, want 228 (LINKTYPE_IPV4)", got)
	}
	var pkts []captured
	for range 10000 {
		data, ci, opts, err := nr.ReadPacketDataWithOptions()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("packet %d: %v", len(pkts), err)
		}
		c := captured{data: data, ts: ci.Timestamp}
		if opts.Flags != nil {
			c.dir = opts.Flags.Direction
		}
		pkts = append(pkts, c)
	}
	if nr.NInterfaces() != 1 {
		t.Errorf("%d interfaces, want 1", nr.NInterfaces())
	}
	if intf, err := nr.Interface(0); err != nil || intf.Name != name {
		t.Errorf("interface 0 = %q, %v; want name %q", intf.Name, err, name)
	}
	return pkts
}

func TestCaptureBothDirectionsInOrder(t *testing.T) {
	ch := tuntest.NewChannel("r1/eth0", 1500)
	var file bytes.Buffer
	start := time.Now()
	d, err := Wrap(ch, &file, "r1-eth0", 0)
	if err != nil {
		t.Fatal(err)
	}

	echo := tuntest.Ping(client, server, 1, 16)  // in
	te := tuntest.UDP(r1eth0, client, 64, 8)     // out
	probe := tuntest.UDP(client, server, 2, 32)  // in
	fwd := tuntest.UDP(client, server, 1, 32)    // out
	reply := tuntest.Ping(r1eth0, client, 64, 0) // out, same batch
	want := []struct {
		data []byte
		dir  pcapgo.NgEpbFlag
	}{
		{echo, pcapgo.NgEpbFlagDirectionInbound},
		{te, pcapgo.NgEpbFlagDirectionOutbound},
		{probe, pcapgo.NgEpbFlagDirectionInbound},
		{fwd, pcapgo.NgEpbFlagDirectionOutbound},
		{reply, pcapgo.NgEpbFlagDirectionOutbound},
	}

	bufs, sizes := [][]byte{make([]byte, 2048)}, make([]int, 1)
	read := func(want []byte) {
		t.Helper()
		ch.In <- want
		n, err := d.Read(bufs, sizes)
		if n != 1 || err != nil {
			t.Fatalf("Read = %d, %v; want 1, nil", n, err)
		}
		if got := bufs[0][:sizes[0]]; !bytes.Equal(got, want) {
			t.Fatalf("Read changed the datagram:\ngot  %x\nwant %x", got, want)
		}
	}
	write := func(pkts ...[]byte) {
		t.Helper()
		keep := make([][]byte, len(pkts))
		for i, p := range pkts {
			keep[i] = bytes.Clone(p)
		}
		if n, err := d.Write(pkts); n != len(pkts) || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(pkts))
		}
		for i, p := range keep {
			if got := <-ch.Out; !bytes.Equal(got, p) {
				t.Fatalf("Write changed the datagram:\ngot  %x\nwant %x", got, p)
			}
			if !bytes.Equal(pkts[i], p) {
				t.Fatalf("Write changed the caller's buffer %d", i)
			}
		}
	}
	read(echo)
	write(te)
	// Each datagram is flushed as it crosses: the file is whole so far.
	if got := readBack(t, bytes.NewReader(file.Bytes()), "r1-eth0"); len(got) != 2 {
		t.Errorf("before Close: %d packets in the file, want 2", len(got))
	}
	read(probe)
	write(fwd, reply)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	end := time.Now()
	if n, err := d.Read(bufs, sizes); n != 0 || !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close = %d, %v; want 0, os.ErrClosed", n, err)
	}

	got := readBack(t, &file, "r1-eth0")
	if len(got) != len(want) {
		t.Fatalf("%d packets in the file, want %d", len(got), len(want))
	}
	for i, w := range want {
		if !bytes.Equal(got[i].data, w.data) {
			t.Errorf("packet %d:\ngot  %x\nwant %x", i, got[i].data, w.data)
		}
		if got[i].dir != w.dir {
			t.Errorf("packet %d: direction %d, want %d", i, got[i].dir, w.dir)
		}
		if got[i].ts.Before(start.Truncate(time.Microsecond)) || got[i].ts.After(end) {
			t.Errorf("packet %d: timestamp %v, not between %v and %v", i, got[i].ts, start, end)
		}
		if i > 0 && got[i].ts.Before(got[i-1].ts) {
			t.Errorf("packet %d: timestamp %v before the previous packet's %v", i, got[i].ts, got[i-1].ts)
		}
	}
	if d.Errors() != 0 {
		t.Errorf("Errors = %d, want 0", d.Errors())
	}
}

// failAfter accepts n bytes, then fails every write.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}

func TestCaptureErrorsAreCountedNotReturned(t *testing.T) {
	ch := tuntest.NewChannel("r1/eth0", 1500)
	var header bytes.Buffer
	if _, err := Wrap(tuntest.Discard{}, &header, "x", 0); err != nil {
		t.Fatal(err)
	}
	d, err := Wrap(ch, &failAfter{n: header.Len()}, "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	pkt := tuntest.Ping(client, server, 64, 8)
	for i := range 3 {
		ch.In <- pkt
		bufs, sizes := [][]byte{make([]byte, 2048)}, make([]int, 1)
		if n, err := d.Read(bufs, sizes); n != 1 || err != nil || !bytes.Equal(bufs[0][:sizes[0]], pkt) {
			t.Fatalf("Read %d = %d, %v; want the datagram", i, n, err)
		}
		if n, err := d.Write([][]byte{pkt}); n != 1 || err != nil {
			t.Fatalf("Write %d = %d, %v; want 1, nil", i, n, err)
		}
		if got := <-ch.Out; !bytes.Equal(got, pkt) {
			t.Fatalf("Write %d delivered %x, want %x", i, got, pkt)
		}
	}
	if got := d.Errors(); got != 6 {
		t.Errorf("Errors = %d, want 6 (3 reads, 3 writes)", got)
	}
}

func TestCaptureHeaderError(t *testing.T) {
	if _, err := Wrap(tuntest.Discard{}, &failAfter{}, "r1-eth0", 0); err == nil {
		t.Error("Wrap on a failing writer: no error")
	}
}

// TestCaptureConcurrentReadWrite runs Read and Write on different goroutines, as
// routing.Serve does; -race checks the locking, the file that no packet
// was lost or torn.
func TestCaptureConcurrentReadWrite(t *testing.T) {
	ch := tuntest.NewChannel("r1/eth0", 1500)
	var file bytes.Buffer
	d, err := Wrap(ch, &file, "r1-eth0", 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	in, out := tuntest.Ping(client, server, 64, 8), tuntest.UDP(r1eth0, client, 64, 40)
	var wg sync.WaitGroup
	wg.Go(func() {
		bufs, sizes := [][]byte{make([]byte, 2048)}, make([]int, 1)
		for range n {
			ch.In <- in
			if _, err := d.Read(bufs, sizes); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		for range n {
			if _, err := d.Write([][]byte{out}); err != nil {
				t.Error(err)
				return
			}
			<-ch.Out
		}
	})
	wg.Wait()
	d.Close()
	var nin, nout int
	for i, p := range readBack(t, &file, "r1-eth0") {
		switch {
		case p.dir == pcapgo.NgEpbFlagDirectionInbound && bytes.Equal(p.data, in):
			nin++
		case p.dir == pcapgo.NgEpbFlagDirectionOutbound && bytes.Equal(p.data, out):
			nout++
		default:
			t.Errorf("packet %d: direction %d, %x", i, p.dir, p.data)
		}
	}
	if nin != n || nout != n {
		t.Errorf("%d inbound and %d outbound packets, want %d each", nin, nout, n)
	}
}

// TestSnaplen checks that a snap length keeps the first bytes of each
// datagram and records its whole length, and that a negative one is
// refused.
func TestSnaplen(t *testing.T) {
	ch := tuntest.NewChannel("r1/eth0", 1500)
	var file bytes.Buffer
	d, err := Wrap(ch, &file, "r1-eth0", 40)
	if err != nil {
		t.Fatal(err)
	}
	ping := tuntest.Ping(client, server, 64, 56) // 84 bytes
	if _, err := d.Write([][]byte{ping}); err != nil {
		t.Fatal(err)
	}
	<-ch.Out
	d.Close()
	nr, err := pcapgo.NewNgReader(&file, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	data, ci, err := nr.ReadPacketData()
	if err != nil {
		t.Fatal(err)
	}
	if ci.CaptureLength != 40 || ci.Length != 84 || !bytes.Equal(data, ping[:40]) {
		t.Errorf("recorded %d of %d bytes (% x), want the first 40 of 84", ci.CaptureLength, ci.Length, data)
	}
	if intf, err := nr.Interface(0); err != nil || intf.SnapLength != 40 {
		t.Errorf("interface snap length %d (%v), want 40", intf.SnapLength, err)
	}
	if _, err := Wrap(ch, &file, "x", -1); err == nil {
		t.Error("snaplen -1 accepted")
	}
}
