package scenarios

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/tun"
	"github.com/icmpgw/icmpgw/tun/capture"
	"github.com/icmpgw/icmpgw/tun/wire"
)

// Topology is a scenario's network, up: a namespace per host, a router
// per router, a wire per link, all forwarding until Close.
type Topology struct {
	Scenario *Scenario
	Prefix   string
	// Routers are the virtual routers by name.
	Routers map[string]*routing.Router
	// Namespaces are what Build created, deleted by Close.
	Namespaces []string
	// Heard records the ICMP messages routers sent to hosts.
	Heard *Recorder
	// Start is when the topology came up; scenario times count from it.
	Start time.Time

	quit  chan struct{} // closed by Close: stops flaps
	gone  chan struct{} // closed when every host is gone; see Gone
	links []*liveLink
	hosts map[string]*hostDevice // by host name
	spare []*wire.Link           // behind router interfaces that are on no link
	log   *slog.Logger
	wg    sync.WaitGroup

	closeMu sync.Mutex
	closed  bool
	linkMu  sync.Mutex // serializes setLinkUp

	goneMu      sync.Mutex      // guards ready, dead, lost and the state file
	ready       bool            // Build is done: host faults count from now on
	dead        map[string]bool // hosts gone, by name
	lost        map[string]bool // namespaces deleted under the lab: not ours to delete any more
	unlock      func()          // releases the prefix's lock
	events      *EventLog
	pcaps       []pcap // closed in teardown after the links
	pcapSnaplen int
}

// pcap is one router interface's capture and the file it writes.
type pcap struct {
	dev  *capture.Device
	file *os.File
}

// liveLink is a link of the running topology and the router interfaces
// at its ends.
type liveLink struct {
	spec *LinkSpec
	wire *wire.Link
	ends []routerEnd
	dead atomic.Bool // its host is gone: the link stays down

	flapMu sync.Mutex
	flap   chan struct{} // closed to stop the running flap, if any
}

// startFlap stops the link's running flap, if any, and returns the stop
// channel of a new one: a flap replaces the one before.
func (l *liveLink) startFlap() <-chan struct{} {
	l.flapMu.Lock()
	defer l.flapMu.Unlock()
	if l.flap != nil {
		close(l.flap)
	}
	l.flap = make(chan struct{})
	return l.flap
}

// stopFlap stops the link's running flap, if any.
func (l *liveLink) stopFlap() {
	l.flapMu.Lock()
	defer l.flapMu.Unlock()
	if l.flap != nil {
		close(l.flap)
		l.flap = nil
	}
}

type routerEnd struct {
	router *routing.Router
	iface  *routing.Interface
}

// Namespace is the namespace name of the host called name.
func (t *Topology) Namespace(name string) string { return t.Prefix + name }

// Options tune Build.
type Options struct {
	Prefix string       // namespace names are Prefix + host name
	Seed   uint64       // seeds link impairments
	Log    *slog.Logger // nil: discard
	// Events, if set, receives every ICMP decision of every router and
	// every timeline event.
	Events *EventLog
	Pcap   string // directory for one pcapng file per router interface, ROUTER-IFACE.pcapng; "" for none
	// PcapSnaplen keeps the first PcapSnaplen bytes of each datagram in
	// the pcapng files; 0 keeps them whole.
	PcapSnaplen int
	// PlainTUN opens the hosts' TUN devices without offloads (water): one
	// datagram per system call each way. The default uses the kernel's
	// TUN offloads (tun.CreateOffloadIn).
	PlainTUN bool
}

