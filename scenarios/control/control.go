// Package control serves a running lab's control API, HTTP and JSON on a
// Unix socket, and is the client `icmpgw ctl` uses.
//
// Changes are the scenario file's own timeline events without "at"
// ({link: r1:eth1, state: down}, {router: r1, route: {add: ...}}, ...),
// checked against the running topology before anything changes; each is
// applied as one step, so no packet sees half of one.
//
//	GET  /v1/routers               routers, interfaces, policies, counters
//	GET  /v1/routers/NAME/routes   a router's routes
//	GET  /v1/links                 links: state and counters
//	POST /v1/changes               apply one change (YAML or JSON body)
//	GET  /v1/events[?follow=true]  the event log's recent records (the last 256), as JSON
//	                               lines; with follow, then every new one as it happens
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/scenarios"
	"github.com/icmpgw/icmpgw/tun/packet"
	"github.com/icmpgw/icmpgw/tun/wire"
)

// maxBody bounds a request body.
const maxBody = 64 << 10

// bodyTimeout bounds the time a client takes to send a body (a var for
// tests).
var bodyTimeout = 10 * time.Second

// SocketPath is where the lab with prefix listens.
func SocketPath(prefix string) string { return filepath.Join(scenarios.LockDir, prefix+"sock") }

// Listen creates the Unix socket at path, readable and writable by its
// owner only (root): the API changes the lab. A stale socket from a
// killed icmpgw is replaced; the caller holds the prefix's lock.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	os.Remove(path)
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control: listen on %s: %w", path, err)
	}
	return l, nil
}

