//go:build windows

package bridge

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// underWine: Wine's ntdll exports wine_get_version, Windows's does not.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// TestPeerLookupWindows dials a listener of this process and looks up the
// accepted connection's peer: GetExtendedTcpTable's row for the dialing
// socket, its owner PID (this process), that process's token SID. Under
// Wine (installer/wine/peer_test.go) the connecting socket's row carries
// the PID for IPv4, so this runs end to end there too; for IPv6 Wine
// leaves it 0, errNoOwner, which checkPeer must refuse.
func TestPeerLookupWindows(t *testing.T) {
	me, err := ownUserKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
			if err != nil {
				// A Windows without IPv6 loopback; Wine, where CI runs
				// this, has it.
				if os.Getenv("CI") == "true" {
					t.Fatalf("no %s loopback: %v", host, err)
				}
				t.Skipf("no %s loopback: %v", host, err)
			}
			defer ln.Close()
			d, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			local, remote := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
			pid, err := peerPID(local, remote)
			t.Logf("peer row of %s -> %s: pid %d, %v", remote, local, pid, err)
			if errors.Is(err, errNoOwner) && underWine() && host == "::1" {
				// Wine 8 leaves the PID of every IPv6 row 0 (seen: the
				// IPv4 row of the same kind of socket has it). Unknown
				// must mean refused.
				if p := checkPeer(c); !p.refused() || p.verdict != peerUnknown {
					t.Errorf("checkPeer of a connection without an owner = %+v; want unknown, refused", p)
				}
				return
			}
			if errors.Is(err, errNoOwner) {
				t.Fatalf("the peer's row names no PID: this Windows cannot place a connection; checkPeer refuses it")
			}
			user, err := lookupPeerUser(local, remote)
			if err != nil || user != me {
				t.Fatalf("lookupPeerUser = %q, %v; want this process's SID %s", user, err, me)
			}
			if p := checkPeer(c); p.refused() {
				t.Errorf("checkPeer refused this process's own connection: %+v", p)
			}
		})
	}
}
