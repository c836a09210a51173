// Package routing is the forwarding engine: a longest-prefix-match Table,
// a router's Interfaces, and Router.Process, the one packet path.
//
// Read router.go top to bottom: Process validates a datagram, delivers it
// locally or looks up its route, checks TTL and MTU, sends Redirects, and
// forwards it or asks package responder for the ICMP error to send back.
// output.go collects what leaves (and fragments it); serve.go hands
// datagrams to Process a batch at a time — Receive, called by whoever
// delivers them (an in-process link), or Serve, a loop reading a device —
// and writes the results, a run of datagrams for one interface per Write.
package routing