// Serve answers API requests on l about t until ctx ends. events, if not
// nil, feeds /v1/events.
func Serve(ctx context.Context, l net.Listener, t *scenarios.Topology, events *scenarios.EventLog) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/routers", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, routers(t))
	})
	mux.HandleFunc("GET /v1/routers/{name}/routes", func(w http.ResponseWriter, r *http.Request) {
		rt, ok := t.Routers[r.PathValue("name")]
		if !ok {
			fail(w, http.StatusNotFound, fmt.Errorf("no router %q", r.PathValue("name")))
			return
		}
		var out []Route
		for _, x := range rt.Routes.Routes() {
			out = append(out, Route{Prefix: x.Prefix.String(), Route: x.String()})
		}
		reply(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /v1/links", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, links(t))
	})
	mux.HandleFunc("POST /v1/changes", func(w http.ResponseWriter, r *http.Request) {
		// A client that stalls in its body does not keep the connection.
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyTimeout))
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			fail(w, http.StatusRequestEntityTooLarge, fmt.Errorf("body: %w (at most %d bytes)", err, maxBody))
			return
		case err != nil:
			fail(w, http.StatusBadRequest, fmt.Errorf("body: %w", err))
			return
		}
		ev, err := scenarios.ParseEvent(t.Scenario, "change", body)
		if err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		if err := t.Apply(ev); err != nil {
			fail(w, http.StatusConflict, err)
			return
		}
		reply(w, http.StatusOK, map[string]string{"applied": scenarios.Describe(ev)})
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		if events == nil {
			fail(w, http.StatusNotFound, errors.New("no event log"))
			return
		}
		follow := r.URL.Query().Get("follow")
		if follow != "" && follow != "true" && follow != "false" {
			fail(w, http.StatusBadRequest, fmt.Errorf("follow=%q: want true or false", follow))
			return
		}
		past, records, stop := events.Replay()
		defer stop()
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		flusher, _ := w.(http.Flusher)
		enc := json.NewEncoder(w)
		for _, rec := range past {
			if enc.Encode(rec) != nil {
				return
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
		if follow != "true" {
			return
		}
		for {
			select {
			case <-r.Context().Done():
				return
			case rec, ok := <-records:
				if !ok || enc.Encode(rec) != nil {
					return
				}
				if flusher != nil {
					flusher.Flush()
				}
			}
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Router is a router as the API shows it.
type Router struct {
	Name     string            `json:"name"`
	Policy   Policy            `json:"policy"`
	Ifaces   []Iface           `json:"ifaces"`
	Received uint64            `json:"received"`
	Outcomes map[string]uint64 `json:"outcomes"`
	Sent     map[string]uint64 `json:"icmp_sent"`
	Withheld map[string]uint64 `json:"icmp_suppressed"`
	// Malformed breaks the "malformed" outcome down by the problem found.
	Malformed map[string]uint64 `json:"malformed"`
	// ICMP a policy delay holds back (counted in icmp_sent when decided).
	DelayedHeld uint64 `json:"icmp_delayed_held"`
	DelayedLost uint64 `json:"icmp_delayed_lost"`
}

// Iface is a router interface as the API shows it.
type Iface struct {
	Name  string     `json:"name"`
	Addr  string     `json:"addr"`
	MTU   int        `json:"mtu"`
	Up    bool       `json:"up"`
	Stats IfaceStats `json:"stats"`
}

// IfaceStats counts what crossed a router interface.
type IfaceStats struct {
	RxPackets uint64 `json:"rx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	TxBytes   uint64 `json:"tx_bytes"`
	TxErrors  uint64 `json:"tx_errors"`
}

// Policy is a router's ICMP policy in a scenario's own words, the keys of
// icmp: — what "icmpgw ctl policy" takes.
type Policy struct {
	Silent    bool   `json:"silent"`
	RateLimit any    `json:"ratelimit"` // "linux", "off", or {burst, interval}
	Quote     any    `json:"quote"`     // 576, a byte count, or "all"
	Source    string `json:"source"`    // outgoing, incoming, or an address
	TTL       int    `json:"ttl"`
	Redirects bool   `json:"redirects"`
	Echo      bool   `json:"echo"`
	Delay     string `json:"delay"`
}

// policyView writes p in a scenario's words.
func policyView(p responder.Policy) Policy {
	v := Policy{Silent: p.Silent, RateLimit: "linux", Quote: 576, Source: "outgoing", TTL: int(p.OriginTTL()),
		Redirects: !p.NoRedirects, Echo: !p.NoEcho, Delay: p.Delay.String()}
	switch {
	case p.NoRateLimit:
		v.RateLimit = "off"
	case p.RateBurst != 0 || p.RateInterval != 0:
		burst, interval := p.RateBurst, p.RateInterval
		if burst == 0 {
			burst = responder.DefaultBurst
		}
		if interval == 0 {
			interval = responder.DefaultInterval
		}
		v.RateLimit = map[string]any{"burst": burst, "interval": interval.String()}
	}
	switch {
	case p.QuoteAll:
		v.Quote = "all"
	case p.Quote > 0:
		v.Quote = p.Quote
	}
	switch p.Source {
	case responder.SourceIncoming:
		v.Source = "incoming"
	case responder.SourceFixed:
		v.Source = p.SourceAddr.String()
	}
	return v
}

// Link is a link as the API shows it.
type Link struct {
	A    string   `json:"a"`
	B    string   `json:"b"`
	Up   bool     `json:"up"`
	AToB DirStats `json:"a_to_b"` // router to host, on a host link
	BToA DirStats `json:"b_to_a"`
}

// DirStats counts what one direction of a link did.
// Sent = Delivered + the three drops + InFlight.
type DirStats struct {
	Sent         uint64 `json:"sent"`
	Delivered    uint64 `json:"delivered"`
	DroppedDown  uint64 `json:"dropped_down"`
	DroppedLoss  uint64 `json:"dropped_loss"`
	DroppedQueue uint64 `json:"dropped_queue"`
	InFlight     uint64 `json:"in_flight"` // held by the link's delay
	Bytes        uint64 `json:"bytes"`
}

// Dropped is every datagram the direction dropped, for any reason.
func (d DirStats) Dropped() uint64 { return d.DroppedDown + d.DroppedLoss + d.DroppedQueue }

func links(t *scenarios.Topology) []Link {
	dir := func(s wire.Stats) DirStats {
		return DirStats{s.Sent, s.Delivered, s.DroppedDown, s.DroppedLoss, s.DroppedQueue, s.InFlight, s.Bytes}
	}
	var out []Link
	for _, l := range t.Links() {
		out = append(out, Link{A: l.A.String(), B: l.B.String(), Up: l.Up, AToB: dir(l.AB), BToA: dir(l.BA)})
	}
	return out
}

// Route is one route as the API shows it.
type Route struct {
	Prefix string `json:"prefix"`
	Route  string `json:"route"` // in the scenario file's words
}

func routers(t *scenarios.Topology) []Router {
	var out []Router
	for _, rs := range t.Scenario.Routers {
		r := t.Routers[rs.Name]
		s := r.Stats()
		ro := Router{Name: rs.Name, Policy: policyView(r.Policy()), Received: s.Received,
			Outcomes: map[string]uint64{}, Sent: map[string]uint64{}, Withheld: map[string]uint64{}, Malformed: map[string]uint64{},
			DelayedHeld: s.DelayedHeld, DelayedLost: s.DelayedLost}
		for _, ifc := range r.Ifaces {
			st := ifc.Stats()
			ro.Ifaces = append(ro.Ifaces, Iface{Name: ifc.Name, Addr: ifc.Addr.String(), MTU: ifc.MTU, Up: ifc.Up(),
				Stats: IfaceStats{st.RxPackets, st.RxBytes, st.TxPackets, st.TxBytes, st.TxErrors}})
		}
		for i, n := range s.Outcomes {
			if n > 0 {
				ro.Outcomes[routing.Outcome(i).String()] = n
			}
		}
		for i, n := range s.Sent {
			if n > 0 {
				ro.Sent[scenarios.TypeName(i)] = n
			}
		}
		for i, n := range s.Suppressed {
			if n > 0 {
				ro.Withheld[responder.Suppress(i).String()] = n
			}
		}
		for i, n := range s.Malformed {
			if n > 0 {
				ro.Malformed[packet.Problem(i).String()] = n
			}
		}
		out = append(out, ro)
	}
	return out
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// Error is the body of every failed request.
type Error struct {
	Error string `json:"error"`
}

func fail(w http.ResponseWriter, code int, err error) { reply(w, code, Error{err.Error()}) }
