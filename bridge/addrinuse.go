package bridge

import (
	"errors"
	"syscall"
)

// isAddrInUse reports whether err is a bind that failed because something
// else holds the address. Each OS says so with its own errno
// (addrInUseErrnos): Go's syscall.EADDRINUSE is the Unix one, and on Windows
// it is a made-up value no socket call returns, so comparing with it alone
// missed every port in use there, and the fallback ports and the "already
// running" message never worked on Windows.
func isAddrInUse(err error) bool {
	for _, errno := range addrInUseErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// isNoSuchAddress reports whether err is a bind to an address this machine
// lacks, such as ::1 without IPv6 loopback, per OS like isAddrInUse.
func isNoSuchAddress(err error) bool {
	for _, errno := range noSuchAddressErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// Winsock's WSAEADDRNOTAVAIL and WSAEAFNOSUPPORT, spelled out likewise.
const (
	wsaeAddrNotAvail = syscall.Errno(10049)
	wsaeAFNoSupport  = syscall.Errno(10047)
)

// wsaeAddrInUse is Winsock's WSAEADDRINUSE, what bind returns on Windows
// ("winapi error #10048"); golang.org/x/sys/windows.WSAEADDRINUSE, spelled
// out here so that the list's test builds on every OS.
const wsaeAddrInUse = syscall.Errno(10048)
