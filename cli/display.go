package cli

import (
	"os"
	"runtime"
)

// haveDisplay reports whether a desktop session can show the tray. Only
// Linux and the BSDs run without one in practice (servers, containers, SSH);
// there X11 or Wayland announce themselves through the environment.
func haveDisplay() bool {
	switch runtime.GOOS {
	case "windows", "darwin":
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}
