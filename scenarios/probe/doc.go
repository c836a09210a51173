// Package probe sends one probe from inside a client network namespace with
// the kernel's own sockets and reports what that kernel said about it.
//
// It is the client half of `icmpgw demo` and of the scenario tests: instead
// of decoding ICMP on the wire, it asks the question an application would
// ask (did the connect fail, with which errno?) and records the answer the
// client's kernel gives, so icmpgw is judged by the reports real programs see.
//
// Start with Result (probe.go), then Echo, UDP, TCP, Proto and Redirect.
// Every probe creates its socket on a locked OS thread that has joined the
// named namespace (netns.go); a socket stays in the namespace it was made
// in, so the rest of the probe runs on any thread. ICMP errors are read from
// the socket error queue (IP_RECVERR, errqueue.go): the sock_extended_err
// there carries the ICMP type and code, the errno the kernel chose
// (icmp_err_convert in net/ipv4/icmp.c) and the address of the host that
// sent the error (SO_EE_OFFENDER). Redirects never reach an error queue, so
// Redirect reads them from a raw ICMP socket instead, and RouteGet shows
// whether the client's kernel took them.
//
// Probes never run in the caller's own namespace: ns must name a namespace.
// Every function is safe for concurrent use: each probe has its own socket,
// and raw sockets, which also see reports meant for others, match theirs
// by ICMP identifier and sequence number or by a random payload.
package probe
