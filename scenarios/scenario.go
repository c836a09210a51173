package scenarios

import (
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/tun/packet"
	"github.com/icmpgw/icmpgw/tun/wire"
)

// Scenario is a parsed scenario file: a topology, a timeline of events,
// steps run on hosts, and expectations. Parse makes one and checks it
// whole; the runner trusts it. Times are offsets from the moment the
// topology is up.
type Scenario struct {
	File    string // where it came from, for messages
	Name    string
	About   string // the file's first comment: what the scenario teaches
	Seed    uint64 // seeds link impairments; --seed overrides
	Hosts   []*HostSpec
	Routers []*RouterSpec
	Links   []*LinkSpec
	// Timeline is sorted by At.
	Timeline []Event
	Steps    []Step
	// Watches are ICMP messages hosts must or must not receive.
	Watches []Watch
}

// Pos is a position in a scenario file, for messages about it.
type Pos struct{ Line, Column int }

// HostSpec is a network namespace joined to the topology by one TUN link.
type HostSpec struct {
	Pos
	Name    string       // namespace name after the run's prefix
	Iface   string       // TUN device name inside the namespace; default "gw0"
	Addr    netip.Prefix // required
	Gateway netip.Addr   // default route; optional
	// Routes are extra routes inside the namespace (iproute2 words,
	// "PREFIX via ADDR" only).
	Routes []HostRoute
	// AcceptRedirects lets the host take Redirects from any gateway
	// (accept_redirects=1, secure_redirects=0).
	AcceptRedirects bool
}

// HostRoute is a route inside a host's namespace.
type HostRoute struct {
	Dst netip.Prefix
	Via netip.Addr
}

// RouterSpec is one virtual router inside the icmpgw process.
type RouterSpec struct {
	Pos
	Name   string
	Ifaces []IfaceSpec // in file order
	Routes []string    // routing.ParseRoute's words; checked by Parse
	ICMP   responder.Policy
}

// IfaceSpec is one interface of a router.
type IfaceSpec struct {
	Name string
	Addr netip.Prefix
	// NoRedirects stops Redirects on this interface (icmpgw up
	// --no-redirects); icmp.redirects turns them off router-wide.
	NoRedirects bool
}

// Endpoint names one end of a link: a host ("client", Iface empty) or a
// router interface ("r1:eth0").
type Endpoint struct {
	Node  string
	Iface string
}

func (e Endpoint) String() string {
	if e.Iface == "" {
		return e.Node
	}
	return e.Node + ":" + e.Iface
}

// Impairment is what a link does to the datagrams that cross it, in each
// direction: delay, jitter and loss. The zero Impairment is a perfect wire.
type Impairment = wire.Impairment

// LinkSpec joins two endpoints.
type LinkSpec struct {
	Pos
	A, B Endpoint
	MTU  int // default 1500
	Impairment
	Down bool // starts down
}

// EventKind says what an Event changes.
type EventKind uint8

// Event kinds.
const (
	LinkState    EventKind = iota + 1 // Link goes Up or down
	LinkImpair                        // Link takes Impair
	RouteAdd                          // Router adds Route
	RouteDelete                       // Router deletes the route for Route's prefix
	RouteReplace                      // Router replaces the route for Route's prefix
	PolicySet                         // Router takes Policy
	Flap                              // Link goes down and up Count times, Period apart
)

// Event is one timeline entry.
type Event struct {
	Pos
	At     time.Duration
	Kind   EventKind
	Link   Endpoint // LinkState, LinkImpair, Flap: any end of the link
	Up     bool     // LinkState
	Impair Impairment
	Router string           // Route*, PolicySet
	Route  string           // Route*: routing.ParseRoute's words
	Policy responder.Policy // PolicySet
	Period time.Duration    // Flap: time down, then time up
	Count  int              // Flap
}

// Step is a command or a built-in probe run inside a host's namespace.
type Step struct {
	Pos
	At      time.Duration // when to start; with After, the delay after the previous step ends
	After   bool
	On      string        // host
	Run     string        // a shell command (sh -c), run as root in the namespace
	Probe   *ProbeSpec    // or a built-in probe
	Timeout time.Duration // default 30s for commands, 2s for probes
	Expect  StepExpect
}

// ProbeKind is a built-in probe's protocol.
type ProbeKind uint8

// Probe kinds.
const (
	ProbeUDP ProbeKind = iota + 1
	ProbeTCP
	ProbeEcho
	ProbeProto    // a bare IP datagram of protocol Protocol, to Dst's address
	ProbeRedirect // an Echo Request that must draw a Redirect
)

// ProbeSpec is a built-in probe: the kernel's own socket, with IP_RECVERR.
type ProbeSpec struct {
	Kind     ProbeKind
	Dst      netip.AddrPort // port 0 for echo
	TTL      int            // 0: kernel default
	Size     int            // payload bytes; 0: default
	DF       bool
	Count    int // sends this many, one after another; default 1
	Protocol int // ProbeProto: the IP protocol number, 1 to 254
}

// StepExpect is what a step must show. Zero fields are not checked.
type StepExpect struct {
	Exit     *int     // command exit status
	Output   []string // regular expressions each matching some line of output (stdout+stderr)
	NoOutput []string // regular expressions matching no line
	Errno    string   // probe: errno name, e.g. ENETUNREACH; "none" for no error
	ICMP     *ICMPMatch
	Answered *int // probe with Count: how many drew a report (ICMP or reply)
	Reply    bool // probe: an answer (echo reply, TCP connected or reset)
	NoAnswer bool // probe: nothing at all came back
	// Gateway is the new next hop a redirect probe's Redirect must name.
	Gateway netip.Addr
	// RouteVia is the gateway of the host's route to the probe's
	// destination afterwards (the kernel took a Redirect).
	RouteVia netip.Addr
}

// ICMPMatch matches an ICMP message. Zero fields match anything.
type ICMPMatch struct {
	Type    ipv4.ICMPType
	AnyType bool // Type was not given
	Code    *packet.Code
	From    netip.Addr
	About   netip.Addr // the destination of the datagram the message quotes
}

// Watch is an expectation on the ICMP messages icmpgw sends to a host
// during [From, Until).
type Watch struct {
	Pos
	Host        string
	Match       ICMPMatch
	Never       bool // must not receive; otherwise must receive at least Min
	Min         int  // default 1
	From, Until time.Duration
}
