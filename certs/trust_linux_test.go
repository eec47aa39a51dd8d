package certs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// requireCertutil skips without NSS's certutil, except in CI, where a
// missing tool is a broken setup and must fail.
func requireCertutil(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("certutil")
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("certutil not found: install libnss3-tools")
	}
	t.Skip("certutil not found: install libnss3-tools (this test fails instead when CI=true)")
	return ""
}

// fakeHome points HOME at a temp dir and makes this process its only user,
// so no real browser store is touched.
func fakeHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SUDO_USER", "")
	return home
}

// fakeFirefoxProfile creates a profile listed in a profiles.ini, with an NSS
// database as Firefox would have made it.
func fakeFirefoxProfile(t *testing.T, certutil, root, name string) string {
	t.Helper()
	profile := filepath.Join(root, name)
	if err := os.MkdirAll(profile, 0o700); err != nil {
		t.Fatal(err)
	}
	ini := "[General]\nStartWithLastProfile=1\n\n[Profile0]\nName=default-release\nIsRelative=1\nPath=" + name + "\nDefault=1\n\n[Install4F96D1932A9F858E]\nDefault=" + name + "\nLocked=1\n"
	if err := os.WriteFile(filepath.Join(root, "profiles.ini"), []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(certutil, "-N", "-d", "sql:"+profile, "--empty-password").CombinedOutput(); err != nil {
		t.Fatalf("certutil -N: %v: %s", err, out)
	}
	return profile
}

// nssTrust returns the trust flags certutil lists for nickname in dir, or
// "" when it is not there.
func nssTrust(t *testing.T, certutil, dir, nickname string) string {
	t.Helper()
	out, err := exec.Command(certutil, "-L", "-d", "sql:"+dir).CombinedOutput()
	if err != nil {
		t.Fatalf("certutil -L -d %s: %v: %s", dir, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, nickname); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

func statusOf(t *testing.T, stores []StoreStatus, path string) StoreStatus {
	t.Helper()
	for _, s := range stores {
		if s.Path == path {
			return s
		}
	}
	t.Fatalf("no store %s in %+v", path, stores)
	return StoreStatus{}
}

func resultFor(t *testing.T, results []StoreResult, path string) StoreResult {
	t.Helper()
	for _, r := range results {
		if r.Path == path {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", path, results)
	return StoreResult{}
}

func TestNSSUserInstall(t *testing.T) {
	certutil := requireCertutil(t)
	home := fakeHome(t)
	dir := t.TempDir()
	clock := newClock()
	openLocal(t, dir, clock)
	ca, _, err := loadRoots(dir)
	if err != nil {
		t.Fatal(err)
	}
	nick := ca.nickname()
	chrome := filepath.Join(home, ".pki", "nssdb")
	firefox := fakeFirefoxProfile(t, certutil, filepath.Join(home, ".mozilla", "firefox"), "abcd1234.default-release")
	firefoxXDG := fakeFirefoxProfile(t, certutil, filepath.Join(home, ".config", "mozilla", "firefox"), "wxyz5678.default-esr")

	stores, err := CheckTrust(dir)
	if err != nil {
		t.Fatal(err)
	}
	if Trusted(stores) {
		t.Fatal("trusted before install")
	}
	if s := statusOf(t, stores, chrome); s.State != StateNotPresent {
		t.Fatalf("~/.pki/nssdb before install: %+v", s)
	}
	if s := statusOf(t, stores, firefox); s.State != StateNotTrusted || !s.Browser {
		t.Fatalf("Firefox profile before install: %+v", s)
	}

	results, err := Install(dir, ScopeUser)
	if err != nil {
		t.Fatalf("Install: %v\n%+v", err, results)
	}
	for _, db := range []string{chrome, firefox, firefoxXDG} {
		if r := resultFor(t, results, db); r.Action != "installed" {
			t.Errorf("Install into %s: %+v", db, r)
		}
		if got := nssTrust(t, certutil, db, nick); got != "C,," {
			t.Errorf("certutil -L -d %s lists %q with trust %q, want C,,", db, nick, got)
		}
	}
	if fi, err := os.Stat(chrome); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("~/.pki/nssdb not created private: %v %v", fi, err)
	}

	stores, _ = CheckTrust(dir)
	if !Trusted(stores) {
		t.Fatalf("not trusted after install: %+v", stores)
	}
	for _, db := range []string{chrome, firefox} {
		if s := statusOf(t, stores, db); s.State != StateTrusted {
			t.Errorf("%s after install: %+v", db, s)
		}
	}

	results, err = Install(dir, ScopeUser)
	if err != nil || resultFor(t, results, chrome).Action != "already trusted" {
		t.Fatalf("second Install: %v %+v", err, results)
	}

	results, err = Uninstall(dir, ScopeUser)
	if err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	for _, db := range []string{chrome, firefox} {
		if r := resultFor(t, results, db); r.Action != "removed" {
			t.Errorf("Uninstall from %s: %+v", db, r)
		}
		if got := nssTrust(t, certutil, db, nick); got != "" {
			t.Errorf("%s still lists the CA after uninstall", db)
		}
	}
	stores, _ = CheckTrust(dir)
	if Trusted(stores) {
		t.Fatal("still trusted after uninstall")
	}
}

// TestUninstallRemovesOnlyOurCA: another CA in the same database survives.
func TestUninstallRemovesOnlyOurCA(t *testing.T) {
	certutil := requireCertutil(t)
	home := fakeHome(t)
	mine, other := t.TempDir(), t.TempDir()
	clock := newClock()
	openLocal(t, mine, clock)
	openLocal(t, other, clock)
	otherCA, _, _ := loadRoots(other)
	if _, err := Install(other, ScopeUser); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(mine, ScopeUser); err != nil {
		t.Fatal(err)
	}
	if _, err := Uninstall(mine, ScopeUser); err != nil {
		t.Fatal(err)
	}
	if got := nssTrust(t, certutil, filepath.Join(home, ".pki", "nssdb"), otherCA.nickname()); got != "C,," {
		t.Fatalf("Uninstall removed another CA (trust now %q)", got)
	}
}

// TestInstallDropsReplacedCA: after a CA renewal, install trusts the new CA
// and removes the old one.
func TestInstallDropsReplacedCA(t *testing.T) {
	certutil := requireCertutil(t)
	home := fakeHome(t)
	dir := t.TempDir()
	clock := newClock()
	openLocal(t, dir, clock)
	oldCA, _, _ := loadRoots(dir)
	if _, err := Install(dir, ScopeUser); err != nil {
		t.Fatal(err)
	}
	clock.Add(9*365*24*time.Hour + 60*24*time.Hour)
	openLocal(t, dir, clock) // renews the CA
	newCA, retired, _ := loadRoots(dir)
	if len(retired) != 1 || !retired[0].cert.Equal(oldCA.cert) {
		t.Fatalf("retired CAs = %d", len(retired))
	}
	stores, _ := CheckTrust(dir)
	if Trusted(stores) {
		t.Fatal("renewed CA reported trusted before install")
	}
	if _, err := Install(dir, ScopeUser); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(home, ".pki", "nssdb")
	if got := nssTrust(t, certutil, db, newCA.nickname()); got != "C,," {
		t.Errorf("new CA trust %q", got)
	}
	if got := nssTrust(t, certutil, db, oldCA.nickname()); got != "" {
		t.Errorf("replaced CA still in %s", db)
	}
}

func TestCertutilMissing(t *testing.T) {
	fakeHome(t)
	dir := t.TempDir()
	openLocal(t, dir, newClock())
	t.Setenv("PATH", t.TempDir())
	saved := toolDirs
	toolDirs = nil
	t.Cleanup(func() { toolDirs = saved })

	_, err := Install(dir, ScopeUser)
	if err == nil || !strings.Contains(err.Error(), "certutil not found: install libnss3-tools") {
		t.Fatalf("Install without certutil: %v", err)
	}
}

// withSystemAnchors replaces the system anchor list with one temp
// directory whose update command is a script recording its calls, and
// pretends to be root, so no test touches this machine's trust store.
func withSystemAnchors(t *testing.T) (anchors, calls string) {
	t.Helper()
	tmp := t.TempDir()
	anchors = filepath.Join(tmp, "anchors")
	calls = filepath.Join(tmp, "calls.log")
	if err := os.Mkdir(anchors, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(tmp, "update-ca-certificates")
	body := "#!/bin/sh\necho \"update $*: $(ls " + anchors + " | tr '\\n' ' ')\" >> " + calls + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	savedAnchors, savedRoot := systemAnchors, isRoot
	systemAnchors = []anchorStore{{distro: "Test", dir: anchors, ext: ".crt", update: []string{script, "--fresh"}}}
	isRoot = func() bool { return true }
	t.Cleanup(func() { systemAnchors, isRoot = savedAnchors, savedRoot })
	return anchors, calls
}

func TestSystemScopeNeedsRoot(t *testing.T) {
	fakeHome(t)
	dir := t.TempDir()
	openLocal(t, dir, newClock())
	saved := isRoot
	isRoot = func() bool { return false }
	t.Cleanup(func() { isRoot = saved })
	for _, op := range []func(string, Scope) ([]StoreResult, error){Install, Uninstall} {
		_, err := op(dir, ScopeSystem)
		if !errors.Is(err, errNeedsRoot) || err.Error() != "needs root: run with sudo or use --scope user" {
			t.Fatalf("system scope without root: %v", err)
		}
	}
}

func TestSystemScopeAnchors(t *testing.T) {
	certutil := requireCertutil(t)
	home := fakeHome(t)
	anchors, calls := withSystemAnchors(t)
	dir := t.TempDir()
	openLocal(t, dir, newClock())
	ca, _, _ := loadRoots(dir)
	anchor := filepath.Join(anchors, "orionbridge-ca-"+strings.ToLower(shortID(ca.cert))+".crt")

	results, err := Install(dir, ScopeSystem)
	if err != nil {
		t.Fatalf("Install(system): %v %+v", err, results)
	}
	if r := resultFor(t, results, anchors); r.Action != "installed" {
		t.Fatalf("anchor result %+v", r)
	}
	data, err := os.ReadFile(anchor)
	if err != nil || string(data) != string(ca.pem) {
		t.Fatalf("anchor file %s: %v", anchor, err)
	}
	if fi, _ := os.Stat(anchor); fi.Mode().Perm() != 0o644 {
		t.Errorf("anchor mode %v, want 0644 (every program reads it)", fi.Mode().Perm())
	}
	log, _ := os.ReadFile(calls)
	if want := "update --fresh: " + filepath.Base(anchor) + " \n"; string(log) != want {
		t.Fatalf("update command calls = %q, want %q", log, want)
	}
	// System scope also covers the invoking user's NSS database.
	if got := nssTrust(t, certutil, filepath.Join(home, ".pki", "nssdb"), ca.nickname()); got != "C,," {
		t.Errorf("system scope left the user's NSS database untrusted (%q)", got)
	}

	stores, _ := CheckTrust(dir)
	if s := statusOf(t, stores, anchors); s.State != StateTrusted || s.Browser || s.Name != "System trust store (Test)" {
		t.Errorf("anchor status %+v", s)
	}

	results, err = Uninstall(dir, ScopeSystem)
	if err != nil || resultFor(t, results, anchors).Action != "removed" {
		t.Fatalf("Uninstall(system): %v %+v", err, results)
	}
	if _, err := os.Stat(anchor); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("anchor file left after uninstall")
	}
	log, _ = os.ReadFile(calls)
	if lines := strings.Split(strings.TrimSuffix(string(log), "\n"), "\n"); len(lines) != 2 || lines[1] != "update --fresh: " {
		t.Fatalf("update command calls after uninstall = %q", log)
	}
	stores, _ = CheckTrust(dir)
	if s := statusOf(t, stores, anchors); s.State != StateNotTrusted {
		t.Errorf("anchor status after uninstall %+v", s)
	}
}

func TestNoKnownAnchorDir(t *testing.T) {
	fakeHome(t)
	saved := systemAnchors
	systemAnchors = []anchorStore{{distro: "Nowhere", dir: filepath.Join(t.TempDir(), "missing")}}
	t.Cleanup(func() { systemAnchors = saved })
	dir := t.TempDir()
	openLocal(t, dir, newClock())
	stores, err := CheckTrust(dir)
	if err != nil {
		t.Fatal(err)
	}
	if stores[0].State != StateNotPresent || !strings.Contains(stores[0].Detail, "by hand") {
		t.Fatalf("missing anchor dir reported as %+v", stores[0])
	}
}

func TestFirefoxProfilesIni(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name, ini string
		want      []string
	}{
		{"relative", "[Profile0]\nName=a\nIsRelative=1\nPath=Profiles/a.default\n", []string{filepath.Join(root, "Profiles", "a.default")}},
		{"absolute", "[Profile0]\nIsRelative=0\nPath=/opt/ff/p1\n", []string{"/opt/ff/p1"}},
		{"CRLF and two profiles", "[Profile1]\r\nIsRelative=1\r\nPath=b\r\n\r\n[Profile0]\r\nPath=c\r\nIsRelative=1\r\n", []string{filepath.Join(root, "b"), filepath.Join(root, "c")}},
		{"install and general sections ignored", "[General]\nPath=nope\n[Install123]\nDefault=x\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(root, "profiles.ini"), []byte(tt.ini), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := firefoxProfiles(root); !slices.Equal(got, tt.want) {
				t.Errorf("firefoxProfiles = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStoreDiscovery(t *testing.T) {
	home := fakeHome(t)
	for _, d := range []string{"snap/chromium", ".var/app/org.mozilla.firefox/.mozilla/firefox/p"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ini := "[Profile0]\nIsRelative=1\nPath=p\n"
	if err := os.WriteFile(filepath.Join(home, ".var/app/org.mozilla.firefox/.mozilla/firefox/profiles.ini"), []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	acct, err := invokingAccount()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range nssStores(acct) {
		got = append(got, s.info().Path)
	}
	want := []string{
		filepath.Join(home, ".pki/nssdb"),
		filepath.Join(home, "snap/chromium/current/.pki/nssdb"),
		filepath.Join(home, ".var/app/org.mozilla.firefox/.mozilla/firefox/p"),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("NSS stores = %q, want %q", got, want)
	}
}

func TestInstallArgumentErrors(t *testing.T) {
	fakeHome(t)
	tests := []struct {
		name  string
		dir   string
		scope Scope
		want  string
	}{
		{"no CA yet", t.TempDir(), ScopeUser, "no CA yet"},
		{"bad scope", t.TempDir(), "global", "unknown scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Install(tt.dir, tt.scope)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
