// Package tun joins the router to Linux network namespaces.
//
// Start with Device (device.go): the one seam between the packet path and
// the outside world. CreateIn (water.go) opens a plain TUN device inside a
// named namespace, CreateOffloadIn (offload.go) one with the kernel's
// offloads (GSO/GRO, through wireguard-go's tun); namespace.go creates namespaces and configures links,
// addresses, routes and sysctls in them with netlink, never in the
// namespace the router itself runs in.
//
// The packet views live in tun/packet, which imports nothing of this
// package: a TUN frame is a bare IPv4 datagram (IFF_NO_PI).
package tun
