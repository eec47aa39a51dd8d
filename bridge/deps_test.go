package bridge

import (
	"os/exec"
	"strings"
	"testing"
)

// Dependencies point one way: tray → cli → app → config, engine, autostart
// → bridge, certs, internal. The core must build without cgo or a display,
// so the service and the tests run anywhere; nothing below the tray may
// depend on the UI toolkit, and nothing may depend on a package above it.
func TestDependenciesPointOneWay(t *testing.T) {
	above := func(pkgs ...string) []string { return append([]string{"fyne.io/"}, pkgs...) }
	const (
		tray      = "orionbridge/tray"
		cli       = "orionbridge/cli"
		app       = "orionbridge/app"
		config    = "orionbridge/config"
		engine    = "orionbridge/engine"
		autostart = "orionbridge/autostart"
		bridge    = "orionbridge/bridge"
		certs     = "orionbridge/certs"
	)
	tests := []struct {
		pkg       string
		forbidden []string // import path prefixes
	}{
		{bridge, above(tray, cli, app, config, engine, autostart, certs)},
		{certs, above(tray, cli, app, config, engine, autostart, bridge)},
		{"orionbridge/internal/...", above(tray, cli, app, config, engine, autostart, bridge, certs)},
		{config, above(tray, cli, app, engine, autostart, certs)},
		{engine, above(tray, cli, app, autostart, certs)}, // bridge comes in through config's checks
		{autostart, above(tray, cli, app, config, engine, bridge, certs)},
		{"orionbridge/browserpolicy", above(tray, cli, app, config, engine, autostart, bridge, certs)},
		// The embedded files (pages, icons, catalogues): config and bridge
		// read them, so they import nothing of ours.
		{"orionbridge/assets", above(tray, cli, app, config, engine, autostart, bridge, certs, "orionbridge/internal")},
		{app, above(tray, cli)},
		{cli, above(tray)},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", tt.pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, bad := range tt.forbidden {
					if dep == bad || strings.HasPrefix(dep, bad+"/") || strings.HasSuffix(bad, "/") && strings.HasPrefix(dep, bad) {
						t.Errorf("%s depends on %s", tt.pkg, dep)
					}
				}
			}
		})
	}
}
