//go:build headless

package main

// The headless build, orionbridge-headless: no tray package, so no Fyne, no
// cgo, no GUI libraries. Services run this build (cli/service.go,
// serviceExecutable).

import "orionbridge/app"

// trayUI is nil: with no command, app runs the bridge as `run` does, and
// says that this build has no tray.
var trayUI app.UI
