//go:build linux

package installer

// Issue 15's Linux "done when": the deb, installed as root with dpkg,
// creates the machine certificate; a user made afterwards (useradd) starts
// a bridge that serves it, and that user's Chromium trusts it at once, with
// no step of theirs. The renewal task's command renews a leaf one day from
// expiry and the running bridge serves the new one. Purging the package
// takes out exactly what the install added.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"orionbridge/internal/machinedir"
	"orionbridge/internal/testutil"
)

const (
	machineDir      = "/var/lib/orionbridge"
	firefoxPolicies = "/etc/firefox/policies/policies.json"
	anchorsDir      = "/usr/local/share/ca-certificates"
	renewUnit       = "/usr/lib/systemd/system/orionbridge-renew.service"
	timerLink       = "/etc/systemd/system/timers.target.wants/orionbridge-renew.timer"
	managedConfig   = "/etc/orionbridge/config.toml"
	chromiumPolicy  = "/etc/chromium/policies/managed/orionbridge.json"
)

var (
	toolDpkg     = tool{Name: "dpkg", Deb: "dpkg"}
	toolChromium = tool{Name: "chromium", Deb: "chromium"}
	toolCertutil = tool{Name: "certutil", Deb: "libnss3-tools"}
	toolOpenSSL  = tool{Name: "openssl", Deb: "openssl"}
)

