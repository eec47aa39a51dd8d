package browserpolicy

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestPatternsAndDomains(t *testing.T) {
	tests := []struct {
		origins  []string
		patterns []string
		domains  []string
		err      string
	}{
		{[]string{"https://editor.example.com"}, []string{"https://editor.example.com:443"}, []string{"editor.example.com"}, ""},
		{[]string{"http://127.0.0.1:8080"}, []string{"http://127.0.0.1:8080"}, []string{"127.0.0.1"}, ""},
		{[]string{"http://localhost"}, []string{"http://localhost:80"}, []string{"localhost"}, ""},
		// Chrome's only subdomain wildcard is [*.]; Firefox keeps *.
		{[]string{"https://*.example.com"}, []string{"https://[*.]example.com:443"}, []string{"*.example.com"}, ""},
		{[]string{"http://[::1]:9000"}, []string{"http://[::1]:9000"}, []string{"::1"}, ""},
		// Two ports of one host: two patterns, one Firefox domain.
		{[]string{"https://a.example:1", "https://a.example:2", "https://a.example:1"},
			[]string{"https://a.example:1", "https://a.example:2"}, []string{"a.example"}, ""},
		{[]string{"ftp://x.example"}, nil, nil, "expected http:// or https://"},
		{[]string{"https://x.example/path"}, nil, nil, "nothing after it"},
		{[]string{"https://a.*.example"}, nil, nil, "wildcard may only stand as the first label"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.origins, ","), func(t *testing.T) {
			p, err := ChromiumPatterns(tt.origins)
			d, derr := FirefoxDomains(tt.origins)
			if tt.err != "" {
				if err == nil || derr == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "fix allowed_origins") {
					t.Fatalf("errors %v / %v; want %q naming the fix", err, derr, tt.err)
				}
				return
			}
			if err != nil || derr != nil {
				t.Fatal(err, derr)
			}
			if !slices.Equal(p, tt.patterns) || !slices.Equal(d, tt.domains) {
				t.Errorf("patterns %q, domains %q; want %q, %q", p, d, tt.patterns, tt.domains)
			}
		})
	}
}

func TestChromiumPolicyJSON(t *testing.T) {
	origins := []string{"https://editor.example.com", "http://127.0.0.1:8080"}
	patterns := []any{"https://editor.example.com:443", "http://127.0.0.1:8080"}
	tests := []struct {
		name string
		opts Options
		want map[string]any
	}{
		{"lists", Options{Origins: origins}, map[string]any{
			"LocalNetworkAccessAllowedForUrls": patterns,
			"LoopbackNetworkAllowedForUrls":    patterns,
		}},
		{"iframe", Options{Origins: origins, Iframe: true}, map[string]any{
			"LocalNetworkAccessAllowedForUrls":                  patterns,
			"LoopbackNetworkAllowedForUrls":                     patterns,
			"LocalNetworkAccessPermissionsPolicyDefaultEnabled": true,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := ChromiumPolicy(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("%v\n%s", err, data)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %s\nwant %v", data, tt.want)
			}
		})
	}
	if _, err := ChromiumPolicy(Options{}); err == nil || !strings.Contains(err.Error(), "allowed_origins is empty") {
		t.Errorf("no origins: %v; want the empty allowed_origins error", err)
	}
}

// decode parses a policies.json for comparison.
func decode(t *testing.T, data []byte) any {
	t.Helper()
	if data == nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return v
}

