package bridge

// The parsing half of the Windows peer lookup (peer_windows.go), free of
// system calls so that its tests run on every OS.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// errNoOwner: the row exists but names no process (PID 0). Wine fills the
// PID only for IPv4 sockets a Wine process connected (docs/wine-findings.md;
// its IPv6 rows all say 0, see installer/wine/peer_test.go).
//
//lint:ignore U1000 used by peer_windows.go; here so its tests run on every OS
var errNoOwner = errors.New("the connection's row names no owning process (PID 0)")

// findPeerRow walks MIB_TCPTABLE_OWNER_PID (v4: rows of six DWORDs: state,
// local addr, local port, remote addr, remote port, pid) or
// MIB_TCP6TABLE_OWNER_PID (v6: local addr[16], scope, port, remote
// addr[16], scope, port, state, pid). Ports are in network byte order in
// the low 16 bits of their DWORD. Pure, so it is tested on every OS.
//
//lint:ignore U1000 used by peer_windows.go; here so its tests run on every OS
func findPeerRow(table []byte, v4 bool, local, remote *net.TCPAddr) (uint32, error) {
	if len(table) < 4 {
		return 0, errors.New("GetExtendedTcpTable: short table")
	}
	n := int(binary.LittleEndian.Uint32(table))
	rowSize, rows := 24, table[4:]
	if !v4 {
		rowSize = 56
	}
	port := func(b []byte) int { return int(binary.BigEndian.Uint16(b)) }
	for i := 0; i < n && (i+1)*rowSize <= len(rows); i++ {
		row := rows[i*rowSize : (i+1)*rowSize]
		var la, ra net.IP
		var lp, rp int
		var pid uint32
		if v4 {
			la, lp, ra, rp = net.IP(row[4:8]), port(row[8:]), net.IP(row[12:16]), port(row[16:])
			pid = binary.LittleEndian.Uint32(row[20:])
		} else {
			la, lp, ra, rp = net.IP(row[0:16]), port(row[20:]), net.IP(row[24:40]), port(row[44:])
			pid = binary.LittleEndian.Uint32(row[52:])
		}
		if lp == remote.Port && rp == local.Port && la.Equal(remote.IP) && ra.Equal(local.IP) {
			if pid == 0 {
				return 0, errNoOwner
			}
			return pid, nil
		}
	}
	return 0, fmt.Errorf("GetExtendedTcpTable lists no connection %s -> %s", remote, local)
}
