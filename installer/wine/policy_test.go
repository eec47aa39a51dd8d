//go:build linux

package wine

// GRANT_LOCAL_NETWORK (issue 15, point 4) under Wine: the MSI's
// PolicyInstall custom action writes the browsers' managed policies that
// approve Local Network Access for the allowed_origins in force, checked
// with `wine reg query`, and its uninstall takes out exactly what the
// record lists, leaving IT's own entries.

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	shopOrigin = "https://shop.example.com"
	// shopPattern is Chrome's URL pattern for shopOrigin (the port is
	// always written; browserpolicy.ChromiumPatterns), shopDomain
	// Firefox's SkipDomains entry (a host, no scheme or port).
	shopPattern = "https://shop.example.com:443"
	shopDomain  = "shop.example.com"
	// itEntry is IT's own entry, there before the install: the uninstall
	// must leave it.
	itEntry = "https://intranet.example.com:443"

	policyRecord = `HKLM\SOFTWARE\OrionBridge\BrowserPolicy`
	iframeValue  = "LocalNetworkAccessPermissionsPolicyDefaultEnabled"
)

// chromiumPolicyKeys are where Chrome, Chromium and Edge read machine
// policy (browserpolicy/registry_windows.go).
var chromiumPolicyKeys = []string{
	`HKLM\SOFTWARE\Policies\Google\Chrome`,
	`HKLM\SOFTWARE\Policies\Chromium`,
	`HKLM\SOFTWARE\Policies\Microsoft\Edge`,
}

const firefoxSkipDomains = `HKLM\SOFTWARE\Policies\Mozilla\Firefox\LocalNetworkAccess\SkipDomains`

// policyList is one list key and what it must hold after the install.
type policyList struct {
	key  string
	want []string
}

