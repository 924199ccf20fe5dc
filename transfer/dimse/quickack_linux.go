package dimse

import (
	"net"
	"syscall"
)

// quickAck asks Linux to acknowledge at once what arrives next. An SCP
// that writes its response in two segments with Nagle's algorithm on (as
// dcmtk's storescp does) otherwise waits for our delayed ACK, about 40 ms
// per instance.
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
