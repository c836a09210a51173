package tun

// Device is one end of a point-to-point IPv4 link: the router reads the
// packets the far side sends and writes the packets it should receive.
// Packets are bare IPv4 datagrams, with no link-layer header.
//
// The shape follows wireguard-go's tun.Device: Read fills up to len(bufs)
// packets and reports each packet's length in sizes; Write sends every
// buffer in bufs. A caller handles the n packets it got before it looks at
// err. After Close, Read and Write return an error wrapping os.ErrClosed.
//
// Read and Write may be called concurrently with each other; callers
// serialize their own Reads.
type Device interface {
	// Read reads up to len(bufs) packets into bufs, setting sizes[i] to the
	// length of packet i. It blocks until at least one packet is read.
	Read(bufs [][]byte, sizes []int) (n int, err error)
	// Write writes every packet in bufs. n counts the packets written.
	Write(bufs [][]byte) (n int, err error)
	// BatchSize is the most packets one Read returns; fixed for the
	// Device's lifetime. It is 1 for water devices.
	BatchSize() int
	// MTU is the link's MTU in bytes.
	MTU() int
	// Name names the device for people, e.g. "icmpgw-client/gw0".
	Name() string
	// Close releases the device; blocked Reads return.
	Close() error
}
