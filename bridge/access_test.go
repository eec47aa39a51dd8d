package bridge

import "testing"

var badOrigins = []string{
	"", "null", "*", "editor.example.com", "//editor.example.com", "ftp://editor.example.com", "wss://editor.example.com",
	"https://", "https://editor.example.com/", "https://editor.example.com/app", "https://editor.example.com?x=1",
	"https://editor.example.com#top", "https://user@editor.example.com", "https://user:pw@editor.example.com",
	"https://editor.example.com:0", "https://editor.example.com:70000", "https://editor.example.com:", "https://editor.example.com:+80",
	"https://*", "https://*.", "https://*.*.example.com", "https://a.*.example.com", "https://*example.com", "https://**.example.com",
	"https://example.*", "https://-bad.example.com", "https://bad..example.com", "https://example.com.", "https://exa mple.com",
	"https://::1", "https://[::1", "https://[127.0.0.1]", "https://[fe80::1%25eth0]", "https://édition.example.com", "https:/editor.example.com",
}

func TestParseOrigin(t *testing.T) {
	good := map[string]string{
		"https://editor.example.com":         "https://editor.example.com",
		"https://*.example.com":              "https://*.example.com",
		"https://*.Example.COM:8443":         "https://*.example.com:8443",
		"http://localhost:3000":              "http://localhost:3000",
		"http://localhost:80":                "http://localhost",
		"https://localhost:80":               "https://localhost:80",
		"http://127.0.0.1:8080":              "http://127.0.0.1:8080",
		"http://[::1]:8080":                  "http://[::1]:8080",
		"https://[2001:DB8::1]":              "https://[2001:db8::1]",
		"HTTPS://Editor.Example.COM":         "https://editor.example.com",
		"https://my_host.internal:21443":     "https://my_host.internal:21443",
		"https://xn--dition-bva.example.com": "https://xn--dition-bva.example.com",
	}
	for in, want := range good {
		if got, err := ParseOrigin(in); err != nil || got != want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range badOrigins {
		if got, err := ParseOrigin(in); err == nil {
			t.Errorf("ParseOrigin(%q) = %q; want an error", in, got)
		}
	}
}

func TestOriginMatching(t *testing.T) {
	patterns := []originPattern{}
	for _, s := range []string{"https://editor.example.com", "https://*.shop.example", "http://localhost:3000"} {
		p, err := parseOrigin(s)
		if err != nil {
			t.Fatal(err)
		}
		patterns = append(patterns, p)
	}
	tests := map[string]bool{
		"https://editor.example.com":     true,
		"https://EDITOR.example.com":     true,
		"https://editor.example.com:443": true,
		"https://editor.example.com:444": false,
		"http://editor.example.com":      false,
		"https://a.shop.example":         true,
		"https://a.b.shop.example":       true,
		"https://shop.example":           false,
		"https://evilshop.example":       false,
		"https://shop.example.evil":      false,
		"http://localhost:3000":          true,
		"http://localhost":               false,
		"null":                           false,
		"":                               false,
		"https://*.shop.example":         false,
	}
	for origin, want := range tests {
		if got := originAllowed(patterns, origin); got != want {
			t.Errorf("originAllowed(%q) = %v, want %v", origin, got, want)
		}
	}
}

func TestCheckTarget(t *testing.T) {
	tests := map[string]bool{
		"127.0.0.1:21400": true, "localhost:1": true, "[::1]:21400": true, "engine.local:65535": true,
		"127.0.0.1": false, "127.0.0.1:0": false, "127.0.0.1:65536": false, "host:+80": false, ":80": false, "bad host:80": false,
	}
	for target, ok := range tests {
		if err := CheckTarget(target); (err == nil) != ok {
			t.Errorf("CheckTarget(%q) = %v, want ok=%v", target, err, ok)
		}
	}
}
