//go:build linux

package wine

// Issue 16: the Windows peer lookup (bridge/peer_windows.go) under Wine.
// Wine 8 fills GetExtendedTcpTable's owner PID for an IPv4 socket that a
// Wine process connected (docs/wine-findings.md), which is the row the
// bridge looks up for its peer: a Windows test binary that dials its own
// listener on 127.0.0.1 runs the whole lookup, PID and token SID included.
// For ::1 Wine leaves the PID 0 (found here, 2026-12-07), so there the test
// checks that the unknown owner is refused. What Wine cannot show: another
// user's process (Wine has one user), and a Linux client, whose row has
// PID 0 too (refused; TestFindPeerRow checks that case on the table's
// bytes).
func init() {
	windowsTests = append(windowsTests, struct{ pkg, run string }{"./bridge/", "^(TestPeerLookupWindows|TestFindPeerRow)$"})
}