// Build brings sc's topology up: namespaces (prefix + host name) with a
// TUN link each, addresses, routes and sysctls inside them, the routers
// and the links between them. It refuses if a namespace exists already,
// and on error removes whatever it created. Nothing is changed in the
// namespace icmpgw itself runs in.
//
// While the lab runs, Build's namespaces are listed in a state file next
// to the prefix's lock, written before each is created, so that Down
// removes exactly them after a SIGKILL.
//
// A host whose namespace is deleted under the running lab, or whose TUN
// device fails, is gone: the router interfaces on its link go down (routes
// through them are withdrawn), a warning is logged and a "link" record
// added to the event log, and the rest of the lab keeps forwarding. Gone
// is closed once every host is gone.
func Build(sc *Scenario, o Options) (_ *Topology, err error) {
	prefix, seed, log := o.Prefix, o.Seed, o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	unlock, err := lockPrefix(prefix)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	for _, h := range sc.Hosts {
		ns := prefix + h.Name
		if ok, err := tun.NamespaceExists(ns); err != nil {
			return nil, err
		} else if ok {
			if _, recorded, _ := readState(prefix); recorded {
				return nil, existError(fmt.Sprintf("namespace %s exists already, left by a killed icmpgw: remove what it left with 'icmpgw down --prefix %s'", ns, prefix))
			}
			return nil, existError(fmt.Sprintf("namespace %s exists already, and no icmpgw lab recorded creating it: pick another --prefix, or delete it with 'ip netns del %s' if it is yours to delete", ns, ns))
		}
	}
	t := &Topology{Scenario: sc, Prefix: prefix, Routers: make(map[string]*routing.Router), Heard: &Recorder{}, log: log,
		quit: make(chan struct{}), gone: make(chan struct{}), hosts: make(map[string]*hostDevice),
		dead: make(map[string]bool), lost: make(map[string]bool), unlock: unlock, events: o.Events, pcapSnaplen: o.PcapSnaplen}
	defer func() {
		if err != nil {
			t.teardown()
		}
	}()
	if err := t.saveState(); err != nil {
		return nil, err
	}

	// Host ends: a namespace and a TUN device each.
	hostDevs := make(map[string]tun.Device)
	for _, h := range sc.Hosts {
		ns := t.Namespace(h.Name)
		// Listed before it exists: a SIGKILL right after CreateNamespace
		// must not leave a namespace that Down does not know of.
		if err := t.saveState(ns); err != nil {
			return nil, err
		}
		if err := tun.CreateNamespace(ns); err != nil {
			return nil, err
		}
		t.Namespaces = append(t.Namespaces, ns)
		mtu := sc.linkOf(Endpoint{Node: h.Name}).MTU
		create := tun.CreateOffloadIn
		if o.PlainTUN {
			create = tun.CreateIn
		}
		dev, err := create(ns, h.iface(), mtu)
		if err != nil {
			return nil, err
		}
		if err := tun.Apply(h.link(ns, mtu)); err != nil {
			dev.Close()
			return nil, err
		}
		hd := &hostDevice{Device: dev, gone: func(err error) { t.hostGone(h.Name, err, false) }}
		hostDevs[h.Name], t.hosts[h.Name] = hd, hd
		log.Debug("host up", "namespace", ns, "iface", h.iface(), "addr", h.Addr, "gw", h.Gateway, "mtu", mtu)
	}

	// Links, then routers whose interfaces are the links' ports. Datagrams
	// flow as soon as a router's ports have their receivers: Start is set
	// before, for the taps that timestamp what hosts hear.
	t.Start = time.Now()
	ports := make(map[Endpoint]*wire.Port)
	for i, ls := range sc.Links {
		stream := uint64(i)
		var w *wire.Link
		switch {
		case ls.A.Iface == "": // host — router
			host := ls.A.Node
			w = wire.NewHostLink(ls.B.String(), hostDevs[host], seed, stream, t.tap(host))
			ports[ls.B] = w.A
		case ls.B.Iface == "":
			host := ls.B.Node
			w = wire.NewHostLink(ls.A.String(), hostDevs[host], seed, stream, t.tap(host))
			ports[ls.A] = w.A
		default:
			w = wire.NewPair(ls.A.String(), ls.B.String(), ls.MTU, seed, stream)
			ports[ls.A], ports[ls.B] = w.A, w.B
		}
		w.SetImpairment(ls.Impairment)
		t.links = append(t.links, &liveLink{spec: ls, wire: w})
		log.Debug("link up", "a", ls.A, "b", ls.B, "mtu", ls.MTU, "delay", ls.Delay, "jitter", ls.Jitter, "loss", ls.Loss)
	}
	if o.Pcap != "" {
		if err := os.MkdirAll(o.Pcap, 0o755); err != nil {
			return nil, fmt.Errorf("pcap: %w", err)
		}
	}
	for _, rs := range sc.Routers {
		var ifaces []*routing.Interface
		var receivers []func(r *routing.Router)
		for _, is := range rs.Ifaces {
			end := Endpoint{Node: rs.Name, Iface: is.Name}
			port, ok := ports[end]
			if !ok {
				// An interface on no link: up, with nothing behind it.
				w := wire.NewPair(end.String(), "", 1500, seed, 0)
				t.spare = append(t.spare, w)
				port = w.A
			}
			var dev tun.Device = port
			var pcap *capture.Device
			if o.Pcap != "" {
				if pcap, err = t.capture(filepath.Join(o.Pcap, rs.Name+"-"+is.Name+".pcapng"), end.String(), dev); err != nil {
					return nil, err
				}
				dev = pcap
			}
			ifc := &routing.Interface{Name: is.Name, Addr: is.Addr, MTU: dev.MTU(), NoRedirects: is.NoRedirects, Dev: dev}
			ifaces = append(ifaces, ifc)
			// What crosses the link toward the router goes straight into
			// its packet path, on the sender's goroutine: a hop is a
			// function call (wire.Port.SetReceiver).
			receivers = append(receivers, func(r *routing.Router) {
				if pcap == nil {
					port.SetReceiver(func(pkts [][]byte) { r.Receive(ifc, pkts) })
					return
				}
				port.SetReceiver(func(pkts [][]byte) {
					pcap.Received(pkts)
					r.Receive(ifc, pkts)
				})
			})
			if l := t.link(end); l != nil {
				l.ends = append(l.ends, routerEnd{iface: ifc})
			}
		}
		r := routing.New(ifaces, rs.ICMP)
		if o.Events != nil {
			r.OnDecision = o.Events.decisions(rs.Name)
		}
		for _, s := range rs.Routes {
			rt, err := routing.ParseRoute(s, ifaces)
			if err != nil {
				return nil, fmt.Errorf("router %s: %w", rs.Name, err)
			}
			r.AddRoute(rt)
		}
		t.Routers[rs.Name] = r
		for _, attach := range receivers {
			attach(r)
		}
		log.Debug("router up", "router", rs.Name, "ifaces", len(ifaces), "routes", len(rs.Routes))
		for _, l := range t.links {
			for i := range l.ends {
				if l.ends[i].router == nil && contains(ifaces, l.ends[i].iface) {
					l.ends[i].router = r
				}
			}
		}
	}
	for _, l := range t.links {
		if l.spec.Down {
			t.setLinkUp(l, false)
		}
	}

	t.goneMu.Lock()
	t.ready = true
	t.goneMu.Unlock()
	t.wg.Go(t.watchHosts)
	return t, nil
}

