package bridge

import (
	"os/exec"
	"strings"
	"testing"
)

// The core must build without cgo or a display, so the service and the
// tests run anywhere: neither bridge nor certs may depend on the UI toolkit.
func TestCoreDoesNotDependOnTheUI(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "orionbridge/bridge/...", "orionbridge/certs/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "fyne.io/") || strings.HasPrefix(pkg, "orionbridge/tray") || strings.HasPrefix(pkg, "orionbridge/app") {
			t.Errorf("the core depends on %s", pkg)
		}
	}
}