func TestDebMachineCertificate(t *testing.T) {
	root := setup(t, toolMake, toolGCC, toolDpkg, toolChromium, toolCertutil, toolOpenSSL)
	testutil.RequireRoot(t, "installs the deb with dpkg")
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "orionbridge").Output(); err == nil && strings.Contains(string(out), "installed") {
		t.Fatalf("the orionbridge package is already installed on this machine: remove it first (dpkg --purge orionbridge); the test installs and purges its own")
	}
	for _, p := range []string{machineDir + "/ca", machineDir + "/certs"} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists before the install: remove it (a leftover of another install)", p)
		}
	}
	// The real machine folder, for dpkg's scripts and the user's bridge
	// (internal/testutil points tests elsewhere).
	if was, set := os.LookupEnv(machinedir.Env); set {
		os.Unsetenv(machinedir.Env)
		t.Cleanup(func() { os.Setenv(machinedir.Env, was) })
	}
	v := version(t, root)
	testutil.Make(t, root, "installer-check", "dist-deb")
	deb := filepath.Join(root, "dist", "orionbridge_"+v+"_amd64.deb")

	// Firefox's policies before: someone else's policy, which the install
	// must keep and the purge must leave as it was.
	before := map[string]any{"policies": map[string]any{"DisableAppUpdate": true,
		"Certificates": map[string]any{"Install": []any{"/etc/ssl/certs/someone-elses.pem"}}}}
	restore := keepFile(t, firefoxPolicies)
	defer restore()
	writeJSON(t, firefoxPolicies, before)

	// GRANT_LOCAL_NETWORK=1, the deb's equivalent of the MSI property: the
	// managed config's allowed_origins get the browsers' policy.
	restoreManaged := keepFile(t, managedConfig)
	defer restoreManaged()
	testutil.WriteFile(t, managedConfig, "allowed_origins = [\"https://shop.example.com\"]\n")
	if err := os.Chmod(managedConfig, 0o644); err != nil {
		t.Fatal(err)
	}
	install := exec.Command("dpkg", "-i", deb)
	install.Env = append(os.Environ(), "GRANT_LOCAL_NETWORK=1")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("GRANT_LOCAL_NETWORK=1 dpkg -i %s: %v\n%s", deb, err, out)
	}
	purged := false
	defer func() {
		if !purged {
			exec.Command("dpkg", "--purge", "orionbridge").Run()
		}
	}()

	// The files: the CA key root's alone, the leaf readable by all.
	for path, want := range map[string]fs.FileMode{
		machineDir + "/ca":                 fs.ModeDir | 0o700,
		machineDir + "/ca/ca-key.pem":      0o600,
		machineDir + "/certs":              fs.ModeDir | 0o755,
		machineDir + "/certs/ca.pem":       0o644,
		machineDir + "/certs/leaf.pem":     0o644,
		machineDir + "/certs/leaf-key.pem": 0o644,
	} {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatalf("after dpkg -i: %v", err)
		}
		if fi.Mode() != want || fi.Sys().(*syscall.Stat_t).Uid != 0 {
			t.Errorf("%s: mode %v uid %d, want %v root", path, fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid, want)
		}
	}
	caPEM, err := os.ReadFile(machineDir + "/certs/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	ca := parseCert(t, caPEM)
	anchors, _ := filepath.Glob(filepath.Join(anchorsDir, "orionbridge-ca-*.crt"))
	if len(anchors) != 1 {
		t.Errorf("distribution anchors %v, want one orionbridge-ca-*.crt", anchors)
	}
	var after map[string]any
	readJSON(t, firefoxPolicies, &after)
	wantAfter := map[string]any{"policies": map[string]any{"DisableAppUpdate": true,
		"Certificates":       map[string]any{"Install": []any{"/etc/ssl/certs/someone-elses.pem", machineDir + "/certs/ca.pem"}},
		"LocalNetworkAccess": map[string]any{"SkipDomains": []any{"shop.example.com"}}}}
	if !reflect.DeepEqual(after, wantAfter) {
		t.Errorf("%s after install:\n%v\nwant\n%v", firefoxPolicies, after, wantAfter)
	}
	if _, err := os.Lstat(timerLink); err != nil {
		t.Errorf("the renewal timer is not enabled: %v", err)
	}
	if policy := string(mustRead(t, chromiumPolicy)); !strings.Contains(policy, "https://shop.example.com:443") {
		t.Errorf("%s: %s, want the managed config's origin approved", chromiumPolicy, policy)
	}

	// A user made after the install, who never ran anything.
	u := testutil.AddUser(t, "deb")
	port := testutil.FreePort(t)
	cfg := filepath.Join(u.Home, "config.toml")
	testutil.WriteFile(t, cfg, fmt.Sprintf("port = %d\n", port))
	if err := os.Chown(cfg, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	bridge := u.Command("/usr/bin/orionbridge-headless", "run", "--config", cfg)
	bridge.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs := &testutil.LockedBuffer{}
	bridge.Stdout, bridge.Stderr = logs, logs
	if err := bridge.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			syscall.Kill(-bridge.Process.Pid, syscall.SIGTERM)
			bridge.Wait()
		}
	}
	defer stop()
	testutil.WaitFor(t, "the user's bridge to listen and trust the machine CA in their NSS database", func() bool {
		return strings.Contains(logs.String(), "trusted this computer's certificate") && dialable(port)
	})

	// Their Chromium trusts it: the /health JSON, not an error page.
	page := chromiumDump(t, u, port)
	if !strings.Contains(page, `"certificate"`) || !strings.Contains(page, `"kind":"machine"`) {
		t.Fatalf("%s's Chromium did not load https://localhost:%d/health:\n%s\nbridge log:\n%s", u.Name, port, page, logs)
	}
	// And only because of the NSS entry the bridge made: without it the
	// same browser refuses the certificate.
	nss := "sql:" + filepath.Join(u.Home, ".pki", "nssdb")
	nick := strings.TrimSpace(run(t, "runuser", "-u", u.Name, "--", "sh", "-c", "certutil -L -d "+nss+" | sed -n 's/^\\(Orion Bridge Local CA [0-9A-F]*\\) .*/\\1/p'"))
	if nick == "" {
		t.Fatalf("no Orion Bridge CA in %s", nss)
	}
	run(t, "runuser", "-u", u.Name, "--", "certutil", "-D", "-d", nss, "-n", nick)
	if page := chromiumDump(t, u, port); strings.Contains(page, `"certificate"`) {
		t.Fatalf("with the CA removed from %s, Chromium still loaded the page: the test proves nothing:\n%s", nss, page)
	}
	run(t, "runuser", "-u", u.Name, "--", "certutil", "-A", "-d", nss, "-t", "C,,", "-n", nick, "-i", machineDir+"/certs/ca.pem")

	// Renewal across the boundary: a leaf one day from expiry, served by
	// the running bridge, is renewed by the timer's command (as root).
	oneDay := writeExpiringLeaf(t, ca)
	testutil.WaitFor(t, "the bridge to serve the leaf one day from expiry", func() bool { return servedSerial(t, u, port) == oneDay })
	execStart := unitExecStart(t, renewUnit)
	run(t, execStart[0], execStart[1:]...)
	var renewed string
	testutil.WaitFor(t, "the bridge to serve the renewed leaf", func() bool {
		renewed = servedSerial(t, u, port)
		return renewed != "" && renewed != oneDay
	})
	leaf := parseCert(t, mustRead(t, machineDir+"/certs/leaf.pem"))
	if time.Until(leaf.NotAfter) < 300*24*time.Hour {
		t.Errorf("renewed leaf expires %s, want about 397 days from now", leaf.NotAfter)
	}
	stop()

	// Purge: exactly what the install added goes.
	run(t, "dpkg", "--purge", "orionbridge")
	purged = true
	for _, p := range append(anchors, machineDir+"/ca", machineDir+"/certs", timerLink, chromiumPolicy) {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is still there after dpkg --purge", p)
		}
	}
	var purgedJSON map[string]any
	readJSON(t, firefoxPolicies, &purgedJSON)
	if !reflect.DeepEqual(purgedJSON, before) {
		t.Errorf("%s after purge:\n%v\nwant it as before the install:\n%v", firefoxPolicies, purgedJSON, before)
	}
	if out := run(t, "runuser", "-u", u.Name, "--", "certutil", "-L", "-d", nss); strings.Contains(out, "Orion Bridge") {
		t.Errorf("%s's NSS database still holds the machine CA after purge:\n%s", u.Name, out)
	}
}

