//go:build unix

package bridge

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// pollReader waits in the runtime's poller until the engine's socket is
// readable and only then takes a buffer, so the many sessions that wait for
// their engine hold no read buffer at all.
type pollReader struct {
	rc syscall.RawConn
	// The state of one read, kept here so that read allocates nothing.
	tryRead func(fd uintptr) bool
	buf     *[]byte
	n       int
	errno   error
}

func newRawReader(c net.Conn) rawReader {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return blockingReader{c}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return blockingReader{c}
	}
	r := &pollReader{rc: rc}
	r.tryRead = r.readNonBlocking
	return r
}

// readNonBlocking runs each time the poller says the socket may be
// readable; returning false waits for the next such moment.
func (r *pollReader) readNonBlocking(fd uintptr) bool {
	r.buf = relayBuffers.Get().(*[]byte)
	for {
		r.n, r.errno = syscall.Read(int(fd), (*r.buf)[:rawReadSize])
		if !errors.Is(r.errno, syscall.EINTR) {
			break
		}
	}
	if errors.Is(r.errno, syscall.EAGAIN) {
		relayBuffers.Put(r.buf)
		r.buf = nil
		return false
	}
	return true
}

func (r *pollReader) read() (*[]byte, int, error) {
	err := r.rc.Read(r.tryRead)
	buf, n, errno := r.buf, r.n, r.errno
	r.buf, r.errno = nil, nil
	switch {
	case err != nil: // the connection was closed under us
	case errno != nil:
		err = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", errno)}
	case n <= 0:
		err = io.EOF
	default:
		return buf, n, nil
	}
	if buf != nil {
		relayBuffers.Put(buf)
	}
	return nil, 0, err
}
