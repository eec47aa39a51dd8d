package browserpolicy

import (
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const (
	testCAPath  = "/var/lib/orionbridge/certs/ca.pem"
	policiesRel = "etc/firefox/policies/policies.json"
)

// machineWithCA is a temporary root holding the machine CA's certificate,
// as the install leaves it (0644 in 0755 folders), and policies.json with
// content when it is not "".
func machineWithCA(t *testing.T, policies string) string {
	t.Helper()
	root := t.TempDir()
	// t.TempDir is 0700; root stands for "/", which every user may enter.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	caPEM, _ := testCA(t, "linux-1", nil)
	writeUnder(t, root, strings.TrimPrefix(testCAPath, "/"), string(caPEM))
	if policies != "" {
		writeUnder(t, root, policiesRel, policies)
	}
	return root
}

func writeUnder(t *testing.T, root, rel, content string) {
	t.Helper()
	full := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// policiesDoc is policies.json as Firefox reads it, nil when there is none.
func policiesDoc(t *testing.T, root string) any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, policiesRel))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, data)
}

// firefoxLists reads Certificates.Install and LocalNetworkAccess.SkipDomains.
func firefoxLists(t *testing.T, root string) (install, skip []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, policiesRel))
	if os.IsNotExist(err) {
		return nil, nil
	}
	var doc struct {
		Policies struct {
			Certificates       struct{ Install []string }
			LocalNetworkAccess struct{ SkipDomains []string }
		} `json:"policies"`
	}
	if err != nil || json.Unmarshal(data, &doc) != nil {
		t.Fatalf("policies.json: %v\n%s", err, data)
	}
	return doc.Policies.Certificates.Install, doc.Policies.LocalNetworkAccess.SkipDomains
}

