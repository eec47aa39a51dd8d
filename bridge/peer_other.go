//go:build !linux && !windows

package bridge

import (
	"net"
	"os"
	"strconv"
)

// macOS and the BSDs: the socket's owner is in sysctl's pcblist (macOS's
// net.inet.tcp.pcblist_n xsocket_n.so_uid) or libproc's socket info, whose
// struct layouts change between releases and are only declared for C; the
// bridge is built without cgo there, so the check is not made and Start
// warns (README "Shared computers and terminal servers").
const peerLookupSupported = false

func currentUserKey() (string, error) { return strconv.Itoa(os.Getuid()), nil }

func lookupPeerUser(local, remote *net.TCPAddr) (string, error) {
	return "", errPeerUnsupported
}
