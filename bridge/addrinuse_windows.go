package bridge

import "syscall"

// addrInUseErrnos: what Winsock returns, and Go's own value in case a
// wrapper ever maps to it.
var addrInUseErrnos = []syscall.Errno{wsaeAddrInUse, syscall.EADDRINUSE}

// noSuchAddressErrnos: Winsock's, and Go's in case a wrapper maps to them.
var noSuchAddressErrnos = []syscall.Errno{wsaeAddrNotAvail, wsaeAFNoSupport, syscall.EADDRNOTAVAIL, syscall.EAFNOSUPPORT}
