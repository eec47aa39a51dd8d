//go:build !windows

package certs

// NSS databases: Chrome/Chromium on Linux and Firefox keep trust stores of
// their own, changed with NSS's certutil (not Windows' certutil.exe).

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// nssLocation is an NSS database a browser reads, relative to home.
type nssLocation struct {
	name   string
	dir    string // relative to home
	app    string // relative to home: list the store only if this exists ("" = always)
	create bool   // create the database if missing
}

// nssStores lists the NSS databases of acct: the per-OS fixed locations
// (nssLocations) and every Firefox profile named in a profiles.ini under
// one of firefoxRoots.
func nssStores(acct account) []trustStore {
	var stores []trustStore
	seen := map[string]bool{}
	add := func(name, dir string, create bool) {
		if dir = filepath.Clean(dir); !seen[dir] {
			seen[dir] = true
			stores = append(stores, &nssStore{name: name, dir: dir, create: create, owner: acct})
		}
	}
	for _, loc := range nssLocations {
		if loc.app != "" && !exists(filepath.Join(acct.home, loc.app)) {
			continue
		}
		add(loc.name, filepath.Join(acct.home, loc.dir), loc.create)
	}
	profiles := 0
	for _, root := range firefoxRoots {
		for _, p := range firefoxProfiles(filepath.Join(acct.home, root)) {
			add("Firefox profile "+filepath.Base(p), p, false)
			profiles++
		}
	}
	if profiles == 0 && len(firefoxRoots) > 0 {
		var where []string
		for _, root := range firefoxRoots {
			where = append(where, filepath.Join("~", root))
		}
		stores = append(stores, absentStore{StoreStatus{
			Name: "Firefox", Browser: true, Scope: ScopeUser,
			Detail: "no profiles.ini in " + strings.Join(where, ", ") + ": start Firefox once, then install again",
		}})
	}
	return stores
}

// firefoxProfiles returns the profile directories listed in
// <root>/profiles.ini ([ProfileN] sections, Path= and IsRelative=).
func firefoxProfiles(root string) []string {
	data, err := os.ReadFile(filepath.Join(root, "profiles.ini"))
	if err != nil {
		return nil
	}
	var out []string
	var section, path string
	relative := true
	flush := func() {
		if strings.HasPrefix(section, "Profile") && path != "" {
			p := filepath.FromSlash(path)
			if relative {
				p = filepath.Join(root, p)
			}
			out = append(out, p)
		}
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			flush()
			section, path, relative = line[1:len(line)-1], "", true
		case strings.HasPrefix(line, "Path="):
			path = strings.TrimPrefix(line, "Path=")
		case strings.HasPrefix(line, "IsRelative="):
			relative = strings.TrimPrefix(line, "IsRelative=") != "0"
		}
	}
	flush()
	return out
}

// nickname names the CA in NSS databases; the fingerprint prefix makes it
// unique, so Uninstall removes exactly this CA.
func (r *rootCert) nickname() string { return caName + " " + shortID(r.cert) }

// nssStore is one NSS database (cert9.db, the "sql:" format; the legacy
// cert8.db format is not supported by current NSS and is not handled).
type nssStore struct {
	name   string
	dir    string
	create bool
	owner  account
}

func (n *nssStore) info() StoreStatus {
	return StoreStatus{Name: n.name, Path: n.dir, Browser: true, Scope: ScopeUser}
}

func (n *nssStore) present() bool { return exists(filepath.Join(n.dir, "cert9.db")) }

func (n *nssStore) status(ca *rootCert) (State, string) {
	if !n.present() {
		if n.create {
			return StateNotPresent, "no NSS database yet: `orionbridge certs install` creates it"
		}
		return StateNotPresent, "no cert9.db: start the browser once"
	}
	certutil, err := findCertutil()
	if err != nil {
		return StateNotTrusted, "cannot check: " + err.Error()
	}
	found, trusted, err := n.lookup(certutil, ca)
	switch {
	case err != nil:
		return StateNotTrusted, "cannot check: " + err.Error()
	case !found:
		return StateNotTrusted, "CA not in this database"
	case !trusted:
		return StateNotTrusted, "CA present without the C (trusted CA) flag"
	}
	return StateTrusted, "nickname " + strconv.Quote(ca.nickname()) + ", trust C,,"
}

