package certs

// Trust-store installation is hand-written, per OS, in the style of mkcert's
// truststore_*.go, rather than taken from github.com/smallstep/truststore.
// That module was judged and rejected: its code has barely moved since 2023;
// it finds NSS databases only in ~/.pki/nssdb and ~/.mozilla/firefox/*
// (no profiles.ini, no snap or flatpak browsers, and it never creates
// ~/.pki/nssdb, so Chrome started later would not trust the CA); it has no
// user/system scope (Linux and macOS always go through sudo into the system
// store; Windows only the current user's); it reports one boolean instead of
// a per-store status; and it would add howett.net/plist. What we need is a
// few hundred lines of exec calls, each documented beside its call.

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Scope says which trust stores Install and Uninstall change.
type Scope string

const (
	// ScopeUser changes the current user's stores and needs no elevation.
	ScopeUser Scope = "user"
	// ScopeSystem changes machine-wide stores and needs root (Linux, macOS)
	// or an elevated prompt (Windows). On Linux and macOS it also covers the
	// NSS databases of the user who invoked sudo.
	ScopeSystem Scope = "system"
)

// State is whether one trust store trusts the CA.
type State string

const (
	StateTrusted    State = "trusted"
	StateNotTrusted State = "not trusted"
	StateNotPresent State = "store not present"
)

// StoreStatus is the state of the CA in one trust store.
type StoreStatus struct {
	Name    string // what the store is, e.g. "Chrome/Chromium (NSS)"
	Path    string // database, keychain, directory or registry key
	State   State
	Detail  string
	Browser bool  // a browser reads this store; Trusted counts only these
	Scope   Scope // the scope that installs into it
}

// StoreResult is what Install or Uninstall did to one store.
type StoreResult struct {
	Name   string
	Path   string
	Action string // installed, already trusted, removed, not installed, skipped, failed
	Detail string
	Err    error // set when Action is "failed"
}

// Trusted reports whether at least one browser store trusts the CA.
func Trusted(statuses []StoreStatus) bool {
	for _, s := range statuses {
		if s.Browser && s.State == StateTrusted {
			return true
		}
	}
	return false
}

// trustStore is one place browsers look for trusted roots. Each OS file
// lists its stores; each method's comment names the command it runs.
type trustStore interface {
	info() StoreStatus // Name, Path, Browser, Scope
	status(ca *rootCert) (State, string)
	install(ca *rootCert) error
	// uninstall removes ca, reporting whether it was there.
	uninstall(ca *rootCert) (bool, error)
}

// errSkip marks a store that install leaves alone without failing: absent,
// or optional and not possible here. Its message says why.
var errSkip = errors.New("skipped")

// rootCert is a CA certificate file as the trust stores see it.
type rootCert struct {
	cert *x509.Certificate
	path string // absolute path of its PEM file
	pem  []byte
}