// TestFirefoxCertificateInstallUninstall runs, on one machine per case,
// the certificate's install and uninstall, alone and with policy install's
// SkipDomains in the same file, in either order: after each step the
// certificate is listed exactly when its install is in force, IT's entries
// and policies never move, and at the end the machine is as it was.
func TestFirefoxCertificateInstallUninstall(t *testing.T) {
	itPolicies := `{"policies":{"DisableTelemetry":true,"Certificates":{"ImportEnterpriseRoots":true,"Install":["/etc/ssl/certs/corp-root.pem"]}},"x_comment":"IT"}`
	itLists := `{"policies":{"Certificates":{"Install":["/etc/ssl/certs/corp-root.pem"]},"LocalNetworkAccess":{"SkipDomains":["intranet.corp"]}}}`
	tests := []struct {
		name     string
		policies string   // policies.json before; "" for none
		steps    []string // cert, -cert: the certificate; lna, -lna: policy install
		itCerts  []string // IT's entries, which stay throughout
	}{
		{"no file, certificate alone", "", []string{"cert", "cert", "-cert", "-cert"}, nil},
		{"IT's policies and someone else's certificate", itPolicies, []string{"cert", "cert", "-cert"}, []string{"/etc/ssl/certs/corp-root.pem"}},
		{"IT already lists our CA", `{"policies":{"Certificates":{"Install":["` + testCAPath + `"]}}}`, []string{"cert", "-cert"}, []string{testCAPath}},
		{"an empty policies object", `{"policies":{}}`, []string{"cert", "-cert"}, nil},
		// The file is created by policy install, and stays the
		// certificate's when SkipDomains leaves first.
		{"no file, policy first, policy uninstalled first", "", []string{"lna", "cert", "-lna", "-cert"}, nil},
		{"no file, certificate first, certificate uninstalled first", "", []string{"cert", "lna", "-cert", "-lna"}, nil},
		{"no file, policy first, certificate uninstalled first", "", []string{"lna", "cert", "-cert", "-lna"}, nil},
		{"IT's lists, policy uninstalled first", itLists, []string{"lna", "cert", "lna", "-lna", "cert", "-cert"}, []string{"/etc/ssl/certs/corp-root.pem"}},
	}
	origins := []string{"https://editor.example.com"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := machineWithCA(t, tt.policies)
			before, beforeDoc := tree(t, root), policiesDoc(t, root)
			_, itSkip := firefoxLists(t, root)
			certIn, lnaIn := false, false
			var installed map[string]string
			for i, step := range tt.steps {
				var lines []string
				var err error
				switch step {
				case "cert":
					lines, err = InstallCertificate(root, testCAPath)
				case "-cert":
					lines, err = UninstallCertificate(root)
				case "lna":
					_, err = Install(root, Options{Origins: origins})
				case "-lna":
					lines, err = Uninstall(root)
				}
				if err != nil {
					t.Fatalf("step %d %s: %v", i, step, err)
				}
				t.Logf("%s: %s", step, strings.Join(lines, "; "))
				certIn = step == "cert" || certIn && step != "-cert"
				lnaIn = step == "lna" || lnaIn && step != "-lna"

				install, skip := firefoxLists(t, root)
				listed, path, err := CertificateStatus(root, testCAPath)
				if err != nil || path != filepath.Join(root, policiesRel) {
					t.Fatalf("step %d %s: status %v, %q", i, step, err, path)
				}
				wantInstall := slices.Clone(tt.itCerts)
				if certIn && !slices.Contains(wantInstall, testCAPath) {
					wantInstall = append(wantInstall, testCAPath)
				}
				if !slices.Equal(install, wantInstall) || listed != slices.Contains(wantInstall, testCAPath) {
					t.Errorf("step %d %s: Certificates.Install %q, status listed %v; want %q", i, step, install, listed, wantInstall)
				}
				wantSkip := slices.Clone(itSkip)
				if lnaIn {
					wantSkip = append(wantSkip, "editor.example.com")
				}
				if !slices.Equal(skip, wantSkip) {
					t.Errorf("step %d %s: SkipDomains %q; want %q", i, step, skip, wantSkip)
				}
				// A second install changes no byte, the record included.
				if step == "cert" && i > 0 && tt.steps[i-1] == "cert" {
					if now := tree(t, root); !reflect.DeepEqual(now, installed) {
						t.Errorf("step %d: a second certificate install changed the files:\n%v\nfirst:\n%v", i, now, installed)
					}
				}
				if step == "cert" {
					installed = tree(t, root)
				}
			}
			after := tree(t, root)
			if got := policiesDoc(t, root); !reflect.DeepEqual(got, beforeDoc) {
				t.Errorf("policies.json after uninstall:\n%v\nwant as before:\n%v", got, beforeDoc)
			}
			// Firefox's file is rewritten (same JSON, other bytes): the rest
			// of the machine must be as it was, byte for byte, the record
			// and every folder install created gone.
			if b, ok := before[policiesRel]; ok {
				after[policiesRel] = b
			}
			if !reflect.DeepEqual(after, before) {
				t.Errorf("after uninstall the machine has\n%v\nwant as before\n%v", after, before)
			}
		})
	}
}