// lookup finds ca by nickname and checks the database's copy has ca's
// SHA-256 fingerprint and the "Trusted CA" SSL flag.
func (n *nssStore) lookup(certutil string, ca *rootCert) (found, trusted bool, err error) {
	// certutil -L -d sql:DIR -n NICKNAME
	out, err := command(n.cmd(certutil, "-L", "-d", "sql:"+n.dir, "-n", ca.nickname()))
	if err != nil {
		if bytes.Contains(out, []byte("PR_FILE_NOT_FOUND_ERROR")) || bytes.Contains(out, []byte("Could not find cert")) {
			return false, false, nil
		}
		return false, false, err
	}
	fp, sslTrusted := parseCertutilListing(string(out))
	if fp != Fingerprint(ca.cert) {
		return false, false, nil
	}
	return true, sslTrusted, nil
}

// parseCertutilListing reads the SHA-256 fingerprint and whether "Trusted
// CA" appears under "SSL Flags:" in the output of certutil -L -n.
func parseCertutilListing(out string) (fingerprint string, sslTrusted bool) {
	lines := strings.Split(out, "\n")
	inSSL := false
	for i, line := range lines {
		t := strings.TrimSpace(line)
		switch {
		case t == "Fingerprint (SHA-256):" && i+1 < len(lines):
			fingerprint = strings.TrimSpace(lines[i+1])
		case t == "SSL Flags:":
			inSSL = true
		case strings.HasSuffix(t, "Flags:"):
			inSSL = false
		case inSSL && t == "Trusted CA":
			sslTrusted = true
		}
	}
	return fingerprint, sslTrusted
}

func (n *nssStore) install(ca *rootCert) error {
	certutil, err := findCertutil()
	if err != nil {
		return err
	}
	if !n.present() {
		if !n.create {
			return fmt.Errorf("%w: no cert9.db: start the browser once, then install again", errSkip)
		}
		// Chrome/Chromium create ~/.pki/nssdb on first run; creating it now
		// means they trust the CA from that first run on.
		if err := mkdirOwned(n.dir, n.owner); err != nil {
			return err
		}
		// certutil -N -d sql:DIR --empty-password
		if _, err := command(n.cmd(certutil, "-N", "-d", "sql:"+n.dir, "--empty-password")); err != nil {
			return fmt.Errorf("create NSS database: %w", err)
		}
	}
	// certutil -A -d sql:DIR -t C,, -n NICKNAME -i ca.pem
	// (C,, = trusted CA for TLS servers, nothing for mail or code signing.)
	cmd := n.cmd(certutil, "-A", "-d", "sql:"+n.dir, "-t", "C,,", "-n", ca.nickname(), "-i", ca.path)
	if n.owner.other {
		// The invoking user may not be able to read our ca.pem: without -i
		// certutil reads the certificate from standard input.
		cmd = n.cmd(certutil, "-A", "-d", "sql:"+n.dir, "-t", "C,,", "-n", ca.nickname())
		cmd.Stdin = bytes.NewReader(ca.pem)
	}
	if _, err := command(cmd); err != nil {
		return fmt.Errorf("add CA: %w", err)
	}
	return nil
}

func (n *nssStore) uninstall(ca *rootCert) (bool, error) {
	if !n.present() {
		return false, nil
	}
	certutil, err := findCertutil()
	if err != nil {
		return false, err
	}
	found, _, err := n.lookup(certutil, ca)
	if err != nil || !found {
		return false, err
	}
	// certutil -D -d sql:DIR -n NICKNAME
	if _, err := command(n.cmd(certutil, "-D", "-d", "sql:"+n.dir, "-n", ca.nickname())); err != nil {
		return false, fmt.Errorf("delete CA: %w", err)
	}
	return true, nil
}

// cmd runs certutil as the database's owner, so that databases in the home
// of the user who ran sudo do not end up owned by root.
func (n *nssStore) cmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	if n.owner.other {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(n.owner.uid), Gid: uint32(n.owner.gid)}}
		c.Dir = n.owner.home
	}
	return c
}

func findCertutil() (string, error) {
	p, err := lookTool("certutil")
	if err != nil {
		return "", errors.New("certutil not found: " + certutilHelp)
	}
	return p, nil
}
