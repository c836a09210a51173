// Package packet holds views of IPv4 and ICMPv4 wire formats, the Internet
// checksum and the ICMP registry numbers icmpgw uses.
//
// A view is the byte slice itself (type IPv4 []byte): Valid checks lengths
// once, and the accessors after it are one-liners without bounds checks of
// their own. Nothing here allocates, keeps state, or imports device code, so
// everything about bytes unit-tests without root.
package packet
