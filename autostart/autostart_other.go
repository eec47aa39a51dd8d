//go:build !linux && !darwin && !windows

package autostart

import (
	"fmt"
	"runtime"
)

// Start at login is written for Linux desktops, macOS and Windows only.
var errAutostartUnsupported = fmt.Errorf("start at login is not supported on %s", runtime.GOOS)

func State() (bool, string, error)           { return false, "", errAutostartUnsupported }
func enableAutostart(string) (string, error) { return "", errAutostartUnsupported }
func disableAutostart() error                { return errAutostartUnsupported }
