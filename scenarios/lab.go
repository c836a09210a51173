package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/icmpgw/icmpgw/responder"
	"github.com/icmpgw/icmpgw/routing"
	"github.com/icmpgw/icmpgw/tun"
)

// Host is a network namespace joined to the router by one TUN link.
type Host struct {
	Name    string       // namespace name after the lab's prefix, e.g. "client"
	Iface   string       // the TUN device's name inside the namespace
	Addr    netip.Prefix // the host's address on the link
	Gateway netip.Addr   // its default route
	MTU     int          // the link MTU, on both ends
	// Router is the router's end of the link: its name and address.
	RouterIface string
	RouterAddr  netip.Prefix
	// RouterNoRedirects stops the router sending Redirects on this link.
	RouterNoRedirects bool
	// Sysctls are set inside the namespace, e.g. to accept redirects.
	Sysctls []tun.Sysctl
}

// Lab is a router and the hosts around it.
type Lab struct {
	Hosts  []Host
	Routes []string // in routing.ParseRoute's words
	Policy responder.Policy
}

// Default is the lab `icmpgw up` and `icmpgw demo` build:
//
//	client gw0 198.51.100.2/24 ── eth0 198.51.100.1 [icmpgw] 203.0.113.1 eth1 ── gw0 203.0.113.2/24 server
//	         MTU 1500                                         MTU 1400
//
// and demo routes that draw every kind of error.
func Default() Lab {
	return Lab{
		Hosts: []Host{
			{
				Name: "client", Iface: "gw0", MTU: 1500,
				Addr: netip.MustParsePrefix("198.51.100.2/24"), Gateway: netip.MustParseAddr("198.51.100.1"),
				RouterIface: "eth0", RouterAddr: netip.MustParsePrefix("198.51.100.1/24"),
				// Let the client take redirects from its gateway (RFC 1122
				// §3.2.2.2), including ones to a gateway it did not know.
				Sysctls: []tun.Sysctl{
					{Key: "net/ipv4/conf/all/accept_redirects", Value: "1"},
					{Key: "net/ipv4/conf/gw0/accept_redirects", Value: "1"},
					{Key: "net/ipv4/conf/all/secure_redirects", Value: "0"},
					{Key: "net/ipv4/conf/gw0/secure_redirects", Value: "0"},
				},
			},
			{
				Name: "server", Iface: "gw0", MTU: 1400,
				Addr: netip.MustParsePrefix("203.0.113.2/24"), Gateway: netip.MustParseAddr("203.0.113.1"),
				RouterIface: "eth1", RouterAddr: netip.MustParsePrefix("203.0.113.1/24"),
			},
		},
		Routes: []string{
			"unreachable net 198.18.0.0/26",
			"unreachable host 198.18.0.64/26",
			"prohibit 198.18.0.128/26",
			"blackhole 198.18.0.192/26",
			"198.18.1.0/24 via 198.51.100.254",
		},
	}
}

// Running is a lab that is up: its namespaces exist and its router
// forwards until Close.
type Running struct {
	Router     *routing.Router
	Namespaces []string // what Up created, deleted by Close

	log     *slog.Logger
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// Namespace is the namespace name of the host called name.
func Namespace(prefix, name string) string { return prefix + name }

// Up builds lab: a namespace per host (prefix + host name), a TUN link
// from each to the router, addresses, routes and sysctls inside the
// namespaces, and the router. It refuses if any namespace exists already.
// On error it removes whatever it created. Nothing is changed in the
// namespace icmpgw itself runs in.
func Up(lab Lab, prefix string, log *slog.Logger) (_ *Running, err error) {
	for _, h := range lab.Hosts {
		ns := Namespace(prefix, h.Name)
		if ok, err := tun.NamespaceExists(ns); err != nil {
			return nil, err
		} else if ok {
			return nil, fmt.Errorf("namespace %s exists already (another lab, or one left by a killed icmpgw: remove it with 'icmpgw down --prefix %s'): %w", ns, prefix, fs.ErrExist)
		}
	}
	run := &Running{log: log}
	var devs []tun.Device
	defer func() {
		if err != nil {
			for _, d := range devs {
				d.Close()
			}
			run.deleteNamespaces()
		}
	}()
	var ifaces []*routing.Interface
	for _, h := range lab.Hosts {
		ns := Namespace(prefix, h.Name)
		if err := tun.CreateNamespace(ns); err != nil {
			return nil, err
		}
		run.Namespaces = append(run.Namespaces, ns)
		dev, err := tun.CreateIn(ns, h.Iface, h.MTU)
		if err != nil {
			return nil, err
		}
		devs = append(devs, dev)
		link := tun.Link{
			Namespace: ns, Name: h.Iface, MTU: h.MTU,
			Addrs:       []netip.Prefix{h.Addr},
			Sysctls:     h.Sysctls,
			DisableIPv6: true,
		}
		if h.Gateway.IsValid() {
			link.Routes = []tun.Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Via: h.Gateway}}
		}
		if err := tun.Apply(link); err != nil {
			return nil, err
		}
		ifaces = append(ifaces, &routing.Interface{Name: h.RouterIface, Addr: h.RouterAddr, MTU: h.MTU, NoRedirects: h.RouterNoRedirects, Dev: dev})
	}
	run.Router = routing.New(ifaces, lab.Policy)
	for _, s := range lab.Routes {
		r, err := routing.ParseRoute(s, ifaces)
		if err != nil {
			return nil, err
		}
		run.Router.AddRoute(r)
	}
	for _, ifc := range ifaces {
		run.wg.Add(1)
		go func() {
			defer run.wg.Done()
			if err := run.Router.Serve(ifc); err != nil {
				log.Error("interface stopped", "iface", ifc.Name, "err", err)
			}
		}()
	}
	return run, nil
}

// Wait blocks until ctx is done, then closes the lab.
func (r *Running) Wait(ctx context.Context) error {
	<-ctx.Done()
	return r.Close()
}

// Close stops the router, closes the TUN devices (the kernel deletes
// them) and deletes the namespaces Up created, by name.
func (r *Running) Close() error {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	for _, ifc := range r.Router.Ifaces {
		errs = append(errs, ifc.Dev.Close())
	}
	r.wg.Wait()
	errs = append(errs, r.deleteNamespaces())
	return errors.Join(errs...)
}

func (r *Running) deleteNamespaces() error {
	var errs []error
	for _, ns := range r.Namespaces {
		errs = append(errs, tun.DeleteNamespace(ns))
	}
	return errors.Join(errs...)
}

// Down deletes every namespace whose name starts with prefix and names a
// host of lab: what a killed icmpgw left behind. It returns the names
// deleted.
func Down(lab Lab, prefix string) ([]string, error) {
	var deleted []string
	var errs []error
	for _, h := range lab.Hosts {
		ns := Namespace(prefix, h.Name)
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
	return deleted, errors.Join(errs...)
}
