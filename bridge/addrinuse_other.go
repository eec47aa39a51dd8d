//go:build !windows

package bridge

import "syscall"

var addrInUseErrnos = []syscall.Errno{syscall.EADDRINUSE}

var noSuchAddressErrnos = []syscall.Errno{syscall.EADDRNOTAVAIL, syscall.EAFNOSUPPORT}