// The record keeps each part while the other is uninstalled: it is
// rewritten, not removed, and removed only with the last part.
func TestBrowserPolicyRecordKeepsTheOtherPart(t *testing.T) {
	root := machineWithCA(t, "")
	rec := filepath.Join(root, recordPath)
	if _, err := Install(root, Options{Origins: []string{"https://editor.example.com"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := InstallCertificate(root, testCAPath); err != nil {
		t.Fatal(err)
	}
	if _, err := Uninstall(root); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatalf("policy uninstall removed the record the certificate's uninstall needs: %v", err)
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Firefox) != 0 || len(r.Origins) != 0 || len(r.Certificates) != 1 {
		t.Errorf("record after policy uninstall:\n%s\nwant only the certificate's part", data)
	}
	if fi, err := os.Stat(rec); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("record mode %v, %v", fi.Mode(), err)
	}
	if _, err := UninstallCertificate(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rec); !os.IsNotExist(err) {
		t.Errorf("the record outlived both parts: %v", err)
	}
}

// A broken policies.json is refused naming the file and the fix, and left
// as it is; so is a CA file Firefox could not use or that others could
// swap.
func TestInstallCertificateRefuses(t *testing.T) {
	ff := policiesRel
	tests := []struct {
		name     string
		policies string
		caPath   string
		prepare  func(t *testing.T, root string)
		want     []string
	}{
		{name: "not JSON", policies: `{"policies":`, want: []string{ff, "not a JSON object", "fix the file", "install the machine certificate again"}},
		{name: "an array", policies: `[1]`, want: []string{ff, "not a JSON object", "fix the file"}},
		{name: "null", policies: `null`, want: []string{ff, "not a JSON object", "null", "fix the file"}},
		{name: "policies null", policies: `{"policies":null}`, want: []string{ff, `"policies" is not an object`, "fix the file"}},
		{name: "Certificates an array", policies: `{"policies":{"Certificates":[]}}`, want: []string{ff, `"policies.Certificates" is not an object`, "fix the file"}},
		{name: "Install a string", policies: `{"policies":{"Certificates":{"Install":"/x.pem"}}}`, want: []string{ff, `"policies.Certificates.Install" is not an array of strings`, "fix the file"}},
		{name: "relative CA path", caPath: "ca.pem", want: []string{"not an absolute path", "/var/lib/orionbridge/certs/ca.pem"}},
		{name: "no CA file", caPath: "/var/lib/orionbridge/certs/none.pem", want: []string{"none.pem", "no such file"}},
		{name: "CA not readable by others", prepare: func(t *testing.T, root string) {
			chmod(t, filepath.Join(root, testCAPath), 0o600)
		}, want: []string{"cannot read the file", "chmod o+r {root}" + testCAPath}},
		{name: "CA folder closed to others", prepare: func(t *testing.T, root string) {
			chmod(t, filepath.Join(root, "var/lib/orionbridge/certs"), 0o700)
		}, want: []string{"cannot enter the folder", "chmod o+x "}},
		{name: "CA writable by others", prepare: func(t *testing.T, root string) {
			chmod(t, filepath.Join(root, testCAPath), 0o666)
		}, want: []string{"writable by others", "chmod go-w"}},
		{name: "CA folder writable by others", prepare: func(t *testing.T, root string) {
			chmod(t, filepath.Join(root, "var/lib/orionbridge"), 0o777)
		}, want: []string{"var/lib/orionbridge above it is writable by others (mode 0777) and not sticky"}},
		{name: "CA a symbolic link", prepare: func(t *testing.T, root string) {
			real := filepath.Join(root, "var/lib/orionbridge/certs/real.pem")
			if err := os.Rename(filepath.Join(root, testCAPath), real); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, filepath.Join(root, testCAPath)); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"symbolic link"}},
		{name: "not a CA", prepare: func(t *testing.T, root string) {
			leaf, _ := testCA(t, "linux-1", func(c *x509.Certificate) { c.IsCA, c.MaxPathLenZero = false, false })
			writeUnder(t, root, strings.TrimPrefix(testCAPath, "/"), string(leaf))
		}, want: []string{"not a CA certificate", "orionbridge certs path"}},
		{name: "a CA for any site", prepare: func(t *testing.T, root string) {
			wide, _ := testCA(t, "linux-1", func(c *x509.Certificate) {
				c.PermittedDNSDomainsCritical, c.PermittedDNSDomains, c.PermittedIPRanges = false, nil, nil
			})
			writeUnder(t, root, strings.TrimPrefix(testCAPath, "/"), string(wide))
		}, want: []string{"no critical name constraints", "vouch for other sites"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := machineWithCA(t, tt.policies)
			if tt.prepare != nil {
				tt.prepare(t, root)
			}
			caPath := testCAPath
			if tt.caPath != "" {
				caPath = tt.caPath
			}
			before := tree(t, root)
			lines, err := InstallCertificate(root, caPath)
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "{root}", root)
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("install: %v (%q); want an error with %q", err, lines, w)
				}
			}
			if after := tree(t, root); !reflect.DeepEqual(after, before) {
				t.Errorf("a refused install changed the machine:\n%v\nbefore:\n%v", after, before)
			}
			// Status reads the same file, and says the same.
			if _, _, err := CertificateStatus(root, caPath); tt.policies != "" && (err == nil || !strings.Contains(err.Error(), tt.want[1])) {
				t.Errorf("status: %v; want an error with %q", err, tt.want[1])
			}
		})
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
