//go:build !linux

package dimse

import "net"

func quickAck(net.Conn) {}
