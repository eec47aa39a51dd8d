// Package browserpolicy writes the browsers' managed policies that approve
// Local Network Access for the sites in allowed_origins, so that no
// operator ever sees (or dismisses, or denies) the prompt Chrome 142+ and
// Edge show before a public site may reach localhost, and Firefox 150+'s
// equivalent. IT approves the sites once, machine-wide; `orionbridge policy
// install` writes what the browsers read (issue 15, points 4 and 5).
//
// What is written, per browser, and where each name and format comes from:
//
//   - Chrome, Chromium and Edge: LocalNetworkAccessAllowedForUrls (Chrome
//     and Edge 140+: local network and loopback) and
//     LoopbackNetworkAllowedForUrls (146+, when the permission was split
//     into loopback and local network; loopback is all the bridge needs),
//     both lists of URL patterns:
//     https://learn.microsoft.com/en-us/deployedge/microsoft-edge-policies/localnetworkaccessallowedforurls
//     https://learn.microsoft.com/en-us/deployedge/microsoft-edge-browser-policies/loopbacknetworkallowedforurls
//     https://developer.samsung.com/browser/policy/loopback-network-allowed-for-urls.html
//     (Chromium's policy text, with the Windows list layout Key\1, Key\2…).
//     The pattern format ("scheme://host:port", "[*.]" for subdomains):
//     https://cloud.google.com/docs/chrome-enterprise/policies/url-patterns
//   - With --iframe (point 5), LocalNetworkAccessPermissionsPolicyDefaultEnabled
//     = true (146+, boolean, REG_DWORD on Windows; needs a browser restart):
//     cross-origin iframes then inherit the loopback-network permission
//     without the embedder's allow="loopback-network":
//     https://learn.microsoft.com/en-us/deployedge/microsoft-edge-browser-policies/localnetworkaccesspermissionspolicydefaultenabled
//   - Firefox: LocalNetworkAccess.SkipDomains, an array of domain names
//     ("example.org", "*.example.com"; no scheme, no port), merged into the
//     policies.json that may hold IT's other policies:
//     https://firefox-admin-docs.mozilla.org/reference/policies/localnetworkaccess/
//     and github.com/mozilla/policy-templates: linux/policies.json,
//     windows/firefox.admx (list key
//     Software\Policies\Mozilla\Firefox\LocalNetworkAccess\SkipDomains,
//     valuePrefix "", so values 1, 2…), mac/org.mozilla.firefox.plist.
//
// Where: on Linux one file of ours, orionbridge.json, in each Chromium-based
// browser's managed folder (/etc/chromium/policies/managed/,
// /etc/opt/chrome/policies/managed/, /etc/opt/edge/policies/managed/; every
// JSON file there is read:
// https://chromium.googlesource.com/chromium/src.git/+/e43aa4b/docs/enterprise/policies.md),
// and /etc/firefox/policies/policies.json, merged; on Windows the HKLM
// policy keys (registry_windows.go); on macOS a configuration profile for an
// MDM to deploy (layout_darwin.go). Uninstall removes exactly what install
// added, using a record install keeps (recordName).
//
// The package also puts the machine CA where certs cannot by itself
// (certificate.go, point 3): Firefox's Certificates.Install, merged into
// the same policies.json by the same code, parameterised by list, with its
// own part of the record; and the macOS profile that holds the CA.
package browserpolicy

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Policy names, exactly as the browsers' documentation spells them.
const (
	LocalNetworkAccessAllowed = "LocalNetworkAccessAllowedForUrls"
	LoopbackNetworkAllowed    = "LoopbackNetworkAllowedForUrls"
	IframeDefaultEnabled      = "LocalNetworkAccessPermissionsPolicyDefaultEnabled"
	FirefoxSection            = "LocalNetworkAccess"
	FirefoxSkipDomains        = "SkipDomains"
)

// FileName is our file in each Chromium-based browser's managed folder.
const FileName = "orionbridge.json"

