// Command orionbridge hosts wss://localhost for the Orion Report Editor and
// relays each browser session to the local report engine over TCP.
package main

import (
	_ "embed"
	"os"

	"orionbridge/app"
	_ "orionbridge/internal/locale" // before Fyne reads the locale: see its doc
	"orionbridge/tray"
)

//go:embed FyneApp.toml
var metadata []byte

func main() {
	os.Exit(app.Main(metadata, os.Args[1:], os.Stdout, os.Stderr, tray.Run))
}