// capture records what crosses router interface dev (named name) to a new
// pcapng file at path, closed by teardown.
func (t *Topology) capture(path, name string, dev tun.Device) (*capture.Device, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	c, err := capture.Wrap(dev, f, name, t.pcapSnaplen)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pcap: %s: %w", path, err)
	}
	t.pcaps = append(t.pcaps, pcap{dev: c, file: f})
	return c, nil
}

func contains(ifaces []*routing.Interface, ifc *routing.Interface) bool {
	for _, i := range ifaces {
		if i == ifc {
			return true
		}
	}
	return false
}

// LinkStats is what one link of a running topology carried, each way.
type LinkStats struct {
	A, B   Endpoint
	Up     bool
	AB, BA wire.Stats // A to B, B to A (router to host, host to router on a host link)
}

// Links returns the state and counters of every link, in file order.
func (t *Topology) Links() []LinkStats {
	var ls []LinkStats
	for _, l := range t.links {
		ab, ba := l.wire.Stats()
		if l.spec.A.Iface == "" { // a host first: the wire's A end is the router's, spec.B
			ab, ba = ba, ab
		}
		ls = append(ls, LinkStats{A: l.spec.A, B: l.spec.B, Up: l.wire.Up(), AB: ab, BA: ba})
	}
	return ls
}

