package bridge

import (
	"io"
	"net"
)

// rawReader reads the engine's stream in raw framing. read returns a buffer
// from relayBuffers holding n > 0 bytes, which the caller puts back, or an
// error (io.EOF when the engine closed its side).
type rawReader interface {
	read() (buf *[]byte, n int, err error)
}

// blockingReader takes a buffer before it blocks in Read. It is the
// fallback where the socket cannot be polled for readiness.
type blockingReader struct{ c net.Conn }

func (r blockingReader) read() (*[]byte, int, error) {
	buf := relayBuffers.Get().(*[]byte)
	n, err := r.c.Read((*buf)[:rawReadSize])
	if n > 0 {
		// Deliver what was read now; a TCP socket reports an error (EOF)
		// again on the next call.
		return buf, n, nil
	}
	relayBuffers.Put(buf)
	if err == nil {
		err = io.ErrNoProgress
	}
	return nil, 0, err
}
