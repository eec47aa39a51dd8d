//go:build linux

package e2e

import (
	"context"
	"orionbridge/internal/testutil"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The diagnostics page, in Chromium, shows each lines route's line ending
// (from /health's routes[].line_ending; lf when the file names none) in
// its Routes table and its console's route list.
func TestDiagnosticsPageShowsLineEnding(t *testing.T) {
	requireTools(t)
	engine := testutil.EchoEngine(t)
	b := startEngineBridge(t, 1<<20, routesTOML(engine, route{"/ws", "", ""}, route{"/crlf", "lines", "crlf"}, route{"/lf", "lines", ""}))
	mustOrion(t, b.home, "certs", "install", "--scope", "user", "--config", b.config)
	br := openBrowser(t, b.home)
	ctx, cancel := context.WithTimeout(br.ctx, 2*waitLimit)
	defer cancel()
	url := "https://localhost:" + strconv.Itoa(b.port) + "/"
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	type page struct{ Rows, Options []string }
	got, err := chromedp.Run(ctx, chromedp.Poll[page](`(function () {
		var rows = Array.from(document.querySelectorAll("#routes-body tr")).map(function (tr) {
			return Array.from(tr.cells).slice(0, 3).map(function (td) { return td.textContent.trim(); }).join(" | ");
		});
		var options = Array.from(document.querySelectorAll("#route option")).map(function (o) { return o.textContent; });
		return rows.length === 3 && options.length === 3 ? {Rows: rows, Options: options} : null;
	})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitLimit)))
	if err != nil {
		t.Fatalf("the diagnostics page did not list the routes: %v\nconsole:\n%s", err, br.console())
	}
	wantRows := []string{"/ws | " + engine + " | raw", "/crlf | " + engine + " | lines, crlf", "/lf | " + engine + " | lines, lf"}
	if strings.Join(got.Rows, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("Routes table:\n%s\nwant:\n%s", strings.Join(got.Rows, "\n"), strings.Join(wantRows, "\n"))
	}
	if want := "/crlf → " + engine + " (lines, crlf)"; got.Options[1] != want {
		t.Errorf("console route %q, want %q", got.Options[1], want)
	}
}