// tap returns the recorder's tap for host's link, or nil when the
// scenario watches nothing: `icmpgw up` records nothing, however long it
// runs.
func (t *Topology) tap(host string) func([]byte) {
	if len(t.Scenario.Watches) == 0 {
		return nil
	}
	return t.Heard.tap(t, host)
}

// link finds the live link with end e.
func (t *Topology) link(e Endpoint) *liveLink {
	for _, l := range t.links {
		if l.spec.A == e || l.spec.B == e {
			return l
		}
	}
	return nil
}

// setLinkUp brings a link and the router interfaces at its ends up or
// down. A link whose host is gone stays down.
func (t *Topology) setLinkUp(l *liveLink, up bool) {
	t.linkMu.Lock()
	defer t.linkMu.Unlock()
	if up && l.dead.Load() {
		return
	}
	state := "down"
	if up {
		state = "up"
	}
	t.events.Add(Record{Time: time.Now(), Kind: "link", Event: "link " + l.spec.A.String() + " -- " + l.spec.B.String() + " " + state})
	l.wire.SetUp(up)
	for _, e := range l.ends {
		e.router.SetUp(e.iface, up)
	}
}

// Apply carries out one timeline event now.
func (t *Topology) Apply(ev Event) error {
	// The change is logged once it cannot fail, before its effects (a
	// link going down, say) are logged.
	logged := func() {
		t.events.Add(Record{Time: time.Now(), Kind: "change", Router: ev.Router, Event: describeEvent(ev)})
	}
	switch ev.Kind {
	case LinkState:
		logged()
		l := t.link(ev.Link)
		l.stopFlap() // the last word on a link's state is the latest event's
		t.setLinkUp(l, ev.Up)
	case LinkImpair:
		logged()
		t.link(ev.Link).wire.SetImpairment(ev.Impair)
	case RouteAdd, RouteReplace:
		r := t.Routers[ev.Router]
		rt, err := routing.ParseRoute(ev.Route, r.Ifaces)
		if err != nil {
			return fmt.Errorf("router %s: %w", ev.Router, err)
		}
		if ev.Kind == RouteReplace {
			r.AddRoute(rt)
		} else if !r.AddNewRoute(rt) {
			return fmt.Errorf("router %s: add %s: a route for %s exists (replace it, or delete it first)", ev.Router, ev.Route, rt.Prefix.Masked())
		}
		logged()
	case RouteDelete:
		p, err := netip.ParsePrefix(ev.Route)
		if ev.Route == "default" {
			p, err = netip.MustParsePrefix("0.0.0.0/0"), nil
		}
		if err != nil {
			return fmt.Errorf("router %s: delete %q: %w", ev.Router, ev.Route, err)
		}
		if !t.Routers[ev.Router].DeleteRoute(p) {
			return fmt.Errorf("router %s: delete %s: no such route", ev.Router, p)
		}
		logged()
	case PolicySet:
		logged()
		t.Routers[ev.Router].SetPolicy(ev.Policy)
	case Flap:
		logged()
		l := t.link(ev.Link)
		stop := l.startFlap()
		t.wg.Go(func() {
			for range ev.Count {
				for _, up := range []bool{false, true} {
					t.setLinkUp(l, up)
					select {
					case <-t.quit:
						return
					case <-stop:
						return
					case <-time.After(ev.Period):
					}
				}
			}
		})
	default:
		return fmt.Errorf("unknown event kind %d", ev.Kind)
	}
	return nil
}

// Close stops the routers, closes the links and TUN devices (the kernel
// deletes them) and deletes the namespaces Build created, by name.
func (t *Topology) Close() error {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	return t.teardown()
}

