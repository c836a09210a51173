// Package wire emulates the links of a virtual topology inside the icmpgw
// process: a Link joins two router interfaces (NewPair) or a router
// interface and a host's TUN device (NewHostLink), carries datagrams in
// both directions, and applies the link's state and impairments — down,
// delay, jitter, loss — with a seeded random source, so that a run replays
// exactly.
//
// A router sees its end of a link as a Port, a tun.Device, and takes what
// arrives through the Port's receiver: on a perfect wire a datagram goes
// from one router to the next by function call, on the sender's goroutine;
// a delayed or lossy direction copies it and delivers it from a goroutine
// of its own when it is due.
package wire

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icmpgw/icmpgw/tun"
)

// Impairment is what a link does to the datagrams that cross it, in each
// direction. The zero Impairment is a perfect wire.
type Impairment struct {
	Delay  time.Duration
	Jitter time.Duration // uniform in [-Jitter, +Jitter]; delays never go below 0
	Loss   float64       // percent, 0 to 100
}

// queueLen bounds the datagrams in flight on a delayed direction, like
// netem's default limit of 1000; more are dropped and counted.
const queueLen = 1000

// Stats counts what one direction of a link did.
type Stats struct {
	Sent, Delivered, DroppedDown, DroppedLoss, DroppedQueue uint64
	Bytes                                                   uint64
}

// buffer is a pooled copy of a datagram held on a delayed link.
type buffer struct {
	b   []byte
	one [1][]byte // a batch of one, for delivering b without allocating
}

// batch returns b as a batch of one.
func (p *buffer) batch() [][]byte {
	p.one[0] = p.b
	return p.one[:]
}

// direction is one way across a link. On a perfect wire sendBatch hands
// the sender's datagrams straight to deliverNow, on the sender's
// goroutine and without a copy. Otherwise send copies each datagram,
// applies the state and impairment, and hands it to deliver now or after
// its delay.
type direction struct {
	deliverNow func(pkts [][]byte) // must not keep pkts
	deliver    func(pkt *buffer)   // takes ownership of pkt
	pool       *sync.Pool

	down   atomic.Bool
	impair atomic.Pointer[Impairment]

	mu      sync.Mutex // guards rng and lastDue
	rng     *rand.Rand
	lastDue time.Time

	queue chan delayed
	quit  chan struct{}
	done  chan struct{}

	sent, delivered, droppedDown, droppedLoss, droppedQueue, bytes atomic.Uint64
}

type delayed struct {
	due time.Time
	pkt *buffer
}

func newDirection(seed uint64, stream uint64, pool *sync.Pool, deliverNow func([][]byte), deliver func(*buffer)) *direction {
	d := &direction{
		deliverNow: deliverNow, deliver: deliver, pool: pool,
		rng:   rand.New(rand.NewPCG(seed, stream)),
		queue: make(chan delayed, queueLen),
		quit:  make(chan struct{}), done: make(chan struct{}),
	}
	d.impair.Store(&Impairment{})
	go d.drain()
	return d
}

// perfect reports whether imp leaves datagrams alone.
func (imp *Impairment) perfect() bool { return imp.Loss <= 0 && imp.Delay <= 0 && imp.Jitter <= 0 }

// sendBatch sends pkts across the link. On a perfect wire with nothing
// delayed in flight it delivers them at once, in one call: a hop is a
// function call.
func (d *direction) sendBatch(pkts [][]byte) {
	if d.down.Load() {
		d.sent.Add(uint64(len(pkts)))
		d.droppedDown.Add(uint64(len(pkts)))
		return
	}
	if d.impair.Load().perfect() && len(d.queue) == 0 {
		var bytes int
		for _, p := range pkts {
			bytes += len(p)
		}
		d.sent.Add(uint64(len(pkts)))
		d.delivered.Add(uint64(len(pkts)))
		d.bytes.Add(uint64(bytes))
		d.deliverNow(pkts)
		return
	}
	for _, p := range pkts {
		d.send(p)
	}
}