// policyLists are every list the install writes, with IT's entry first in
// Chrome's loopback list (seeded before the install).
func policyLists() []policyList {
	var out []policyList
	for _, k := range chromiumPolicyKeys {
		for _, name := range []string{"LocalNetworkAccessAllowedForUrls", "LoopbackNetworkAllowedForUrls"} {
			want := []string{shopPattern}
			if k == chromiumPolicyKeys[0] && name == "LoopbackNetworkAllowedForUrls" {
				want = []string{itEntry, shopPattern}
			}
			out = append(out, policyList{k + `\` + name, want})
		}
	}
	return append(out, policyList{firefoxSkipDomains, []string{shopDomain}})
}

// regList reads a policy list as the browsers do: the values 1, 2, 3… in
// turn until one is missing.
func (p *prefix) regList(key string) []string {
	p.t.Helper()
	var out []string
	for i := 1; ; i++ {
		v, ok := p.regQuery(key, strconv.Itoa(i))
		if !ok {
			return out
		}
		out = append(out, v)
	}
}

// TestMSIBrowserPolicy installs the MSI three ways (without the property,
// with it, with it and the iframe property) and uninstalls it each time.
// It fails before the PolicyInstall/PolicyUninstall custom actions: the
// install with GRANT_LOCAL_NETWORK=1 writes no list.
func TestMSIBrowserPolicy(t *testing.T) {
	_, msi := builtMSI(t)
	p := newPrefix(t, "")
	copyFile(t, msi, p.path(`C:\OrionBridge.msi`))

	// IT's own entry, which no install or uninstall of ours may touch.
	itList := chromiumPolicyKeys[0] + `\LoopbackNetworkAllowedForUrls`
	p.mustWine(waitLimit, "reg", "add", itList, "/v", "1", "/t", "REG_SZ", "/d", itEntry, "/f")

	for _, tc := range []struct {
		name       string
		props      []string
		wantPolicy bool
		wantIframe bool
	}{
		// First, while the prefix has no managed config: asked to approve
		// sites but given none, the install fails as a whole (PolicyInstall
		// is Return="check") rather than succeed without the approval IT
		// asked for. Later cases find allowed_origins in the managed
		// config, which every uninstall keeps.
		{"GRANT_LOCAL_NETWORK=1 without origins", []string{"GRANT_LOCAL_NETWORK=1"}, false, false},
		{"without the property", []string{"ALLOWED_ORIGINS=" + shopOrigin}, false, false},
		{"GRANT_LOCAL_NETWORK=1", []string{"ALLOWED_ORIGINS=" + shopOrigin, "GRANT_LOCAL_NETWORK=1"}, true, false},
		{"GRANT_LOCAL_NETWORK=1 with the iframe", []string{"ALLOWED_ORIGINS=" + shopOrigin, "GRANT_LOCAL_NETWORK=1", "GRANT_LOCAL_NETWORK_IFRAME=1"}, true, true},
		// The iframe property alone grants nothing: GRANT_LOCAL_NETWORK is
		// the switch.
		{"GRANT_LOCAL_NETWORK_IFRAME=1 alone", []string{"ALLOWED_ORIGINS=" + shopOrigin, "GRANT_LOCAL_NETWORK_IFRAME=1"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"/i", `C:\OrionBridge.msi`}, tc.props...)
			if !slices.ContainsFunc(tc.props, func(s string) bool { return strings.HasPrefix(s, "ALLOWED_ORIGINS=") }) {
				out, err := p.msiexecErr("install.log", args...)
				if err == nil {
					t.Fatalf("msiexec %s succeeded with no allowed_origins; want it to fail (policy install: allowed_origins is empty)\n%s", strings.Join(args, " "), out)
				}
				t.Logf("msiexec failed as it should: %v; output:\n%s", err, lastLines(out, 5))
				if _, err := os.Stat(p.path(headless)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s after the failed install: %v; want it rolled back", headless, err)
				}
				for _, l := range policyLists() {
					if got := p.regList(l.key); l.key != itList && len(got) > 0 {
						t.Errorf("%s = %q after the failed install, want none", l.key, got)
					}
				}
				return
			}
			p.msiexec(t, "install.log", args...)

			for _, l := range policyLists() {
				got := p.regList(l.key)
				want := l.want
				if !tc.wantPolicy {
					want = nil
					if l.key == itList {
						want = []string{itEntry}
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s = %q after the install, want %q", l.key, got, want)
				}
			}
			for _, k := range chromiumPolicyKeys {
				v, ok := p.regQuery(k, iframeValue)
				if tc.wantIframe && (!ok || !strings.Contains(v, "0x1")) {
					t.Errorf(`%s %s = %q (exists %v), want REG_DWORD 0x1`, k, iframeValue, v, ok)
				}
				if !tc.wantIframe && ok {
					t.Errorf(`%s %s = %q, want none without GRANT_LOCAL_NETWORK_IFRAME=1`, k, iframeValue, v)
				}
			}
			if got := p.regKeyExists(policyRecord); got != tc.wantPolicy {
				t.Errorf("the record %s exists: %v, want %v", policyRecord, got, tc.wantPolicy)
			}

			// What an operator types to check it.
			out, err := p.wine(waitLimit, headless, "policy", "status")
			inPlace := strings.Count(out, "in place for "+shopPattern) + strings.Count(out, "in place for "+shopDomain)
			if tc.wantPolicy {
				// Chrome's line lists IT's entry too.
				inPlace += strings.Count(out, "in place for "+itEntry+", "+shopPattern)
				if err != nil || inPlace != 4 {
					t.Errorf("policy status: %v, %d of 4 browsers in place:\n%s", err, inPlace, out)
				}
			} else if err == nil || !strings.Contains(out, "not installed") {
				t.Errorf("policy status without the policy: %v, want exit status 1 and \"not installed\":\n%s", err, out)
			}
			if tc.wantIframe && strings.Count(out, iframeValue+") set") != 3 {
				t.Errorf("policy status does not show the iframe policy for the 3 Chromium browsers:\n%s", out)
			}

			p.msiexec(t, "uninstall.log", "/x", `C:\OrionBridge.msi`)
			for _, l := range policyLists() {
				var want []string
				if l.key == itList {
					want = []string{itEntry}
				}
				if got := p.regList(l.key); !slices.Equal(got, want) {
					t.Errorf("%s = %q after the uninstall, want %q", l.key, got, want)
				}
			}
			for _, k := range chromiumPolicyKeys {
				if v, ok := p.regQuery(k, iframeValue); ok {
					t.Errorf(`%s %s = %q left after the uninstall`, k, iframeValue, v)
				}
			}
			if p.regKeyExists(policyRecord) {
				t.Errorf("the record %s is left after the uninstall", policyRecord)
			}
			if t.Failed() {
				t.Logf("install log, PolicyInstall lines:\n%s", grepLines(p.msiLog("install.log"), "Policy"))
			}
		})
	}
}

// grepLines is the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