func (t *Topology) teardown() error {
	close(t.quit)
	var errs []error
	for _, l := range t.links {
		errs = append(errs, l.wire.Close())
	}
	for _, w := range t.spare {
		errs = append(errs, w.Close())
	}
	t.wg.Wait()
	for _, p := range t.pcaps {
		p.dev.Close() // the link closed its port already; this flushes
		if n := p.dev.Errors(); n > 0 {
			t.log.Warn("pcap: packets not recorded", "file", p.file.Name(), "errors", n)
		}
		errs = append(errs, p.file.Close())
	}
	t.goneMu.Lock()
	for _, ns := range t.Namespaces {
		if !t.lost[ns] { // a lost name may be someone else's by now
			errs = append(errs, tun.DeleteNamespace(ns))
		}
	}
	t.goneMu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return err // the lock and the state file stay, for Down
	}
	if err := os.Remove(statePath(t.Prefix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state: %w", err)
	}
	t.unlock()
	return nil
}

// saveState writes the lab's state file: the namespaces Build created and
// not lost since, then pending, the one about to be created. The caller
// holds goneMu, or Build has not returned.
func (t *Topology) saveState(pending ...string) error {
	s := labState{Pid: os.Getpid(), Scenario: t.Scenario.Name, Namespaces: []string{}}
	for _, ns := range append(t.Namespaces[:len(t.Namespaces):len(t.Namespaces)], pending...) {
		if !t.lost[ns] {
			s.Namespaces = append(s.Namespaces, ns)
		}
	}
	return writeState(t.Prefix, s)
}

// Gone is closed once every host of the lab is gone while it ran (see
// Build): nothing is left to forward for, and the caller should Close.
func (t *Topology) Gone() <-chan struct{} { return t.gone }

// watchEvery is how often watchHosts looks for deleted host namespaces.
const watchEvery = 200 * time.Millisecond

// watchHosts notices host namespaces deleted under the running lab, until
// Close. Nothing else would: the TUN device keeps a deleted namespace
// alive, nameless, and goes on working.
func (t *Topology) watchHosts() {
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	for {
		select {
		case <-t.quit:
			return
		case <-tick.C:
		}
		for _, h := range t.Scenario.Hosts {
			ns := t.Namespace(h.Name)
			t.goneMu.Lock()
			lost := t.lost[ns]
			t.goneMu.Unlock()
			if ok, err := tun.NamespaceExists(ns); err == nil && !ok && !lost {
				t.hostGone(h.Name, fmt.Errorf("namespace %s deleted", ns), true)
			}
		}
	}
}

// hostGone takes host name out of the running lab; cause says why, and
// nsDeleted that its namespace no longer exists under its name. The link
// to the host and the router interfaces on it go down for good, and the
// host's TUN device is closed, which frees a deleted namespace. Faults
// seen while Build runs or after Close began are ignored.
func (t *Topology) hostGone(name string, cause error, nsDeleted bool) {
	ns := t.Namespace(name)
	t.goneMu.Lock()
	defer t.goneMu.Unlock()
	select {
	case <-t.quit:
		return // Close is tearing the lab down: not a fault
	default:
	}
	if nsDeleted && !t.lost[ns] {
		t.lost[ns] = true
		if err := t.saveState(); err != nil {
			t.log.Warn("cannot update the state file", "err", err)
		}
	}
	if !t.ready || t.dead[name] {
		return
	}
	t.dead[name] = true
	t.log.Warn("host gone: its link is down and routes through it are withdrawn", "host", name, "namespace", ns, "err", cause)
	t.events.Add(Record{Time: time.Now(), Kind: "link", Event: fmt.Sprintf("host %s gone: %v", name, cause)})
	if l := t.link(Endpoint{Node: name}); l != nil {
		l.dead.Store(true)
		t.setLinkUp(l, false)
	}
	t.hosts[name].Close()
	if len(t.dead) == len(t.Scenario.Hosts) {
		close(t.gone)
	}
}

// hostDevice is a host's TUN device as its link sees it. The first error
// a Read returns (the link's pump reads) means the device is lost — its
// link was deleted — unless the lab is closing: it is reported to gone.
// Close is idempotent.
type hostDevice struct {
	tun.Device
	gone      func(error)
	closeOnce sync.Once
	closeErr  error
}

// Read implements tun.Device.
func (d *hostDevice) Read(bufs [][]byte, sizes []int) (int, error) {
	n, err := d.Device.Read(bufs, sizes)
	if err != nil {
		d.gone(err)
	}
	return n, err
}