// send sends one datagram through the impairments.
func (d *direction) send(b []byte) {
	d.sent.Add(1)
	if d.down.Load() {
		d.droppedDown.Add(1)
		return
	}
	imp := d.impair.Load()
	var wait time.Duration
	if !imp.perfect() {
		d.mu.Lock()
		lost := imp.Loss > 0 && d.rng.Float64()*100 < imp.Loss
		if !lost && (imp.Delay > 0 || imp.Jitter > 0) {
			wait = imp.Delay
			if imp.Jitter > 0 {
				wait += time.Duration(d.rng.Int64N(int64(2*imp.Jitter)+1)) - imp.Jitter
			}
			wait = max(wait, 0)
		}
		d.mu.Unlock()
		if lost {
			d.droppedLoss.Add(1)
			return
		}
	}
	pkt := d.copy(b)
	if wait == 0 && len(d.queue) == 0 {
		d.handOver(pkt)
		return
	}
	d.mu.Lock()
	// Keep the order datagrams were sent in, as one netem queue does:
	// jitter stretches gaps but never reorders.
	due := time.Now().Add(wait)
	if due.Before(d.lastDue) {
		due = d.lastDue
	}
	d.lastDue = due
	d.mu.Unlock()
	select {
	case d.queue <- delayed{due, pkt}:
	default:
		d.droppedQueue.Add(1)
		d.pool.Put(pkt)
	}
}

// copy copies b into a pooled buffer: the router reuses b at once.
func (d *direction) copy(b []byte) *buffer {
	p := d.pool.Get().(*buffer)
	p.b = append(p.b[:0], b...)
	return p
}

func (d *direction) handOver(pkt *buffer) {
	d.delivered.Add(1)
	d.bytes.Add(uint64(len(pkt.b)))
	d.deliver(pkt)
}

// drain delivers delayed datagrams when they are due.
func (d *direction) drain() {
	defer close(d.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-d.quit:
			return
		case item := <-d.queue:
			if wait := time.Until(item.due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-d.quit:
					return
				case <-timer.C:
				}
			}
			if d.down.Load() { // went down while in flight
				d.droppedDown.Add(1)
				d.pool.Put(item.pkt)
				continue
			}
			d.handOver(item.pkt)
		}
	}
}

func (d *direction) close() {
	close(d.quit)
	<-d.done
}

func (d *direction) stats() Stats {
	return Stats{
		Sent: d.sent.Load(), Delivered: d.delivered.Load(), DroppedDown: d.droppedDown.Load(),
		DroppedLoss: d.droppedLoss.Load(), DroppedQueue: d.droppedQueue.Load(), Bytes: d.bytes.Load(),
	}
}

// Port is a router's end of a Link: a tun.Device whose Write sends
// across the link. What crosses the link toward the port goes to the
// port's receiver, if it has one (SetReceiver), on the sender's goroutine;
// otherwise it waits in a queue for Read.
type Port struct {
	name     string
	mtu      int
	in       chan *buffer
	out      *direction
	pool     *sync.Pool
	receiver atomic.Pointer[func(pkts [][]byte)]
	closed   chan struct{}
	once     sync.Once
}

// portQueue bounds the datagrams waiting for a router to read them.
const portQueue = 1024

func newPort(name string, mtu int, pool *sync.Pool) *Port {
	return &Port{name: name, mtu: mtu, in: make(chan *buffer, portQueue), pool: pool, closed: make(chan struct{})}
}

// SetReceiver makes fn take what crosses the link toward p, in place of
// Read: a router's Receive, so that a hop is a function call. fn runs on
// the goroutine that sent the datagrams (or, on a delayed link, the
// link's own), possibly on several at once; it must not keep pkts.
func (p *Port) SetReceiver(fn func(pkts [][]byte)) { p.receiver.Store(&fn) }

// receiveNow takes datagrams that crossed a perfect wire; they are the
// sender's.
func (p *Port) receiveNow(pkts [][]byte) {
	if fn := p.receiver.Load(); fn != nil {
		(*fn)(pkts)
		return
	}
	for _, b := range pkts {
		buf := p.pool.Get().(*buffer)
		buf.b = append(buf.b[:0], b...)
		p.receive(buf)
	}
}

// receive takes one delayed datagram; a full queue drops it, as a NIC
// ring does.
func (p *Port) receive(pkt *buffer) {
	if fn := p.receiver.Load(); fn != nil {
		(*fn)(pkt.batch())
		p.pool.Put(pkt)
		return
	}
	select {
	case p.in <- pkt:
	default:
		p.pool.Put(pkt)
	}
}

// Read implements tun.Device.
func (p *Port) Read(bufs [][]byte, sizes []int) (int, error) {
	select {
	case pkt := <-p.in:
		sizes[0] = copy(bufs[0], pkt.b)
		p.pool.Put(pkt)
		return 1, nil
	case <-p.closed:
		return 0, fmt.Errorf("wire: read %s: %w", p.name, os.ErrClosed)
	}
}

// Write implements tun.Device.
func (p *Port) Write(bufs [][]byte) (int, error) {
	select {
	case <-p.closed:
		return 0, fmt.Errorf("wire: write %s: %w", p.name, os.ErrClosed)
	default:
	}
	p.out.sendBatch(bufs)
	return len(bufs), nil
}

