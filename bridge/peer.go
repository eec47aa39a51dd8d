package bridge

// Which OS user is calling (issue 16, point 1).
//
// Every user of a machine shares one loopback: on a terminal server fifty
// people's browsers can all reach 127.0.0.1:21443. So for each accepted
// connection the bridge asks the OS which user owns the socket at the
// other end (peer_linux.go: sock_diag, then /proc/net/tcp{,6};
// peer_windows.go: GetExtendedTcpTable's owner PID, then that process's
// token) before it reads a byte. A connection of another user is answered
// with 403 and nothing else: no route, no control API, no diagnostics page.
//
// When the lookup fails on an OS that can check (Linux, Windows), the
// connection is refused as another user's: "only the owner's processes"
// must hold even when the table raced with a client that already closed.
// Where the OS gives no answer without cgo (macOS, BSDs), the check is
// unsupported: connections are allowed as before, and Start logs a warning
// once so the operator knows (README "Shared computers and terminal
// servers"). Options.AllowOtherUsers turns the check off on purpose (a
// bridge run as a service for everyone).

import (
	"errors"
	"net"
	"os/user"
	"strings"
	"sync"
)

// OtherUserText is the refusal every request of another user's process
// gets, in the body after "403 Forbidden: ".
const OtherUserText = "this Orion Bridge belongs to another user of this computer"

// errPeerUnsupported: this OS cannot name the user of a loopback peer.
var errPeerUnsupported = errors.New("this OS cannot tell which user owns a loopback connection")

// peerVerdict is what the check decided for one connection.
type peerVerdict int

const (
	peerOwn     peerVerdict = iota // the bridge's own user, or not checked
	peerOther                      // another user's process: refused
	peerUnknown                    // the lookup failed: refused like peerOther
)

// peerInfo is the check's result for one accepted connection.
type peerInfo struct {
	verdict peerVerdict
	user    string // the peer's user key (uid, SID) when known; for discovery
	err     error  // why the lookup failed (peerUnknown)
}

// refused reports whether the connection's requests get the 403.
func (p *peerInfo) refused() bool { return p != nil && p.verdict != peerOwn }

// otherSessionKey stands for "a user in another session, SID unknown"
// (peer_windows.go: a process the bridge may not open): it never equals a
// user key, so the peer is refused, and discovery names no port for it.
const otherSessionKey = "other-session"

// ownUserKey is the running user's key as the lookups return it: the uid
// in decimal on Unix, the SID string on Windows. Computed once.
var ownUserKey = sync.OnceValues(currentUserKey)

// checkPeer decides for the accepted TCP connection c.
func checkPeer(c net.Conn) *peerInfo {
	local, lok := c.LocalAddr().(*net.TCPAddr)
	remote, rok := c.RemoteAddr().(*net.TCPAddr)
	if !lok || !rok {
		// Not TCP (a test's pipe): nothing to look up.
		return &peerInfo{verdict: peerOwn}
	}
	own, err := ownUserKey()
	if err != nil {
		return &peerInfo{verdict: peerUnknown, err: err}
	}
	user, err := lookupPeerUser(local, remote)
	switch {
	case errors.Is(err, errPeerUnsupported):
		return &peerInfo{verdict: peerOwn}
	case err != nil:
		return &peerInfo{verdict: peerUnknown, err: err}
	case !strings.EqualFold(user, own):
		return &peerInfo{verdict: peerOther, user: user}
	}
	return &peerInfo{verdict: peerOwn, user: user}
}

// PeerCheckSupported reports whether this OS can name the user of a
// loopback peer, i.e. whether the per-user check is in force.
func PeerCheckSupported() bool { return peerLookupSupported }

// bridgeUserName is the login name of the user running the bridge (the
// uid or SID when the name cannot be read), for status and the
// diagnostics page.
var bridgeUserName = sync.OnceValue(func() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	k, _ := ownUserKey()
	return k
})
