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

// Stats counts what one direction of a link did. Every datagram sent is
// delivered, dropped for one reason, or still in flight, in every snapshot:
//
//	Sent == Delivered + DroppedDown + DroppedLoss + DroppedQueue + InFlight
//
// DroppedDown includes what was in flight when the link went down or was
// closed.
type Stats struct {
	Sent, Delivered, DroppedDown, DroppedLoss, DroppedQueue uint64
	InFlight                                                uint64 // sent, neither delivered nor dropped yet
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

	mu      sync.Mutex // guards rng, lastDue and closed; orders enqueue against setUp and close
	rng     *rand.Rand
	lastDue time.Time
	closed  bool

	// queued counts the datagrams in queue, and the one drain holds, until
	// each is delivered or dropped: while it is not 0, a datagram must
	// queue too, so that none overtakes one sent before it.
	queued atomic.Int64
	// era changes when the link goes down or closes; drain drops what was
	// queued in an earlier era.
	era   atomic.Uint64
	queue chan delayed
	wake  chan struct{} // tells drain to stop waiting: its datagram may be stale
	quit  chan struct{}
	done  chan struct{}

	sent, delivered, droppedDown, droppedLoss, droppedQueue, bytes atomic.Uint64
}

type delayed struct {
	due time.Time
	era uint64
	pkt *buffer
}

func newDirection(seed uint64, stream uint64, pool *sync.Pool, deliverNow func([][]byte), deliver func(*buffer)) *direction {
	d := &direction{
		deliverNow: deliverNow, deliver: deliver, pool: pool,
		rng:   rand.New(rand.NewPCG(seed, stream)),
		queue: make(chan delayed, queueLen), wake: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}),
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
	if d.impair.Load().perfect() && d.queued.Load() == 0 {
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
	if wait == 0 && d.queued.Load() == 0 {
		d.handOver(pkt)
		return
	}
	d.enqueue(pkt, wait)
}

// enqueue gives pkt to drain, to deliver after wait.
func (d *direction) enqueue(pkt *buffer, wait time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Checked again under mu: pkt would outlive its era if the link went
	// down or closed since send looked.
	if d.down.Load() || d.closed {
		d.droppedDown.Add(1)
		d.pool.Put(pkt)
		return
	}
	// Keep the order datagrams were sent in, as one netem queue does:
	// jitter stretches gaps but never reorders.
	due := time.Now().Add(wait)
	if due.Before(d.lastDue) {
		due = d.lastDue
	}
	d.queued.Add(1) // before drain can take it
	select {
	case d.queue <- delayed{due, d.era.Load(), pkt}:
		d.lastDue = due
	default:
		d.queued.Add(-1)
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

// drain delivers delayed datagrams when they are due, and drops those of
// an earlier era as soon as it gets to them.
func (d *direction) drain() {
	defer close(d.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-d.quit:
			// close ended the era and stopped enqueues: this empties queue.
			for {
				select {
				case item := <-d.queue:
					d.drop(item)
				default:
					return
				}
			}
		case <-d.wake: // nothing held to drop
		case item := <-d.queue:
			if !d.hold(item, timer) {
				d.drop(item)
				continue
			}
			d.handOver(item.pkt)
			// Only now: until it is delivered, later datagrams must queue
			// behind it.
			d.queued.Add(-1)
		}
	}
}

// hold waits until item is due. It reports false if item's era ends first.
func (d *direction) hold(item delayed, timer *time.Timer) bool {
	for item.era == d.era.Load() {
		wait := time.Until(item.due)
		if wait <= 0 {
			return true
		}
		timer.Reset(wait)
		select {
		case <-d.quit:
			timer.Stop()
			return false
		case <-d.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
	return false
}

// drop drops a queued datagram that can no longer be delivered.
func (d *direction) drop(item delayed) {
	d.droppedDown.Add(1)
	d.pool.Put(item.pkt)
	d.queued.Add(-1)
}

// setUp brings the direction up or down. Down, it ends the era, so that
// drain drops everything in flight at once, and forgets the last due
// time, so that nothing sent after the link comes back waits for it.
func (d *direction) setUp(up bool) {
	d.mu.Lock()
	d.down.Store(!up)
	if !up {
		d.era.Add(1)
		d.lastDue = time.Time{}
	}
	d.mu.Unlock()
	if !up {
		select {
		case d.wake <- struct{}{}:
		default: // drain has a wake-up coming already
		}
	}
}

// close stops drain, dropping what is in flight; later datagrams are
// dropped as if the link were down.
func (d *direction) close() {
	d.mu.Lock()
	d.closed = true
	d.era.Add(1)
	d.mu.Unlock()
	close(d.quit)
	<-d.done
}

func (d *direction) stats() Stats {
	s := Stats{
		Delivered: d.delivered.Load(), DroppedDown: d.droppedDown.Load(),
		DroppedLoss: d.droppedLoss.Load(), DroppedQueue: d.droppedQueue.Load(), Bytes: d.bytes.Load(),
	}
	// Sent last: a datagram is counted sent before its outcome is, so
	// InFlight never goes below 0 even while datagrams cross.
	s.Sent = d.sent.Load()
	s.InFlight = s.Sent - s.Delivered - s.DroppedDown - s.DroppedLoss - s.DroppedQueue
	return s
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
	l.ab.setUp(up)
	l.ba.setUp(up)
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

// Close stops the link and closes its ports and host device. What is in
// flight is dropped.
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
