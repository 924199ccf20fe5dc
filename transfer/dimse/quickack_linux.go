package dimse

import (
	"net"
	"syscall"
)

// quickAck acknowledges at once what has arrived and leaves Linux's
// interactive (pingpong) mode, in which it delays ACKs. An SCP that writes
// its response in two segments with Nagle's algorithm on (dcmtk's storescp:
// a 12-byte PDU header, then the rest) sends the second only once the
// first is acknowledged, so a delayed ACK costs 40 ms or more per instance.
// The setting is not sticky: each segment of ours that the kernel sends
// soon after receiving data puts the socket back into pingpong mode, and
// those segments may still be leaving the send buffer after Write has
// returned. So it is set after every read that returned data (see
// ackReader), which sends the ACK the kernel was holding, and not only
// before waiting for a response.
func quickAck(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
