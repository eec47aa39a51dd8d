// Command orionbridge hosts wss://localhost for the Orion Report Editor and
// relays each browser session to the local report engine over TCP.
package main

import (
	_ "embed"
	"os"

	"orionbridge/app"
)

//go:embed FyneApp.toml
var metadata []byte

func main() {
	os.Exit(app.Main(metadata, os.Args[1:], os.Stdout, os.Stderr, nil))
}
