//go:build linux

package e2e

// Issue 18: the pages speak the browser's language. The diagnostics page,
// served by the bridge, and the example shop page, served by `orionbridge
// demo-site`, read navigator.languages and load the catalogue the tray uses
// (/i18n/<tag>.json). Real processes, real Chromium: its --lang flag sets
// the languages, as an operator's Korean system does.

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// pageTexts is what the diagnostics page shows once its checks are done.
type pageTexts struct {
	Lang        string   `json:"lang"`
	Languages   []string `json:"languages"`
	Title       string   `json:"title"`
	Heading     string   `json:"heading"`
	Status      string   `json:"status"`
	Certificate string   `json:"certificate"`
	Origin      string   `json:"origin"`
	Refresh     string   `json:"refresh"`
	Connect     string   `json:"connect"`
	Badge       string   `json:"badge"`
}

func TestPagesFollowTheBrowsersLanguage(t *testing.T) {
	e := newClientEnv(t)
	tests := []struct {
		lang string
		want pageTexts // fields that must appear, as substrings
		shot string
	}{
		{"ko", pageTexts{
			Lang: "ko", Title: "Orion Bridge — 진단", Heading: "Orion Bridge — 진단", Status: "브리지 정상",
			Certificate: "신뢰", Origin: "허용됨", Refresh: "새로 고침", Connect: "연결", Badge: "리포트 편집기: ",
		}, "diagnostics-ko.png"},
		{"en-US", pageTexts{
			Lang: "en", Title: "Orion Bridge — Diagnostics", Heading: "Orion Bridge — Diagnostics", Status: "Bridge OK",
			Certificate: "Trusted", Origin: "Allowed", Refresh: "Refresh", Connect: "Connect", Badge: "Report editor: ",
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			// --lang is the UI language; Chromium on Linux takes the
			// languages it offers pages (navigator.languages,
			// Accept-Language) from --accept-lang, which a user's
			// language settings set, so both.
			b := openBrowser(t, e.home, chromedp.Flag("lang", tt.lang), chromedp.Flag("accept-lang", tt.lang))
			ctx, cancel := context.WithTimeout(b.ctx, 2*waitLimit)
			defer cancel()
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
				t.Fatalf("set the viewport: %v", err)
			}
			url := "https://localhost:" + strconv.Itoa(e.port) + "/"
			if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
				t.Fatalf("open %s: %v", url, err)
			}
			got, err := chromedp.Run(ctx, chromedp.Poll[pageTexts](`(function () {
				function text(id) { return document.getElementById(id).textContent.replace(/\s+/g, " ").trim(); }
				var rows = ["certificate", "origin"].map(function (n) { return document.getElementById("check-" + n); });
				if (rows.some(function (r) { return r.dataset.state === "pending"; })) return null;
				return {lang: document.documentElement.lang, languages: navigator.languages.slice(), title: document.title,
					heading: document.querySelector("h1").textContent.trim(), status: text("bridge-status"),
					certificate: text("check-certificate"), origin: text("check-origin"), refresh: text("refresh"), connect: text("connect")};
			})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitLimit)))
			if err != nil {
				t.Fatalf("the diagnostics page did not finish its checks: %v; console:\n%s", err, b.console())
			}
			t.Logf("Chromium --lang=%s: navigator.languages %q; the page shows %+v", tt.lang, got.Languages, got)
			if got.Lang != tt.want.Lang {
				t.Errorf("<html lang> is %q, want %q", got.Lang, tt.want.Lang)
			}
			for name, c := range map[string][2]string{
				"title": {got.Title, tt.want.Title}, "heading": {got.Heading, tt.want.Heading},
				"status": {got.Status, tt.want.Status}, "certificate check": {got.Certificate, tt.want.Certificate},
				"origin check": {got.Origin, tt.want.Origin}, "Refresh button": {got.Refresh, tt.want.Refresh},
				"Connect button": {got.Connect, tt.want.Connect},
			} {
				if !strings.Contains(c[0], c[1]) {
					t.Errorf("the diagnostics page's %s says %q, want it to contain %q", name, c[0], c[1])
				}
			}
			if tt.shot != "" {
				screenshot(t, ctx, tt.shot)
			}

			// The example shop page, on the demo site: its badge.
			shop := e.shopURL(e.site)
			if err := chromedp.Do(ctx, chromedp.Navigate(shop)); err != nil {
				t.Fatalf("open %s: %v", shop, err)
			}
			badge, err := chromedp.Run(ctx, chromedp.Poll[string](`(function () {
				return document.documentElement.lang === `+strconv.Quote(tt.want.Lang)+` ? document.getElementById("shop-bridge-text").textContent : null;
			})()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitLimit)))
			if err != nil {
				t.Fatalf("the shop page did not switch to %s: %v; console:\n%s", tt.want.Lang, err, b.console())
			}
			if !strings.HasPrefix(badge, tt.want.Badge) {
				t.Errorf("the shop's badge says %q, want it to start with %q", badge, tt.want.Badge)
			}
		})
	}
}
