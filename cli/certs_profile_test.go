//go:build linux

package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"orionbridge/certs"
)

// TestCertsProfile runs `certs profile` on a CA that certs made, as the
// machine install makes it: the profile holds exactly that CA, on stdout or
// in --out; bad flags and files fail naming the problem and the fix.
func TestCertsProfile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if _, err := certs.OpenLocal(dir, certs.Options{}); err != nil {
		t.Fatal(err)
	}
	caPath := certs.CAPath(dir)
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(caPEM)
	out := t.TempDir()
	writable := filepath.Join(out, "writable.pem")
	if err := os.WriteFile(writable, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(writable, 0o666); err != nil {
		t.Fatal(err)
	}
	// A link planted where the profile goes: --out replaces it, and the
	// file it points to stays as it was.
	victim := filepath.Join(out, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(out, "linked.mobileconfig")); err != nil {
		t.Fatal(err)
	}

	var fromStdout []byte
	tests := []struct {
		name      string
		args      []string
		code      int
		out, errs string
		file      string // --out: the file that must hold the profile
	}{
		{"no --ca, no machine certificate", nil, exitFailure, "", "no machine certificate in " + filepath.Join(testutil.NoMachineDir, "certs") + ": an administrator creates it with `orionbridge certs machine install`, or give --ca FILE", ""},
		{"stray argument", []string{"--ca", caPath, "extra"}, exitUsage, "", `unexpected argument "extra"`, ""},
		{"unknown flag", []string{"--config", "x"}, exitUsage, "", "flag provided but not defined: -config", ""},
		{"no such file", []string{"--ca", filepath.Join(out, "none.pem")}, exitFailure, "", "none.pem: no such file", ""},
		{"the leaf, not the CA", []string{"--ca", filepath.Join(dir, "leaf.pem")}, exitFailure, "", "is not a CA certificate (a leaf?)", ""},
		{"a CA file others may change", []string{"--ca", writable}, exitFailure, "", "writable by others", ""},
		{"to stdout", []string{"--ca", caPath}, exitOK, "<string>com.apple.security.root</string>", "", ""},
		{"to a file", []string{"--ca", caPath, "--out", filepath.Join(out, "ca.mobileconfig")}, exitOK, "wrote " + filepath.Join(out, "ca.mobileconfig"), "", filepath.Join(out, "ca.mobileconfig")},
		{"over a planted link", []string{"--out", filepath.Join(out, "linked.mobileconfig"), "--ca", caPath}, exitOK, "wrote ", "", filepath.Join(out, "linked.mobileconfig")},
		{"into no folder", []string{"--ca", caPath, "--out", filepath.Join(out, "none", "ca.mobileconfig")}, exitFailure, "", "does not exist; create it first", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := certsProfile(tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.errs) {
				t.Fatalf("certs profile %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d, stdout with %q, stderr with %q",
					strings.Join(tt.args, " "), code, stdout.String(), stderr.String(), tt.code, tt.out, tt.errs)
			}
			if tt.code != exitOK && stdout.Len() > 0 {
				t.Errorf("a failed command printed a profile:\n%s", stdout.String())
			}
			profile := stdout.Bytes()
			if tt.file != "" {
				fi, err := os.Lstat(tt.file)
				if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
					t.Fatalf("%s: %v, %v; want a regular file, mode 0644", tt.file, fi.Mode(), err)
				}
				if profile, err = os.ReadFile(tt.file); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(profile, fromStdout) {
					t.Errorf("the file differs from the profile on stdout:\n%s", profile)
				}
			}
			if tt.code != exitOK {
				return
			}
			if tt.file == "" {
				fromStdout = profile
			}
			// The payload is the CA's DER, as certs wrote it.
			m := regexp.MustCompile(`(?s)<key>PayloadContent</key>\s*<data>(.*?)</data>`).FindSubmatch(profile)
			if m == nil {
				t.Fatalf("no <data> payload:\n%s", profile)
			}
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(m[1])), ""))
			if err != nil || !bytes.Equal(der, block.Bytes) {
				t.Errorf("the payload (%v) is not the CA's certificate", err)
			}
			if _, err := x509.ParseCertificate(der); err != nil {
				t.Error(err)
			}
		})
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep" {
		t.Errorf("--out wrote through the planted link: %q", data)
	}
}