// Close implements tun.Device; closing again returns the first answer.
func (d *hostDevice) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.Device.Close() })
	return d.closeErr
}

// linkOf is the link with end e; Parse guarantees there is one for every
// host.
func (sc *Scenario) linkOf(e Endpoint) *LinkSpec {
	for _, l := range sc.Links {
		if l.A == e || l.B == e {
			return l
		}
	}
	return &LinkSpec{MTU: 1500}
}

func (h *HostSpec) iface() string {
	if h.Iface == "" {
		return "gw0"
	}
	return h.Iface
}

// link is the namespace configuration of host h.
func (h *HostSpec) link(ns string, mtu int) tun.Link {
	l := tun.Link{Namespace: ns, Name: h.iface(), MTU: mtu, Addrs: []netip.Prefix{h.Addr}, DisableIPv6: true}
	if h.Gateway.IsValid() {
		l.Routes = append(l.Routes, tun.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: h.Gateway})
	}
	for _, r := range h.Routes {
		l.Routes = append(l.Routes, tun.Route{Dst: r.Dst, Via: r.Via})
	}
	if h.AcceptRedirects {
		// Take Redirects from the gateway (RFC 1122 §3.2.2.2), including
		// ones naming a gateway the host did not know.
		for _, dev := range []string{"all", h.iface()} {
			l.Sysctls = append(l.Sysctls,
				tun.Sysctl{Key: "net/ipv4/conf/" + dev + "/accept_redirects", Value: "1"},
				tun.Sysctl{Key: "net/ipv4/conf/" + dev + "/secure_redirects", Value: "0"})
		}
	}
	return l
}

// Down deletes what a killed icmpgw left behind under prefix: the
// namespaces its state file lists (see Build), then the state file and
// any of files (such as the lab's control socket). It refuses while an
// icmpgw runs a lab with that prefix. Without a state file it deletes
// nothing: a namespace named like one of sc's hosts is then not known to
// be icmpgw's, and the error names those that exist. It returns the
// names deleted.
func Down(sc *Scenario, prefix string, files ...string) ([]string, error) {
	unlock, err := lockPrefix(prefix)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, ok, err := readState(prefix)
	if err != nil {
		return nil, err
	}
	if !ok {
		// The lock is ours, so no lab listens on files: they are stale.
		return nil, errors.Join(unrecorded(sc, prefix), removeFiles(files))
	}
	names := st.Namespaces
	var deleted []string
	var errs []error
	owners := liveOwners(prefix)
	for _, ns := range names {
		if other, ok := owners[ns]; ok {
			errs = append(errs, fmt.Errorf("namespace %s belongs to the running lab with prefix %s: left alone", ns, other))
			continue
		}
		ok, err := tun.NamespaceExists(ns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		if err := tun.DeleteNamespace(ns); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, ns)
	}
	if len(errs) > 0 {
		return deleted, errors.Join(errs...) // keep the state file: try again
	}
	return deleted, removeFiles(append(files, statePath(prefix)))
}

// removeFiles removes the files at paths; a missing one is no error.
func removeFiles(paths []string) error {
	var errs []error
	for _, f := range paths {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// existError says that a namespace Build would create exists; it wraps
// fs.ErrExist without repeating "file already exists".
type existError string

func (e existError) Error() string { return string(e) }
func (e existError) Unwrap() error { return fs.ErrExist }

// unrecorded is Down's answer without a state file: nil if none of sc's
// hosts' namespaces exist, otherwise an error naming those that do.
func unrecorded(sc *Scenario, prefix string) error {
	var exist []string
	for _, h := range sc.Hosts {
		if ok, err := tun.NamespaceExists(prefix + h.Name); err != nil {
			return err
		} else if ok {
			exist = append(exist, prefix+h.Name)
		}
	}
	if len(exist) == 0 {
		return nil
	}
	return fmt.Errorf("no state file %s: no icmpgw lab recorded creating %s, so down leaves it alone; delete with 'ip netns del NAME' what is yours to delete",
		statePath(prefix), strings.Join(exist, ", "))
}
