//go:build !windows

package cli

import "io"

// The renewal on Linux and macOS ships with the package, not with this
// command: the deb/rpm's systemd timer (installer/linux/orionbridge-renew.timer)
// and the pkg's LaunchDaemon (installer/macos/com.orionreport.bridge.renew.plist),
// both running `certs machine renew` as root. So install and uninstall
// have no task to manage here.

func installRenewTask(string, io.Writer) error { return nil }
func removeRenewTask(io.Writer) error          { return nil }
func writeRenewTaskStatus(io.Writer)           {}
