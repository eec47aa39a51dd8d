package certs

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

const certutilHelp = "install it with `brew install nss` (only Firefox needs it; Firefox 120+ also reads the keychain)"

var errNeedsAdmin = errors.New("needs administrator rights: run with sudo or use --scope user")

// Safari and Chrome read the keychains. Firefox 120+ imports roots from the
// keychain too; older Firefox profiles are handled through NSS when
// certutil is installed.
var nssLocations []nssLocation

var firefoxRoots = []string{"Library/Application Support/Firefox"}

const systemKeychain = "/Library/Keychains/System.keychain"

func storesFor(scope Scope) ([]trustStore, error) {
	if scope == ScopeSystem && !isRoot() {
		return nil, errNeedsAdmin
	}
	acct, err := invokingAccount()
	if err != nil {
		return nil, err
	}
	var stores []trustStore
	if scope == ScopeSystem {
		stores = append(stores, &keychainStore{name: "macOS System keychain", keychain: systemKeychain, system: true})
	} else {
		stores = append(stores, loginKeychain(acct))
	}
	return append(stores, darwinNSS(acct)...), nil
}

func allStores() []trustStore {
	stores := []trustStore{&keychainStore{name: "macOS System keychain", keychain: systemKeychain, system: true}}
	if acct, err := invokingAccount(); err == nil {
		stores = append(stores, loginKeychain(acct))
		stores = append(stores, darwinNSS(acct)...)
	}
	return stores
}

func loginKeychain(acct account) *keychainStore {
	return &keychainStore{name: "macOS login keychain", keychain: filepath.Join(acct.home, "Library/Keychains/login.keychain-db")}
}

// darwinNSS lists Firefox's NSS profiles only when certutil is there: it is
// optional on macOS, so its absence must not fail an install.
func darwinNSS(acct account) []trustStore {
	if _, err := findCertutil(); err != nil {
		return nil
	}
	var out []trustStore
	for _, st := range nssStores(acct) {
		if _, ok := st.(absentStore); !ok {
			out = append(out, st)
		}
	}
	return out
}

// keychainStore is a macOS keychain with trust settings, changed with
// security(1). The System keychain uses the admin trust domain (-d).
type keychainStore struct {
	name     string
	keychain string
	system   bool
}

func (k *keychainStore) info() StoreStatus {
	scope := ScopeUser
	if k.system {
		scope = ScopeSystem
	}
	return StoreStatus{Name: k.name, Path: k.keychain, Browser: true, Scope: scope}
}

// sha1Hex is how security(1) names a certificate (-Z); SHA-1 here only
// identifies, it secures nothing.
func sha1Hex(ca *rootCert) string {
	sum := sha1.Sum(ca.cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func (k *keychainStore) present(ca *rootCert) (bool, error) {
	// security find-certificate -a -Z -c "Orion Bridge Local CA" KEYCHAIN
	out, err := command(exec.Command("security", "find-certificate", "-a", "-Z", "-c", caName, k.keychain))
	if err != nil {
		if strings.Contains(string(out), "could not be found") {
			return false, nil
		}
		return false, err
	}
	return strings.Contains(strings.ToUpper(string(out)), sha1Hex(ca)), nil
}

func (k *keychainStore) status(ca *rootCert) (State, string) {
	if !exists(k.keychain) {
		return StateNotPresent, "keychain file not found"
	}
	found, err := k.present(ca)
	switch {
	case err != nil:
		return StateNotTrusted, "cannot check: " + err.Error()
	case !found:
		return StateNotTrusted, "CA not in this keychain"
	}
	// security verify-cert -c ca.pem -p ssl -l
	// (evaluates the CA itself, -l: the "leaf" is a CA, against the trust
	// settings of every domain; this cannot tell which domain trusts it)
	if _, err := command(exec.Command("security", "verify-cert", "-c", ca.path, "-p", "ssl", "-l")); err != nil {
		return StateNotTrusted, "CA in keychain but not trusted for SSL: install again"
	}
	return StateTrusted, "SHA-1 " + sha1Hex(ca)
}

func (k *keychainStore) install(ca *rootCert) error {
	args := []string{"add-trusted-cert", "-r", "trustRoot", "-k", k.keychain, ca.path}
	if k.system {
		if !isRoot() {
			return errNeedsAdmin
		}
		// security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ca.pem
		args = []string{"add-trusted-cert", "-d", "-r", "trustRoot", "-k", k.keychain, ca.path}
	}
	// user: security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db ca.pem
	// (macOS asks for the user's password in a dialog to change trust settings)
	if _, err := command(exec.Command("security", args...)); err != nil {
		return fmt.Errorf("add trusted CA: %w", err)
	}
	return nil
}

func (k *keychainStore) uninstall(ca *rootCert) (bool, error) {
	if !exists(k.keychain) {
		return false, nil
	}
	found, err := k.present(ca)
	if err != nil || !found {
		return false, err
	}
	if k.system && !isRoot() {
		return false, errNeedsAdmin
	}
	// security remove-trusted-cert [-d] ca.pem  (drops the trust settings;
	// fails harmlessly when there are none)
	trustArgs := []string{"remove-trusted-cert", ca.path}
	if k.system {
		trustArgs = []string{"remove-trusted-cert", "-d", ca.path}
	}
	_, _ = command(exec.Command("security", trustArgs...))
	// security delete-certificate -Z <SHA-1> KEYCHAIN
	if _, err := command(exec.Command("security", "delete-certificate", "-Z", sha1Hex(ca), k.keychain)); err != nil {
		return false, fmt.Errorf("delete CA: %w", err)
	}
	return true, nil
}

// machineStores: the System keychain, which Safari, Chrome and Edge read
// for every user. (An unattended pkg may be refused trust settings there;
// `orionbridge certs profile` makes the profile an MDM deploys instead.)
func machineStores() []trustStore {
	return []trustStore{&keychainStore{name: "macOS System keychain", keychain: systemKeychain, system: true}}
}
