package browserpolicy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"orionbridge/internal/testutil"
)

// testCA makes a CA as certs does (critical name constraints: localhost,
// 127.0.0.1 and ::1; the host as organizational unit), changed by mutate
// when it is not nil.
func testCA(t *testing.T, host string, mutate func(*x509.Certificate)) ([]byte, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:                big.NewInt(now.UnixNano()),
		Subject:                     pkix.Name{CommonName: "Orion Bridge local CA (" + host + ")", OrganizationalUnit: []string{host}},
		NotBefore:                   now.Add(-time.Hour),
		NotAfter:                    now.AddDate(1, 0, 0),
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid:       true,
		IsCA:                        true,
		MaxPathLenZero:              true,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         []string{"localhost"},
		PermittedIPRanges: []*net.IPNet{
			{IP: net.IPv4(127, 0, 0, 1).To4(), Mask: net.CIDRMask(32, 32)},
			{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
		},
	}
	if mutate != nil {
		mutate(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert
}

// The CAs that neither the profile nor Firefox's policy may trust.
var badCAs = []struct {
	name   string
	mutate func(*x509.Certificate)
	pem    string // used instead of a certificate when set
	want   string
}{
	{name: "not PEM", pem: "MIIB...", want: "no PEM certificate"},
	{name: "a key, no certificate", pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", want: "no PEM certificate"},
	{name: "broken certificate", pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", want: "x509"},
	{name: "a leaf", mutate: func(c *x509.Certificate) { c.IsCA, c.MaxPathLenZero = false, false }, want: "not a CA certificate"},
	{name: "no name constraints", mutate: func(c *x509.Certificate) {
		c.PermittedDNSDomainsCritical, c.PermittedDNSDomains, c.PermittedIPRanges = false, nil, nil
	}, want: "has no critical name constraints"},
	{name: "constraints not critical", mutate: func(c *x509.Certificate) { c.PermittedDNSDomainsCritical = false }, want: "has no critical name constraints"},
	{name: "another domain", mutate: func(c *x509.Certificate) { c.PermittedDNSDomains = []string{"localhost", "example.com"} }, want: `permits the domain "example.com"`},
	{name: "a network", mutate: func(c *x509.Certificate) {
		c.PermittedIPRanges = append(c.PermittedIPRanges, &net.IPNet{IP: net.IPv4(10, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)})
	}, want: "permits the addresses 10.0.0.0/8"},
}

func badCAPEM(t *testing.T, i int) []byte {
	if badCAs[i].pem != "" {
		return []byte(badCAs[i].pem)
	}
	data, _ := testCA(t, "mac-1", badCAs[i].mutate)
	return data
}

// plist decodes a property list as macOS reads it: dict to map, array to
// slice, string, data (base64) to []byte, integer, true and false.
func plist(t *testing.T, data []byte) map[string]any {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var value func(start xml.StartElement) (any, error)
	// next returns the next start element, or nil at the parent's end.
	next := func() (*xml.StartElement, error) {
		for {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				return &tok, nil
			case xml.EndElement:
				return nil, nil
			case xml.CharData:
				if strings.TrimSpace(string(tok)) != "" {
					return nil, fmt.Errorf("text %q between elements", tok)
				}
			}
		}
	}
	value = func(start xml.StartElement) (any, error) {
		var text string
		switch start.Name.Local {
		case "plist":
			el, err := next()
			if err != nil || el == nil {
				return nil, fmt.Errorf("empty plist: %v", err)
			}
			v, err := value(*el)
			if err == nil {
				_, err = next()
			}
			return v, err
		case "dict":
			m := map[string]any{}
			for {
				el, err := next()
				if err != nil || el == nil {
					return m, err
				}
				if el.Name.Local != "key" {
					return nil, fmt.Errorf("<%s> where a <key> belongs", el.Name.Local)
				}
				var k string
				if err := dec.DecodeElement(&k, el); err != nil {
					return nil, err
				}
				vel, err := next()
				if err != nil || vel == nil {
					return nil, fmt.Errorf("key %s without a value: %v", k, err)
				}
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("key %s twice", k)
				}
				if m[k], err = value(*vel); err != nil {
					return nil, err
				}
			}
		case "array":
			var a []any
			for {
				el, err := next()
				if err != nil || el == nil {
					return a, err
				}
				v, err := value(*el)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
		case "true", "false":
			return start.Name.Local == "true", dec.Skip()
		}
		if err := dec.DecodeElement(&text, &start); err != nil {
			return nil, err
		}
		switch start.Name.Local {
		case "string":
			return text, nil
		case "integer":
			return strconv.Atoi(text)
		case "data":
			return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		}
		return nil, fmt.Errorf("unknown plist element <%s>", start.Name.Local)
	}
	root, err := next()
	if err != nil || root == nil {
		t.Fatalf("no root element: %v\n%s", err, data)
	}
	v, err := value(*root)
	if err != nil {
		t.Fatalf("not a property list: %v\n%s", err, data)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("the plist holds %T, not a dict", v)
	}
	return m
}

var uuidForm = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)

func TestCertificateProfile(t *testing.T) {
	hostname, _ := os.Hostname()
	tests := []struct {
		name, host, wantHost string
	}{
		{"the CA's host", "mac-1.corp.example", "mac-1.corp.example"},
		{"another Mac", "mac-2", "mac-2"},
		// Without one in the CA, the host it is made on.
		{"no host in the CA", "", hostname},
		{"a name with XML in it", `a<b>&"c"`, `a<b>&"c"`},
	}
	uuids := map[string]string{} // UUID → test, across Macs: all distinct
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noHost := func(c *x509.Certificate) {
				if tt.host == "" {
					c.Subject.OrganizationalUnit = nil
				}
			}
			caPEM, ca := testCA(t, tt.host, noHost)
			data, err := CertificateProfile(caPEM)
			if err != nil {
				t.Fatal(err)
			}
			// Well-formed, to the end of the document.
			for dec := xml.NewDecoder(bytes.NewReader(data)); ; {
				if _, err := dec.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("not well-formed XML: %v\n%s", err, data)
				}
			}
			xmllint(t, data)
			top := plist(t, data)
			wantName := "Orion Bridge local CA (" + tt.wantHost + ")"
			for k, want := range map[string]any{"PayloadType": "Configuration", "PayloadScope": "System", "PayloadVersion": 1, "PayloadDisplayName": wantName} {
				if top[k] != want {
					t.Errorf("profile %s = %v; want %v", k, top[k], want)
				}
			}
			payloads, _ := top["PayloadContent"].([]any)
			if len(payloads) != 1 {
				t.Fatalf("PayloadContent %v; want one payload", top["PayloadContent"])
			}
			p, _ := payloads[0].(map[string]any)
			for k, want := range map[string]any{"PayloadType": "com.apple.security.root", "PayloadVersion": 1, "PayloadDisplayName": wantName} {
				if p[k] != want {
					t.Errorf("payload %s = %v; want %v", k, p[k], want)
				}
			}
			der, _ := p["PayloadContent"].([]byte)
			if got, err := x509.ParseCertificate(der); err != nil || !got.Equal(ca) {
				t.Errorf("the payload's certificate (%d bytes, %v) is not the CA", len(der), err)
			}
			for _, d := range []map[string]any{top, p} {
				id, _ := d["PayloadIdentifier"].(string)
				uuid, _ := d["PayloadUUID"].(string)
				if !strings.HasPrefix(id, "com.orionbridge.ca.") || strings.ContainsAny(id, `<>&" `) {
					t.Errorf("PayloadIdentifier %q: want com.orionbridge.ca.<host>, reverse-DNS characters only", id)
				}
				if !uuidForm.MatchString(uuid) {
					t.Errorf("PayloadUUID %q: not an upper-case version-5 UUID", uuid)
				}
				if other, dup := uuids[uuid]; dup {
					t.Errorf("PayloadUUID %s also in %s: an MDM would take one profile for the other", uuid, other)
				}
				uuids[uuid] = tt.name
			}
			// Stable: the same CA (or a renewed one, same host) gives the
			// same identifiers, so an MDM replaces the profile in place.
			again, err := CertificateProfile(caPEM)
			if err != nil || !bytes.Equal(again, data) {
				t.Errorf("a second profile for the same CA differs (%v)", err)
			}
			renewedPEM, _ := testCA(t, tt.host, noHost)
			renewed, err := CertificateProfile(renewedPEM)
			if err != nil {
				t.Fatal(err)
			}
			r := plist(t, renewed)
			rp := r["PayloadContent"].([]any)[0].(map[string]any)
			if r["PayloadUUID"] != top["PayloadUUID"] || rp["PayloadUUID"] != p["PayloadUUID"] || rp["PayloadIdentifier"] != p["PayloadIdentifier"] {
				t.Errorf("a renewed CA on the same host got other identifiers: %v %v; want %v %v", r["PayloadUUID"], rp["PayloadUUID"], top["PayloadUUID"], p["PayloadUUID"])
			}
		})
	}
}

// xmllint checks the profile as a tool other than Go's parser reads it.
func xmllint(t *testing.T, data []byte) {
	t.Helper()
	testutil.RequireTools(t, testutil.Tool{Name: "xmllint", Deb: "libxml2-utils"})
	path := filepath.Join(t.TempDir(), "profile.mobileconfig")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// --nonet: the DOCTYPE names Apple's DTD; well-formedness needs no fetch.
	if out, err := exec.Command("xmllint", "--noout", "--nonet", path).CombinedOutput(); err != nil {
		t.Errorf("xmllint: %v\n%s\n%s", err, out, data)
	}
}

func TestCertificateProfileRefusesBadCA(t *testing.T) {
	for i, tt := range badCAs {
		t.Run(tt.name, func(t *testing.T) {
			data, err := CertificateProfile(badCAPEM(t, i))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "orionbridge certs path") {
				t.Errorf("profile: %v; want an error with %q naming the fix", err, tt.want)
			}
			if data != nil {
				t.Errorf("a profile for a CA it refused:\n%s", data)
			}
		})
	}
}