// BatchSize implements tun.Device.
func (p *Port) BatchSize() int { return 1 }

// MTU implements tun.Device.
func (p *Port) MTU() int { return p.mtu }

// Name implements tun.Device.
func (p *Port) Name() string { return p.name }

// Close implements tun.Device. It closes only this end; Link.Close closes
// the link.
func (p *Port) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// Link is a point-to-point link between two ends. It is safe for
// concurrent use.
type Link struct {
	// A and B are the ends; for a host link, A is the router's Port and B
	// is nil (the host's TUN device is the other end).
	A, B *Port

	ab, ba *direction
	host   tun.Device
	pumped chan struct{}
}

func newPool(mtu int) *sync.Pool {
	return &sync.Pool{New: func() any { return &buffer{b: make([]byte, 0, max(mtu, 1500))} }}
}

// NewPair returns a link between two router interfaces, named nameA and
// nameB. seed seeds its impairments; stream tells links apart under one
// seed.
func NewPair(nameA, nameB string, mtu int, seed, stream uint64) *Link {
	pool := newPool(mtu)
	l := &Link{A: newPort(nameA, mtu, pool), B: newPort(nameB, mtu, pool)}
	l.ab = newDirection(seed, 2*stream, pool, l.B.receiveNow, l.B.receive)
	l.ba = newDirection(seed, 2*stream+1, pool, l.A.receiveNow, l.A.receive)
	l.A.out, l.B.out = l.ab, l.ba
	return l
}

// NewHostLink returns a link between a router interface, named name, and
// host, a TUN device whose far side is a host's kernel. A goroutine reads
// host until the link is closed and passes what it reads across the link
// — through the router, when the port has a receiver. tap, if not nil,
// sees every datagram delivered to the host, as it is delivered; it must
// not keep it.
func NewHostLink(name string, host tun.Device, seed, stream uint64, tap func(pkt []byte)) *Link {
	mtu := host.MTU()
	pool := newPool(mtu)
	l := &Link{A: newPort(name, mtu, pool), host: host, pumped: make(chan struct{})}
	var mu sync.Mutex // several goroutines write to one host
	toHost := func(pkts [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		if tap != nil {
			for _, p := range pkts {
				tap(p)
			}
		}
		host.Write(pkts)
	}
	l.ab = newDirection(seed, 2*stream, pool, toHost, func(pkt *buffer) {
		toHost(pkt.batch())
		pool.Put(pkt)
	})
	l.ba = newDirection(seed, 2*stream+1, pool, l.A.receiveNow, l.A.receive)
	l.A.out = l.ab
	go l.pump()
	return l
}

// pump carries what the host's kernel sends toward the router, a batch
// at a time. The first buffer takes the largest datagram; the others
// take the MTU-sized segments of a super-packet split by an offloading
// device.
func (l *Link) pump() {
	defer close(l.pumped)
	batch := l.host.BatchSize()
	bufs, sizes, pkts := make([][]byte, batch), make([]int, batch), make([][]byte, 0, batch)
	bufs[0] = make([]byte, 65535)
	for i := 1; i < batch; i++ {
		bufs[i] = make([]byte, l.host.MTU()+segmentSlack)
	}
	for {
		n, err := l.host.Read(bufs, sizes)
		if n > 0 {
			pkts = pkts[:0]
			for i := range n {
				pkts = append(pkts, bufs[i][:sizes[i]])
			}
			l.ba.sendBatch(pkts)
		}
		if err != nil {
			return
		}
	}
}

// segmentSlack is room beyond the MTU in a segment buffer, for a host
// whose segments do not quite fit its MTU; the device drops what still
// does not fit.
const segmentSlack = 256

// SetUp brings the link up or down; down, it drops everything in both
// directions, in flight included.
func (l *Link) SetUp(up bool) {
	l.ab.down.Store(!up)
	l.ba.down.Store(!up)
}

// Up reports whether the link is up.
func (l *Link) Up() bool { return !l.ab.down.Load() }

// SetImpairment applies imp to both directions from now on.
func (l *Link) SetImpairment(imp Impairment) {
	l.ab.impair.Store(&imp)
	l.ba.impair.Store(&imp)
}

// Stats returns the counters of the two directions: A to B (router to host
// on a host link) and B to A.
func (l *Link) Stats() (ab, ba Stats) { return l.ab.stats(), l.ba.stats() }

// Close stops the link and closes its ports and host device.
func (l *Link) Close() error {
	l.A.Close()
	if l.B != nil {
		l.B.Close()
	}
	var err error
	if l.host != nil {
		err = l.host.Close()
		<-l.pumped
	}
	l.ab.close()
	l.ba.close()
	return err
}
