package scenarios

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/tun/packet"
)

// Record is one line of the event log (JSON): an ICMP decision of a
// router, a timeline event, or a link going up or down.
type Record struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"` // "icmp", "change" (timeline or control API), "link"
	Router string    `json:"router,omitempty"`
	// ICMP decisions.
	Iface  string `json:"iface,omitempty"`  // where it left, or where the datagram arrived when not sent
	Action string `json:"action,omitempty"` // "sent" or "suppressed"
	Reason string `json:"reason,omitempty"` // why it was suppressed
	Type   string `json:"type,omitempty"`
	Code   *int   `json:"code,omitempty"`
	Src    string `json:"src,omitempty"` // of the ICMP message, when sent
	Dst    string `json:"dst,omitempty"`
	About  *About `json:"about,omitempty"` // the offending datagram
	// Timeline events.
	Event string `json:"event,omitempty"`
}

// About summarises the datagram an ICMP message is about.
type About struct {
	Proto string `json:"proto"`
	Src   string `json:"src"`
	Dst   string `json:"dst"`
	TTL   uint8  `json:"ttl"`
	Len   int    `json:"len"`
	Sport uint16 `json:"sport,omitempty"`
	Dport uint16 `json:"dport,omitempty"`
	ID    uint16 `json:"echo_id,omitempty"`
	Seq   uint16 `json:"echo_seq,omitempty"`
}

// eventQueue bounds the records waiting to be written; past it they are
// dropped and counted, so a slow writer never slows the packet path.
const eventQueue = 4096

// EventLog writes Records as JSON lines to a writer, from its own
// goroutine. It is safe for concurrent use. The zero EventLog is not
// usable; make one with NewEventLog.
type EventLog struct {
	ch      chan Record
	done    chan struct{}
	dropped atomic.Uint64

	closeMu sync.RWMutex // Add holds it shared: no send on a closed ch
	closed  bool

	// discard: nothing reads the log unless someone follows it, so ICMP
	// decisions are not even summarized (see wanted).
	discard   bool
	followers atomic.Int32

	subMu  sync.Mutex
	subs   map[chan Record]struct{}
	recent []Record // the last historyLen records written: a ring
	next   int      // where the next record goes in recent, once it is full
}

// historyLen is how many past records Recent and Replay keep.
const historyLen = 256

// wanted reports whether anything reads the records: the packet path
// skips building them otherwise.
func (l *EventLog) wanted() bool { return !l.discard || l.followers.Load() > 0 }

// NewEventLog starts writing records to w.
func NewEventLog(w io.Writer) *EventLog {
	l := &EventLog{ch: make(chan Record, eventQueue), done: make(chan struct{}), subs: map[chan Record]struct{}{}, discard: w == io.Discard}
	go func() {
		defer close(l.done)
		enc := json.NewEncoder(w)
		for r := range l.ch {
			enc.Encode(r)
			l.subMu.Lock()
			if len(l.recent) < historyLen {
				l.recent = append(l.recent, r)
			} else {
				l.recent[l.next] = r
				l.next = (l.next + 1) % historyLen
			}
			for sub := range l.subs {
				select {
				case sub <- r:
				default: // a slow follower misses records rather than stall the log
				}
			}
			l.subMu.Unlock()
		}
		l.subMu.Lock()
		for sub := range l.subs {
			close(sub)
		}
		l.subs = nil
		l.subMu.Unlock()
	}()
	return l
}

// Follow returns a channel that receives every record from now on, until
// stop is called or the log closes (then the channel is closed).
func (l *EventLog) Follow() (records <-chan Record, stop func()) {
	_, records, stop = l.Replay()
	return records, stop
}

// Replay returns the last records written (at most historyLen), and a
// channel that receives every record after them, with none missed in
// between, as Follow's does. ICMP decisions are recorded only while the
// log is written somewhere or followed: with nobody reading, past ones are
// not in the history.
func (l *EventLog) Replay() (past []Record, records <-chan Record, stop func()) {
	ch := make(chan Record, 256)
	l.subMu.Lock()
	defer l.subMu.Unlock()
	past = append(append([]Record(nil), l.recent[l.next:]...), l.recent[:l.next]...) // oldest first
	if l.subs == nil {
		close(ch)
		return past, ch, func() {}
	}
	l.subs[ch] = struct{}{}
	l.followers.Add(1)
	return past, ch, func() {
		l.subMu.Lock()
		defer l.subMu.Unlock()
		if _, ok := l.subs[ch]; ok {
			delete(l.subs, ch)
			l.followers.Add(-1)
			close(ch)
		}
	}
}

// Add queues r; a full queue drops it, and so does a closed log.
func (l *EventLog) Add(r Record) {
	if l == nil {
		return
	}
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		l.dropped.Add(1)
		return
	}
	select {
	case l.ch <- r:
	default:
		l.dropped.Add(1)
	}
}

// Close writes what is queued and stops. It returns how many records
// were dropped.
func (l *EventLog) Close() uint64 {
	if l == nil {
		return 0
	}
	l.closeMu.Lock()
	if !l.closed {
		l.closed = true
		close(l.ch)
	}
	l.closeMu.Unlock()
	<-l.done
	return l.dropped.Load()
}

// decisions returns the routing.Router.OnDecision hook of router name.
func (l *EventLog) decisions(name string) func(routing.Decision) {
	return func(d routing.Decision) {
		if !l.wanted() {
			return
		}
		r := Record{Time: time.Now(), Kind: "icmp", Router: name, About: summarize(d.Orig)}
		dst := d.Orig.Src()
		switch {
		case d.Suppressed == responder.Send:
			r.Action, r.Iface, r.Src, r.Dst = "sent", d.Out.Name, d.From.String(), dst.String()
		default:
			r.Action, r.Reason, r.Iface = "suppressed", d.Suppressed.String(), d.In.Name
		}
		if d.Suppressed != responder.Blackholed {
			code := int(d.Reason.Code)
			r.Type, r.Code = typeName(d.Reason.Type), &code
		}
		l.Add(r)
	}
}

// summarize describes a valid datagram for the log.
func summarize(b packet.IPv4) *About {
	a := &About{Src: b.Src().String(), Dst: b.Dst().String(), TTL: b.TTL(), Len: b.TotalLen()}
	p := b.Payload()
	switch b.Protocol() {
	case packet.ProtocolUDP, packet.ProtocolTCP:
		a.Proto = "udp"
		if b.Protocol() == packet.ProtocolTCP {
			a.Proto = "tcp"
		}
		if len(p) >= 4 && b.FragmentOffset() == 0 {
			a.Sport, a.Dport = binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:])
		}
	case packet.ProtocolICMP:
		a.Proto = "icmp"
		if icmp := packet.ICMPv4(p); len(icmp) >= packet.ICMPHeaderLen && b.FragmentOffset() == 0 {
			a.Proto = "icmp " + typeName(icmp.Type())
			if t := icmp.Type(); t == ipv4.ICMPTypeEcho || t == ipv4.ICMPTypeEchoReply {
				a.ID, a.Seq = icmp.ID(), icmp.Seq()
			}
		}
	default:
		a.Proto = "ip-proto-" + strconv.Itoa(int(b.Protocol()))
	}
	return a
}