// Options is what install writes.
type Options struct {
	// Origins are the allowed_origins in force, as config normalises them
	// (scheme://host[:port], a leading "*." for subdomains).
	Origins []string
	// Iframe adds LocalNetworkAccessPermissionsPolicyDefaultEnabled (point
	// 5): IT opts in, since it changes every site's iframes, not only ours.
	Iframe bool
}

// BrowserStatus is one browser's policy as found.
type BrowserStatus struct {
	Browser string // "Chromium", "Google Chrome", "Microsoft Edge", "Firefox"
	Where   string // the file or registry key
	// InPlace: our entries are there. Entries are what the browser reads
	// (URL patterns, or Firefox's domains), Iframe whether the iframe
	// policy is set.
	InPlace bool
	Entries []string
	Iframe  bool
	// Current: InPlace and it lists what install would write now for the
	// allowed_origins in force; false after allowed_origins changed. The
	// iframe policy is reported (Iframe) but not compared: it is IT's
	// choice at install, not something the config says.
	Current bool
	Note    string
}

// ChromiumPatterns turns origins into Chrome's URL patterns. The port is
// always written: a pattern without one matches every port, and the bridge
// allows one origin, not a host. A wildcard origin (https://*.example.com)
// becomes https://[*.]example.com:443, the only subdomain form the pattern
// format has; it also matches example.com itself, which the bridge's own
// Origin check still refuses.
func ChromiumPatterns(origins []string) ([]string, error) {
	var out []string
	for _, o := range origins {
		scheme, host, port, wildcard, err := splitOrigin(o)
		if err != nil {
			return nil, err
		}
		if wildcard {
			host = "[*.]" + host
		}
		p := scheme + "://" + host + ":" + port
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// FirefoxDomains turns origins into SkipDomains entries: the host, with
// "*." kept for a wildcard. Firefox's list has no scheme or port, so it
// approves every port of the host (the bridge still checks the Origin).
func FirefoxDomains(origins []string) ([]string, error) {
	var out []string
	for _, o := range origins {
		_, host, _, wildcard, err := splitOrigin(o)
		if err != nil {
			return nil, err
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if wildcard {
			host = "*." + host
		}
		if !slices.Contains(out, host) {
			out = append(out, host)
		}
	}
	return out, nil
}

// splitOrigin splits a normalised origin; port is always set (the scheme's
// default when the origin has none).
func splitOrigin(o string) (scheme, host, port string, wildcard bool, err error) {
	bad := func(why string) error {
		return fmt.Errorf("origin %q: %s; fix allowed_origins (scheme://host[:port]), then run policy install again", o, why)
	}
	scheme, rest, ok := strings.Cut(o, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "http" && scheme != "https") {
		return "", "", "", false, bad("expected http:// or https://")
	}
	if rest == "" || strings.ContainsAny(rest, "/?#@\\ \"") {
		return "", "", "", false, bad("expected scheme://host[:port] with nothing after it")
	}
	host = rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasSuffix(rest, "]") {
		host, port = rest[:i], rest[i+1:]
	}
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	host = strings.ToLower(host)
	if h, ok := strings.CutPrefix(host, "*."); ok {
		host, wildcard = h, true
	}
	if host == "" || strings.Contains(host, "*") {
		return "", "", "", false, bad("a wildcard may only stand as the first label, as in https://*.example.com")
	}
	return scheme, host, port, wildcard, nil
}

// ChromiumPolicy is the JSON of our file in a Chromium-based browser's
// managed folder: both lists, and the iframe policy when IT opted in (left
// out otherwise, so that a value IT sets elsewhere is not overridden).
func ChromiumPolicy(opts Options) ([]byte, error) {
	patterns, err := ChromiumPatterns(opts.Origins)
	if err != nil {
		return nil, err
	}
	if len(patterns) == 0 {
		return nil, errNoOrigins
	}
	m := map[string]any{LocalNetworkAccessAllowed: patterns, LoopbackNetworkAllowed: patterns}
	if opts.Iframe {
		m[IframeDefaultEnabled] = true
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// errNoOrigins: with no site to approve, a policy would approve nothing.
var errNoOrigins = fmt.Errorf("allowed_origins is empty: there is no site to approve; set it (orionbridge config write-managed --allowed-origins https://editor.example.com) and run policy install again, or run policy uninstall")

// policiesList is one list of strings in a policies.json,
// policies.<section>.<list>, that an install adds entries to and its
// uninstall takes them out of. Each list has its own part of the record
// (firefoxAdded), so that uninstalling one leaves the other's entries.
type policiesList struct {
	section, list string
	again         string // what to do once a broken file is fixed
}

func (l policiesList) String() string { return "policies." + l.section + "." + l.list }

// skipDomains is what policy install merges (point 4).
var skipDomains = policiesList{FirefoxSection, FirefoxSkipDomains, "run policy install again"}

// firefoxAdded is what a merge added to one list of a policies.json, so
// that removing it takes out exactly that.
type firefoxAdded struct {
	Entries        []string `json:"entries,omitempty"`
	CreatedFile    bool     `json:"created_file,omitempty"`
	CreatedSection bool     `json:"created_section,omitempty"` // policies.<section>
	CreatedList    bool     `json:"created_list,omitempty"`    // its list
	CreatedRoot    bool     `json:"created_root,omitempty"`    // "policies" itself
}

// firefoxDoc is a policies.json with every value we do not touch kept as
// written (RawMessage), so a merge changes nothing but one list.
type firefoxDoc struct {
	list     policiesList
	top      map[string]json.RawMessage
	policies map[string]json.RawMessage
	section  map[string]json.RawMessage
	entries  []string
	had      firefoxAdded // which levels existed, as Created* = false
}

func parseFirefox(path string, data []byte, l policiesList) (*firefoxDoc, error) {
	d := &firefoxDoc{list: l, top: map[string]json.RawMessage{}, policies: map[string]json.RawMessage{}, section: map[string]json.RawMessage{}}
	bad := func(what string, err error) error {
		return fmt.Errorf("%s: %s: %v; fix the file (Firefox ignores it as it is) and %s", path, what, err, l.again)
	}
	// object decodes raw into m; JSON null would leave m nil, which the
	// merge could not add to, so it is refused like any other non-object.
	object := func(raw []byte, m *map[string]json.RawMessage, what string) error {
		if err := json.Unmarshal(raw, m); err != nil {
			return bad(what, err)
		}
		if *m == nil {
			return bad(what, errors.New("it is null"))
		}
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		d.had = firefoxAdded{CreatedFile: true, CreatedRoot: true, CreatedSection: true, CreatedList: true}
		return d, nil
	}
	if err := object(data, &d.top, "not a JSON object"); err != nil {
		return nil, err
	}
	raw, ok := d.top["policies"]
	if !ok {
		d.had = firefoxAdded{CreatedRoot: true, CreatedSection: true, CreatedList: true}
		return d, nil
	}
	if err := object(raw, &d.policies, `"policies" is not an object`); err != nil {
		return nil, err
	}
	raw, ok = d.policies[l.section]
	if !ok {
		d.had = firefoxAdded{CreatedSection: true, CreatedList: true}
		return d, nil
	}
	if err := object(raw, &d.section, `"policies.`+l.section+`" is not an object`); err != nil {
		return nil, err
	}
	raw, ok = d.section[l.list]
	if !ok {
		d.had = firefoxAdded{CreatedList: true}
		return d, nil
	}
	if err := json.Unmarshal(raw, &d.entries); err != nil {
		return nil, bad(`"`+l.String()+`" is not an array of strings`, err)
	}
	return d, nil
}

// bytes writes the document back; the levels that end up empty and were
// ours are dropped, and a file of ours left with nothing returns nil.
func (d *firefoxDoc) bytes(ours firefoxAdded) ([]byte, error) {
	set := func(m map[string]json.RawMessage, k string, v any) error {
		raw, err := json.Marshal(v)
		m[k] = raw
		return err
	}
	if len(d.entries) > 0 || !ours.CreatedList {
		if err := set(d.section, d.list.list, nonNil(d.entries)); err != nil {
			return nil, err
		}
	} else {
		delete(d.section, d.list.list)
	}
	if len(d.section) > 0 || !ours.CreatedSection {
		if err := set(d.policies, d.list.section, d.section); err != nil {
			return nil, err
		}
	} else {
		delete(d.policies, d.list.section)
	}
	if len(d.policies) > 0 || !ours.CreatedRoot {
		if err := set(d.top, "policies", d.policies); err != nil {
			return nil, err
		}
	} else {
		delete(d.top, "policies")
	}
	if len(d.top) == 0 && ours.CreatedFile {
		return nil, nil
	}
	out, err := json.MarshalIndent(d.top, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// MergeFirefox adds domains to policies.LocalNetworkAccess.SkipDomains in
// the policies.json content old (nil when there is none), keeping every
// other policy and every domain already listed. prev is what an earlier
// install added: it is taken out first, so that a domain no longer in
// allowed_origins goes. It returns the new content and what it added.
func MergeFirefox(path string, old []byte, domains []string, prev firefoxAdded) ([]byte, firefoxAdded, error) {
	return mergeList(path, old, skipDomains, domains, prev)
}

// UnmergeFirefox takes out of old what an install added; nil means the
// file was ours and nothing else is left in it: remove it.
func UnmergeFirefox(path string, old []byte, added firefoxAdded) ([]byte, error) {
	return unmergeList(path, old, skipDomains, added)
}

// mergeList is MergeFirefox for any list l.
func mergeList(path string, old []byte, l policiesList, entries []string, prev firefoxAdded) ([]byte, firefoxAdded, error) {
	d, err := parseFirefox(path, old, l)
	if err != nil {
		return nil, firefoxAdded{}, err
	}
	d.entries = removeAll(d.entries, prev.Entries)
	// Levels an earlier install created stay ours.
	ours := firefoxAdded{
		CreatedFile:    d.had.CreatedFile || prev.CreatedFile,
		CreatedRoot:    d.had.CreatedRoot || prev.CreatedRoot,
		CreatedSection: d.had.CreatedSection || prev.CreatedSection,
		CreatedList:    d.had.CreatedList || prev.CreatedList,
	}
	for _, e := range entries {
		if !slices.Contains(d.entries, e) {
			d.entries = append(d.entries, e)
			ours.Entries = append(ours.Entries, e)
		}
	}
	out, err := d.bytes(ours)
	return out, ours, err
}

// unmergeList is UnmergeFirefox for any list l.
func unmergeList(path string, old []byte, l policiesList, added firefoxAdded) ([]byte, error) {
	d, err := parseFirefox(path, old, l)
	if err != nil {
		return nil, err
	}
	d.entries = removeAll(d.entries, added.Entries)
	return d.bytes(added)
}

// removeAll returns list without the values in drop (each occurrence).
func removeAll(list, drop []string) []string {
	out := list[:0:0]
	for _, v := range list {
		if !slices.Contains(drop, v) {
			out = append(out, v)
		}
	}
	return out
}

// profileUUID is a stable UUID (version 5 layout, from SHA-256) for a
// payload, so that each install writes the same profile and an MDM updates
// it in place rather than adding a second one.
func profileUUID(name string) string {
	h := sha256.Sum256([]byte("orionbridge browser policy " + name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// macBrowsers are the preference domains a macOS profile sets: each
// browser reads its managed policy from its bundle identifier's domain.
var macBrowsers = []struct{ name, domain string }{
	{"Google Chrome", "com.google.Chrome"},
	{"Chromium", "org.chromium.Chromium"},
	{"Microsoft Edge", "com.microsoft.Edge"},
}

// profileBuffer writes a configuration profile, a property list: begin,
// one payload per dictionary in PayloadContent, end with the profile's own
// keys. Both profiles (MobileConfig, CertificateProfile) are written by it,
// so they have the same form.
type profileBuffer struct{ bytes.Buffer }

func (b *profileBuffer) begin() {
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>PayloadContent</key>
	<array>
`)
}

// payload writes one payload dictionary: the keys every payload has, then
// body's.
func (b *profileBuffer) payload(typ, identifier, uuid, displayName string, body func()) {
	b.WriteString("\t\t<dict>\n")
	b.key("PayloadType", "<string>"+xmlText(typ)+"</string>")
	b.key("PayloadIdentifier", "<string>"+xmlText(identifier)+"</string>")
	b.key("PayloadUUID", "<string>"+uuid+"</string>")
	b.key("PayloadVersion", "<integer>1</integer>")
	b.key("PayloadDisplayName", "<string>"+xmlText(displayName)+"</string>")
	body()
	b.WriteString("\t\t</dict>\n")
}

// key writes a key of a payload and its value, already in XML.
func (b *profileBuffer) key(name, value string) {
	fmt.Fprintf(b, "\t\t\t<key>%s</key>\n\t\t\t%s\n", name, value)
}

// end closes PayloadContent and writes the profile's keys. The scope is
// System: the policies and the trust are for every user of the Mac.
func (b *profileBuffer) end(identifier, uuid, displayName, description string) {
	fmt.Fprintf(b, `	</array>
	<key>PayloadType</key>
	<string>Configuration</string>
	<key>PayloadScope</key>
	<string>System</string>
	<key>PayloadIdentifier</key>
	<string>%s</string>
	<key>PayloadUUID</key>
	<string>%s</string>
	<key>PayloadVersion</key>
	<integer>1</integer>
	<key>PayloadDisplayName</key>
	<string>%s</string>
	<key>PayloadDescription</key>
	<string>%s</string>
</dict>
</plist>
`, xmlText(identifier), uuid, xmlText(displayName), xmlText(description))
}

// MobileConfig is a configuration profile with the same keys for an MDM to
// deploy on macOS (an unattended pkg cannot install a profile). Firefox
// needs EnterprisePoliciesEnabled to read any policy on macOS
// (mozilla/policy-templates mac/README.md), and takes the nested
// LocalNetworkAccess dictionary as mac/org.mozilla.firefox.plist shows.
func MobileConfig(opts Options) ([]byte, error) {
	patterns, err := ChromiumPatterns(opts.Origins)
	if err != nil {
		return nil, err
	}
	domains, err := FirefoxDomains(opts.Origins)
	if err != nil {
		return nil, err
	}
	if len(patterns) == 0 {
		return nil, errNoOrigins
	}
	var b profileBuffer
	b.begin()
	payload := func(name, domain string, body func()) {
		b.payload(domain, "com.orionbridge.localnetwork."+domain, profileUUID(domain), "Orion Bridge: local network access for "+name, body)
	}
	list := func(indent, key string, values []string) {
		fmt.Fprintf(&b, "%s<key>%s</key>\n%s<array>\n", indent, key, indent)
		for _, v := range values {
			fmt.Fprintf(&b, "%s\t<string>%s</string>\n", indent, xmlText(v))
		}
		fmt.Fprintf(&b, "%s</array>\n", indent)
	}
	for _, br := range macBrowsers {
		payload(br.name, br.domain, func() {
			list("\t\t\t", LocalNetworkAccessAllowed, patterns)
			list("\t\t\t", LoopbackNetworkAllowed, patterns)
			if opts.Iframe {
				b.key(IframeDefaultEnabled, "<true/>")
			}
		})
	}
	payload("Firefox", "org.mozilla.firefox", func() {
		b.key("EnterprisePoliciesEnabled", "<true/>")
		fmt.Fprintf(&b, "\t\t\t<key>%s</key>\n\t\t\t<dict>\n", FirefoxSection)
		list("\t\t\t\t", FirefoxSkipDomains, domains)
		b.WriteString("\t\t\t</dict>\n")
	})
	b.end("com.orionbridge.localnetwork", profileUUID("profile"), "Orion Bridge: local network access",
		"Lets the sites IT allowed in Orion Bridge reach it on this Mac without a Local Network Access prompt.")
	return b.Bytes(), nil
}

// xmlText escapes what a plist string may not hold as is (origins cannot
// contain these, but the profile must stay well-formed whatever it gets).
func xmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
