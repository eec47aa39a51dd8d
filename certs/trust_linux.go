package certs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const certutilHelp = "install libnss3-tools (Debian/Ubuntu; nss-tools on Fedora/RHEL/openSUSE, nss on Arch)"

var errNeedsRoot = errors.New("needs root: run with sudo or use --scope user")

// nssLocations are the NSS databases Chromium-based browsers read on Linux.
var nssLocations = []nssLocation{
	{name: "Chrome/Chromium (NSS)", dir: ".pki/nssdb", create: true},
	{name: "Chromium snap (NSS)", dir: "snap/chromium/current/.pki/nssdb", app: "snap/chromium"},
	{name: "Chromium flatpak (NSS)", dir: ".var/app/org.chromium.Chromium/.pki/nssdb", app: ".var/app/org.chromium.Chromium"},
	{name: "Chrome flatpak (NSS)", dir: ".var/app/com.google.Chrome/.pki/nssdb", app: ".var/app/com.google.Chrome"},
}

// firefoxRoots hold profiles.ini for a distribution, snap and flatpak Firefox.
// Newer Firefox (seen with Debian's firefox-esr 153) keeps its profiles in
// the XDG config dir instead of ~/.mozilla.
var firefoxRoots = []string{
	".mozilla/firefox",
	".config/mozilla/firefox",
	"snap/firefox/common/.mozilla/firefox",
	".var/app/org.mozilla.firefox/.mozilla/firefox",
}

// systemAnchors are the system trust-anchor directories by distribution
// family, each with the command that rebuilds the system bundle from it.
// The first whose directory exists is used. Tests replace this list.
var systemAnchors = []anchorStore{
	// /usr/local/share/ca-certificates/NAME.crt, then `update-ca-certificates`
	{distro: "Debian/Ubuntu", dir: "/usr/local/share/ca-certificates", ext: ".crt", update: []string{"update-ca-certificates"}},
	// /etc/pki/ca-trust/source/anchors/NAME.pem, then `update-ca-trust extract`
	{distro: "Fedora/RHEL", dir: "/etc/pki/ca-trust/source/anchors", ext: ".pem", update: []string{"update-ca-trust", "extract"}},
	// /etc/ca-certificates/trust-source/anchors/NAME.crt, then `trust extract-compat`
	{distro: "Arch", dir: "/etc/ca-certificates/trust-source/anchors", ext: ".crt", update: []string{"trust", "extract-compat"}},
	// /usr/share/pki/trust/anchors/NAME.pem, then `update-ca-certificates`
	{distro: "openSUSE", dir: "/usr/share/pki/trust/anchors", ext: ".pem", update: []string{"update-ca-certificates"}},
}

func systemAnchorStore() trustStore {
	for i := range systemAnchors {
		if fi, err := os.Stat(systemAnchors[i].dir); err == nil && fi.IsDir() {
			return &systemAnchors[i]
		}
	}
	return absentStore{StoreStatus{
		Name: "System trust store", Scope: ScopeSystem,
		Detail: "no known anchor directory (Debian, Fedora, Arch, openSUSE layouts): add ca.pem to your distribution's store by hand",
	}}
}

func storesFor(scope Scope) ([]trustStore, error) {
	if scope == ScopeSystem && !isRoot() {
		return nil, errNeedsRoot
	}
	acct, err := invokingAccount()
	if err != nil {
		return nil, err
	}
	stores := nssStores(acct)
	if scope == ScopeSystem {
		stores = append([]trustStore{systemAnchorStore()}, stores...)
	}
	return stores, nil
}

func allStores() []trustStore {
	stores := []trustStore{systemAnchorStore()}
	if acct, err := invokingAccount(); err == nil {
		stores = append(stores, nssStores(acct)...)
	}
	return stores
}

// anchorStore is a system anchor directory. curl, Go, Python and the other
// OpenSSL/GnuTLS users read the bundle it feeds; browsers on Linux read the
// NSS databases instead, so it is not counted as a browser store.
type anchorStore struct {
	distro string
	dir    string
	ext    string
	update []string
}

func (a *anchorStore) info() StoreStatus {
	return StoreStatus{Name: "System trust store (" + a.distro + ")", Path: a.dir, Scope: ScopeSystem}
}

// fileName is the CA's base name in an anchor directory; the fingerprint
// prefix makes it unique, so Uninstall removes exactly this CA.
func (r *rootCert) fileName() string { return "orionbridge-ca-" + strings.ToLower(shortID(r.cert)) }

func (a *anchorStore) file(ca *rootCert) string { return filepath.Join(a.dir, ca.fileName()+a.ext) }

func (a *anchorStore) status(ca *rootCert) (State, string) {
	data, err := os.ReadFile(a.file(ca))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return StateNotTrusted, "CA not installed: `orionbridge certs install --scope system` (as root)"
	case err != nil:
		return StateNotTrusted, "cannot check: " + err.Error()
	case !bytes.Equal(bytes.TrimSpace(data), bytes.TrimSpace(ca.pem)):
		return StateNotTrusted, a.file(ca) + " holds a different certificate"
	}
	return StateTrusted, a.file(ca) + " (used by curl, Go, OpenSSL; browsers read NSS)"
}

func (a *anchorStore) install(ca *rootCert) error {
	if !isRoot() {
		return errNeedsRoot
	}
	// Write DIR/orionbridge-ca-<id>.crt (the extension the tool reads).
	if err := writeFileAtomic(a.file(ca), ca.pem, false); err != nil {
		return fmt.Errorf("write %s: %w", a.file(ca), err)
	}
	return a.rebuild()
}

func (a *anchorStore) uninstall(ca *rootCert) (bool, error) {
	path := a.file(ca)
	if !exists(path) {
		return false, nil
	}
	if !isRoot() {
		return false, errNeedsRoot
	}
	// rm DIR/orionbridge-ca-<id>.crt
	if err := os.Remove(path); err != nil {
		return false, fmt.Errorf("remove %s: %w", path, err)
	}
	return true, a.rebuild()
}

// rebuild runs the distribution's update command, e.g. update-ca-certificates.
func (a *anchorStore) rebuild() error {
	tool, err := lookTool(a.update[0])
	if err != nil {
		return fmt.Errorf("%s not found: install the ca-certificates package", a.update[0])
	}
	if _, err := command(exec.Command(tool, a.update[1:]...)); err != nil {
		return fmt.Errorf("rebuild the system bundle (%s): %w", strings.Join(a.update, " "), err)
	}
	return nil
}

// machineStores: the distribution's anchors, which curl, Go and OpenSSL
// read. Browsers on Linux read NSS instead: InstallForUser covers each
// user's databases, browserpolicy Firefox's Certificates.Install.
func machineStores() []trustStore { return []trustStore{systemAnchorStore()} }