func readRootCert(path string) (*rootCert, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cert, err := parseCertPEM(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return &rootCert{cert: cert, path: path, pem: data}, nil
}

// loadRoots reads <dir>/ca.pem and the CAs it replaced.
func loadRoots(dir string) (current *rootCert, retired []*rootCert, err error) {
	current, err = readRootCert(CAPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		err = fmt.Errorf("read ca certificate %s: no CA yet: start the bridge once, or run `orionbridge certs renew`, to create it", CAPath(dir))
	} else if err != nil {
		err = fmt.Errorf("read ca certificate %s: %w", CAPath(dir), err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, retiredPrefix+"*.pem"))
	for _, p := range paths {
		if r, rerr := readRootCert(p); rerr == nil {
			retired = append(retired, r)
		}
	}
	return current, retired, err
}

// loadAllRoots is the current CA in dir and those it replaced, for
// removal: a missing current one is fine while a replaced one is there.
func loadAllRoots(dir string) ([]*rootCert, error) {
	ca, retired, err := loadRoots(dir)
	if err != nil && len(retired) == 0 {
		return nil, err
	}
	if ca != nil {
		return append([]*rootCert{ca}, retired...), nil
	}
	return retired, nil
}

func checkScope(scope Scope) (Scope, error) {
	switch scope {
	case "":
		return ScopeUser, nil
	case ScopeUser, ScopeSystem:
		return scope, nil
	}
	return "", fmt.Errorf("unknown scope %q: use --scope user or --scope system", scope)
}

// Install adds <dir>/ca.pem to the trust stores of scope. Stores that already
// trust it are left alone; CAs this one replaced are removed from them. The
// error joins every store's failure, each saying how to fix it.
func Install(dir string, scope Scope) ([]StoreResult, error) {
	scope, err := checkScope(scope)
	if err != nil {
		return nil, err
	}
	ca, retired, err := loadRoots(dir)
	if err != nil {
		return nil, err
	}
	stores, err := storesFor(scope)
	if err != nil {
		return nil, err
	}
	return installInto(stores, ca, retired)
}

// installInto adds ca to each store that does not trust it yet, and takes
// out of the stores it is in the CAs it replaced.
func installInto(stores []trustStore, ca *rootCert, retired []*rootCert) ([]StoreResult, error) {
	var results []StoreResult
	var errs []error
	for _, st := range stores {
		in := st.info()
		r := StoreResult{Name: in.Name, Path: in.Path}
		if state, _ := st.status(ca); state == StateTrusted {
			r.Action = "already trusted"
		} else {
			err := st.install(ca)
			if err == nil {
				if state, detail := st.status(ca); state != StateTrusted {
					err = fmt.Errorf("installed, but the store does not report the CA as trusted: %s", detail)
				}
			}
			switch {
			case err == nil:
				r.Action = "installed"
			case errors.Is(err, errSkip):
				r.Action, r.Detail = "skipped", strings.TrimPrefix(err.Error(), errSkip.Error()+": ")
			default:
				r.Action, r.Err = "failed", fmt.Errorf("%s: %w", storeLabel(in), err)
				errs = append(errs, r.Err)
			}
		}
		results = append(results, r)
		if r.Action == "failed" || r.Action == "skipped" {
			continue
		}
		// A replaced CA no longer signs anything; drop it while we are here.
		for _, old := range retired {
			if _, err := st.uninstall(old); err != nil && !errors.Is(err, errSkip) {
				errs = append(errs, fmt.Errorf("%s: remove replaced CA %s: %w", storeLabel(in), old.path, err))
			}
		}
	}
	return results, errors.Join(errs...)
}

// Uninstall removes <dir>/ca.pem, and any CA it replaced, from the trust
// stores of scope: exactly the certificates with our fingerprints.
func Uninstall(dir string, scope Scope) ([]StoreResult, error) {
	scope, err := checkScope(scope)
	if err != nil {
		return nil, err
	}
	roots, err := loadAllRoots(dir)
	if err != nil {
		return nil, err
	}
	stores, err := storesFor(scope)
	if err != nil {
		return nil, err
	}
	return uninstallFrom(stores, roots)
}

// uninstallFrom removes each of roots from each store that has it.
func uninstallFrom(stores []trustStore, roots []*rootCert) ([]StoreResult, error) {
	var results []StoreResult
	var errs []error
	for _, st := range stores {
		in := st.info()
		r := StoreResult{Name: in.Name, Path: in.Path, Action: "not installed"}
		for _, root := range roots {
			removed, err := st.uninstall(root)
			switch {
			case errors.Is(err, errSkip):
				r.Action, r.Detail = "skipped", strings.TrimPrefix(err.Error(), errSkip.Error()+": ")
			case err != nil:
				r.Action, r.Err = "failed", fmt.Errorf("%s: %w", storeLabel(in), err)
				errs = append(errs, r.Err)
			case removed && r.Action != "failed":
				r.Action = "removed"
			}
		}
		results = append(results, r)
	}
	return results, errors.Join(errs...)
}

func storeLabel(in StoreStatus) string {
	if in.Path == "" {
		return in.Name
	}
	return in.Name + " (" + in.Path + ")"
}

// CheckTrust reports, for every store this OS knows, whether it trusts
// <dir>/ca.pem.
func CheckTrust(dir string) ([]StoreStatus, error) {
	ca, _, err := loadRoots(dir)
	if err != nil {
		return nil, err
	}
	var out []StoreStatus
	for _, st := range allStores() {
		s := st.info()
		s.State, s.Detail = st.status(ca)
		out = append(out, s)
	}
	return out, nil
}

// InstallMachineTrust trusts the machine CA (MaintainMachine) for every
// user of the computer: the Linux distribution's anchors, the macOS System
// keychain, or Windows' LocalMachine\Root with Firefox's
// ImportEnterpriseRoots policy (HKLM). CAs it replaced are taken out. It
// needs root; Firefox's Certificates.Install policy on Linux is
// browserpolicy's (cli does both).
func InstallMachineTrust(root string) ([]StoreResult, error) {
	if err := checkMachineAdmin(); err != nil {
		return nil, err
	}
	ca, retired, err := loadRoots(MachineCertsDir(root))
	if err != nil {
		return nil, err
	}
	return installInto(machineStores(), ca, retired)
}

// UninstallMachineTrust removes the machine CA, and every CA it replaced,
// from the machine's stores and from every local user's NSS databases,
// where each user's bridge added it (InstallForUser): exactly the
// certificates with its fingerprints, nothing else.
func UninstallMachineTrust(root string) ([]StoreResult, error) {
	if err := checkMachineAdmin(); err != nil {
		return nil, err
	}
	roots, err := loadAllRoots(MachineCertsDir(root))
	if err != nil {
		return nil, err
	}
	return uninstallFrom(append(machineStores(), everyUsersStores()...), roots)
}

// InstallForUser adds the CA in dir (the machine's certs folder) to the
// running user's own stores that the machine-wide trust does not reach:
// the NSS databases of Chrome/Chromium on Linux and of Firefox profiles.
// A user's bridge runs it at start, so a user who never ran anything is
// trusted from their first bridge on. Nothing on Windows, where
// LocalMachine\Root serves every user's browsers.
func InstallForUser(dir string) ([]StoreResult, error) {
	ca, retired, err := loadRoots(dir)
	if err != nil {
		return nil, err
	}
	return installInto(userStoresForMachineCA(), ca, retired)
}

// UninstallForUser removes the CA in dir, and those it replaced, from the
// running user's own stores that InstallForUser adds it to.
func UninstallForUser(dir string) ([]StoreResult, error) {
	roots, err := loadAllRoots(dir)
	if err != nil {
		return nil, err
	}
	return uninstallFrom(userStoresForMachineCA(), roots)
}
