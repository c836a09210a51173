// Package scenarios builds labs around an icmpgw router and checks what
// clients see in them.
//
// Start with lab.go: Default is the lab `icmpgw up` builds, and Up turns a
// Lab into namespaces, TUN links and a running router. demo.go is
// `icmpgw demo`: probes sent with the client's own kernel sockets, and the
// reaction each must draw.
package scenarios
