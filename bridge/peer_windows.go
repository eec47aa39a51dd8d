//go:build windows

package bridge

import (
	"errors"
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/windows"
)

const peerLookupSupported = true

// currentUserKey is the SID of the user running the bridge.
func currentUserKey() (string, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("read this process's user: %w", err)
	}
	return u.User.Sid.String(), nil
}

var (
	iphlpapi            = windows.NewLazySystemDLL("iphlpapi.dll")
	getExtendedTcpTable = iphlpapi.NewProc("GetExtendedTcpTable")
)

// TCP_TABLE_OWNER_PID_ALL (iprtrmib.h): every TCP row with its owner's PID.
const tcpTableOwnerPIDAll = 5

// lookupPeerUser finds the peer's row in GetExtendedTcpTable (its local end
// is our remote end), then the user SID of the process that owns it.
func lookupPeerUser(local, remote *net.TCPAddr) (string, error) {
	pid, err := peerPID(local, remote)
	if err != nil {
		return "", fmt.Errorf("find the process of %s: %w", remote, err)
	}
	sid, err := processUserSID(pid)
	if err != nil {
		return "", fmt.Errorf("find the user of %s (pid %d): %w", remote, pid, err)
	}
	return sid, nil
}

// peerPID returns the owner PID of the TCP row with local end remote and
// remote end local.
func peerPID(local, remote *net.TCPAddr) (uint32, error) {
	v4 := remote.IP.To4() != nil && local.IP.To4() != nil
	af := uint32(windows.AF_INET6)
	if v4 {
		af = windows.AF_INET
	}
	table, err := tcpTable(af)
	if err != nil {
		return 0, err
	}
	return findPeerRow(table, v4, local, remote)
}

// tcpTable calls GetExtendedTcpTable(buf, &size, FALSE, af,
// TCP_TABLE_OWNER_PID_ALL, 0), growing the buffer while it says
// ERROR_INSUFFICIENT_BUFFER (the table can grow between two calls).
func tcpTable(af uint32) ([]byte, error) {
	size := uint32(16 << 10)
	for range 8 {
		buf := make([]byte, size)
		r, _, _ := getExtendedTcpTable.Call(uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0, uintptr(af), tcpTableOwnerPIDAll, 0)
		switch windows.Errno(r) {
		case windows.ERROR_SUCCESS:
			return buf[:min(int(size), len(buf))], nil
		case windows.ERROR_INSUFFICIENT_BUFFER:
			size += 4 << 10
			continue
		default:
			return nil, fmt.Errorf("GetExtendedTcpTable: %w", windows.Errno(r))
		}
	}
	return nil, errors.New("GetExtendedTcpTable: the table kept growing")
}

// processUserSID returns the SID of the user that runs pid. Another user's
// process may not be opened at all (its DACL grants the owner, SYSTEM and
// administrators); then its session says enough: a process in another
// session than ours is another user's (a terminal server gives each user
// a session), and the SID stays unknown.
func processUserSID(pid uint32) (string, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		var theirs, ours uint32
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) &&
			windows.ProcessIdToSessionId(pid, &theirs) == nil &&
			windows.ProcessIdToSessionId(windows.GetCurrentProcessId(), &ours) == nil && theirs != ours {
			return otherSessionKey, nil
		}
		return "", fmt.Errorf("OpenProcess: %w", err)
	}
	defer windows.CloseHandle(h)
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return "", fmt.Errorf("OpenProcessToken: %w", err)
	}
	defer tok.Close()
	u, err := tok.GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("GetTokenUser: %w", err)
	}
	return u.User.Sid.String(), nil
}