// chromiumDump loads the bridge's /health in u's headless Chromium and
// returns the page's DOM (an error page when the certificate is refused).
func chromiumDump(t *testing.T, u testutil.LocalUser, port int) string {
	t.Helper()
	profile := filepath.Join(u.Home, fmt.Sprintf("chromium-%d", time.Now().UnixNano()))
	cmd := u.Command("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+profile, "--virtual-time-budget=5000", "--dump-dom",
		fmt.Sprintf("https://localhost:%d/health", port))
	out, _ := cmd.Output() // an error page still prints a DOM
	return string(out)
}

// servedSerial is the serial of the certificate the bridge on port serves
// to u (openssl s_client, run as u: the bridge answers its own user).
func servedSerial(t *testing.T, u testutil.LocalUser, port int) string {
	t.Helper()
	script := fmt.Sprintf("openssl s_client -connect 127.0.0.1:%d -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -serial", port)
	out, err := u.Command("sh", "-c", script).Output()
	if err != nil {
		return ""
	}
	return strings.TrimLeft(strings.ToUpper(strings.TrimPrefix(strings.TrimSpace(string(out)), "serial=")), "0")
}

// writeExpiringLeaf signs, with the machine CA's key, a localhost leaf
// whose last day is tomorrow, writes it where the bridges read it, and
// returns its serial as openssl prints it.
func writeExpiringLeaf(t *testing.T, ca *x509.Certificate) string {
	t.Helper()
	block, _ := pem.Decode(mustRead(t, machineDir+"/ca/ca-key.pem"))
	caKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial := big.NewInt(time.Now().UnixNano())
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback},
		NotBefore: time.Now().Add(-396 * 24 * time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Key first, as the renewal does: the bridges retry a mismatched pair.
	writeRootFile(t, machineDir+"/certs/leaf-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	writeRootFile(t, machineDir+"/certs/leaf.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return strings.TrimLeft(strings.ToUpper(serial.Text(16)), "0")
}

// writeRootFile replaces path (rename over it) with a root-owned 0644 file.
func writeRootFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".test"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// unitExecStart is the command line of a unit's ExecStart=.
func unitExecStart(t *testing.T, unit string) []string {
	t.Helper()
	for _, line := range strings.Split(string(mustRead(t, unit)), "\n") {
		if cmd, ok := strings.CutPrefix(line, "ExecStart="); ok {
			return strings.Fields(cmd)
		}
	}
	t.Fatalf("%s has no ExecStart", unit)
	return nil
}

func dialable(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// keepFile saves path (or its absence) and returns what puts it back.
func keepFile(t *testing.T, path string) func() {
	t.Helper()
	old, err := os.ReadFile(path)
	existed := err == nil
	dirExisted := true
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		dirExisted = false
	}
	return func() {
		if existed {
			os.WriteFile(path, old, 0o644)
			return
		}
		os.Remove(path)
		if !dirExisted {
			os.Remove(filepath.Dir(path))
			os.Remove(filepath.Dir(filepath.Dir(path)))
		}
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(mustRead(t, path), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
