// Command orionbridge hosts wss://localhost for the Orion Report Editor and
// relays each browser session to the local report engine over TCP.
//
// The package builds two programs. By default, orionbridge: the tray app
// (Fyne, cgo; build it with -tags no_emoji, see ui_tray.go). With -tags
// headless, orionbridge-headless: the same commands without the tray, cgo-
// free (CGO_ENABLED=0), for services and machines without a desktop; it
// idles in less than half the memory (docs/benchmarks.md). trayUI, the UI
// passed to app, comes from ui_tray.go or ui_headless.go.
package main

import (
	_ "embed"
	"orionbridge/cli"
	"os"
)

//go:embed FyneApp.toml
var metadata []byte

func main() {
	os.Exit(cli.Main(metadata, os.Args[1:], os.Stdout, os.Stderr, trayUI))
}