func TestFirefoxMergeAndUnmerge(t *testing.T) {
	ours := []string{"editor.example.com", "*.example.com"}
	tests := []struct {
		name, old, merged string
		// afterUninstall is old as it comes back; "" means the file goes.
		afterUninstall string
	}{
		{"no file", "",
			`{"policies":{"LocalNetworkAccess":{"SkipDomains":["editor.example.com","*.example.com"]}}}`, ""},
		{"other policies kept",
			`{"policies":{"DisableAppUpdate":true,"Certificates":{"Install":["/etc/ca.pem"]}},"x_comment":"IT"}`,
			`{"policies":{"DisableAppUpdate":true,"Certificates":{"Install":["/etc/ca.pem"]},"LocalNetworkAccess":{"SkipDomains":["editor.example.com","*.example.com"]}},"x_comment":"IT"}`,
			`{"policies":{"DisableAppUpdate":true,"Certificates":{"Install":["/etc/ca.pem"]}},"x_comment":"IT"}`},
		{"IT's own section and domains kept",
			`{"policies":{"LocalNetworkAccess":{"Locked":true,"SkipDomains":["intranet.corp","editor.example.com"]}}}`,
			`{"policies":{"LocalNetworkAccess":{"Locked":true,"SkipDomains":["intranet.corp","editor.example.com","*.example.com"]}}}`,
			// editor.example.com was IT's before: it stays.
			`{"policies":{"LocalNetworkAccess":{"Locked":true,"SkipDomains":["intranet.corp","editor.example.com"]}}}`},
		{"empty policies object", `{"policies":{}}`,
			`{"policies":{"LocalNetworkAccess":{"SkipDomains":["editor.example.com","*.example.com"]}}}`,
			`{"policies":{}}`},
		{"section without list", `{"policies":{"LocalNetworkAccess":{"BlockTrackers":true}}}`,
			`{"policies":{"LocalNetworkAccess":{"BlockTrackers":true,"SkipDomains":["editor.example.com","*.example.com"]}}}`,
			`{"policies":{"LocalNetworkAccess":{"BlockTrackers":true}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var old []byte
			if tt.old != "" {
				old = []byte(tt.old)
			}
			merged, added, err := MergeFirefox("policies.json", old, ours, firefoxAdded{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(decode(t, merged), decode(t, []byte(tt.merged))) {
				t.Errorf("merged:\n%s\nwant %s", merged, tt.merged)
			}
			// Idempotent: installing again (with the record) changes nothing.
			again, added2, err := MergeFirefox("policies.json", merged, ours, added)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(merged) || !reflect.DeepEqual(added, added2) {
				t.Errorf("second install changed the file or the record:\n%s\n%+v\nfirst:\n%s\n%+v", again, added2, merged, added)
			}
			back, err := UnmergeFirefox("policies.json", merged, added)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			if tt.afterUninstall != "" {
				want = []byte(tt.afterUninstall)
			}
			if (back == nil) != (want == nil) || !reflect.DeepEqual(decode(t, back), decode(t, want)) {
				t.Errorf("after uninstall:\n%s\nwant %s", back, tt.afterUninstall)
			}
		})
	}
}

// An origin dropped from allowed_origins leaves Firefox's list at the next
// install; IT's entries stay.
func TestFirefoxMergeFollowsOrigins(t *testing.T) {
	old := []byte(`{"policies":{"LocalNetworkAccess":{"SkipDomains":["intranet.corp"]}}}`)
	first, added, err := MergeFirefox("p", old, []string{"a.example", "b.example"}, firefoxAdded{})
	if err != nil {
		t.Fatal(err)
	}
	second, added2, err := MergeFirefox("p", first, []string{"b.example", "c.example"}, added)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"policies":{"LocalNetworkAccess":{"SkipDomains":["intranet.corp","b.example","c.example"]}}}`
	if !reflect.DeepEqual(decode(t, second), decode(t, []byte(want))) {
		t.Errorf("got %s; want %s", second, want)
	}
	back, err := UnmergeFirefox("p", second, added2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(decode(t, back), decode(t, old)) {
		t.Errorf("after uninstall %s; want %s", back, old)
	}
}

func TestFirefoxMergeRefusesBadFile(t *testing.T) {
	for _, old := range []string{`{"policies":`, `[1]`, `{"policies":[]}`, `{"policies":{"LocalNetworkAccess":{"SkipDomains":"x"}}}`} {
		_, _, err := MergeFirefox("/etc/firefox/policies/policies.json", []byte(old), []string{"a.example"}, firefoxAdded{})
		if err == nil || !strings.Contains(err.Error(), "/etc/firefox/policies/policies.json") || !strings.Contains(err.Error(), "fix the file") {
			t.Errorf("%s: %v; want an error naming the file and the fix", old, err)
		}
	}
}

func TestMobileConfig(t *testing.T) {
	data, err := MobileConfig(Options{Origins: []string{"https://editor.example.com", "https://*.example.com"}, Iframe: true})
	if err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, every payload with a distinct UUID.
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	var uuids []string
	next := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, data)
		}
		if cd, ok := tok.(xml.CharData); ok {
			s := strings.TrimSpace(string(cd))
			if next && s != "" {
				uuids = append(uuids, s)
				next = false
			}
			next = next || s == "PayloadUUID"
		}
	}
	if len(uuids) != len(macBrowsers)+2 || len(slices.Compact(slices.Sorted(slices.Values(uuids)))) != len(uuids) {
		t.Errorf("payload UUIDs %q: want %d distinct", uuids, len(macBrowsers)+2)
	}
	for _, want := range []string{
		"<string>com.google.Chrome</string>", "<string>com.microsoft.Edge</string>", "<string>org.chromium.Chromium</string>",
		"<string>org.mozilla.firefox</string>", "<key>EnterprisePoliciesEnabled</key>",
		"<key>LoopbackNetworkAllowedForUrls</key>", "<key>LocalNetworkAccessAllowedForUrls</key>",
		"<string>https://[*.]example.com:443</string>", "<string>*.example.com</string>",
		"<key>LocalNetworkAccessPermissionsPolicyDefaultEnabled</key>",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the profile lacks %s", want)
		}
	}
	again, _ := MobileConfig(Options{Origins: []string{"https://editor.example.com", "https://*.example.com"}, Iframe: true})
	if string(again) != string(data) {
		t.Error("two profiles for the same options differ: an MDM would install a second one")
	}
}
