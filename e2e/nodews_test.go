//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNodeWSClientEveryFraming runs a second WebSocket client
// implementation, Node's ws from npm (pinned in e2e/nodews/package-lock.json,
// installed with `npm ci`), against the real bridge binary: one route per
// framing (raw, lines, lines with crlf, length-prefixed) to an echo engine,
// with ws's default permessage-deflate offer, which the bridge declines.
// The script (e2e/nodews/interop.mjs) asserts each exchange; this test
// checks that every case reported in.
func TestNodeWSClientEveryFraming(t *testing.T) {
	testutil.RequireTools(t, testutil.Tool{Name: "node", Deb: "nodejs"}, testutil.Tool{Name: "npm", Deb: "npm"})
	dir, err := filepath.Abs("nodews")
	if err != nil {
		t.Fatal(err)
	}
	npmCI(t, dir)

	engine := testutil.EchoEngine(t)
	b := startEngineBridge(t, 1<<20, routesTOML(engine,
		route{"/raw", "raw", ""}, route{"/lines", "lines", ""}, route{"/crlf", "lines", "crlf"}, route{"/framed", "length-prefixed", ""}))

	ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
	defer cancel()
	// node interop.mjs, with the bridge's address, CA and an allowed origin.
	cmd := exec.CommandContext(ctx, "node", "interop.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BRIDGE=wss://localhost:"+fmt.Sprint(b.port), "CA="+filepath.Join(b.dataDir, "certs", "ca.pem"), "ORIGIN="+engineOrigin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node interop.mjs: %v\n%s", err, out)
	}
	t.Logf("node interop.mjs:\n%s", out)

	type report struct {
		Path       string `json:"path"`
		OK         bool   `json:"ok"`
		Extensions string `json:"extensions"`
		Messages   int    `json:"messages"`
		Refused    int    `json:"refused"`
	}
	if !strings.Contains(string(out), `"offered":"permessage-deflate`) {
		t.Error("the script did not show that ws offers permessage-deflate by default")
	}
	relayed, refused := map[string]report{}, map[string]report{}
	for line := range strings.Lines(string(out)) {
		var r report
		if json.Unmarshal([]byte(line), &r) != nil || !r.OK {
			continue
		}
		if r.Refused != 0 {
			refused[r.Path] = r
		} else {
			relayed[r.Path] = r
		}
	}
	for _, path := range []string{"/raw", "/lines", "/crlf", "/framed"} {
		if r, ok := relayed[path]; !ok || r.Messages == 0 || r.Extensions != "" {
			t.Errorf("%s: report %+v; want messages relayed without extensions", path, r)
		}
	}
	for _, path := range []string{"/lines", "/crlf"} {
		if refused[path].Refused != 1007 {
			t.Errorf("%s: a line break was not refused with 1007: %+v", path, refused[path])
		}
	}
}

// npmCI installs the exact packages of dir's package-lock.json from the
// registry (`npm ci`), once per test run.
func npmCI(t *testing.T, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// npm ci --no-audit --no-fund
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
}
