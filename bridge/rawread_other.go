//go:build !unix

package bridge

import "net"

func newRawReader(c net.Conn) rawReader { return blockingReader{c} }
