package certs

// The machine certificate. An elevated install (MSI, pkg, deb/rpm) creates
// one CA for the computer and a leaf it signs, so that every user's bridge
// serves a certificate the machine already trusts and nobody clicks
// anything. Layout, under the machine data folder (internal/machinedir):
//
//	ca/     the CA: ca.pem and ca-key.pem. Root (SYSTEM and Administrators)
//	        only: whoever holds this key could sign a new localhost leaf.
//	certs/  what every user's bridge reads: ca.pem (a copy), leaf.pem and
//	        leaf-key.pem, readable by all users and writable by root only.
//
// MaintainMachine, run as root by the install and then by the renewal task
// (systemd timer, scheduled task, LaunchDaemon), creates and renews them;
// OpenMachine serves them in each user's bridge, watching the files, so a
// renewed leaf reaches new handshakes within WatchEvery. README, "Several
// people on one computer", has the threat model of the readable leaf key.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"orionbridge/internal/owneronly"
)

const (
	machineCAFolder    = "ca"
	machineCertsFolder = "certs"
)

// MachineCADir is the folder holding the machine CA's key.
func MachineCADir(root string) string { return filepath.Join(root, machineCAFolder) }

// MachineCertsDir is the folder every user's bridge reads: ca.pem,
// leaf.pem and leaf-key.pem.
func MachineCertsDir(root string) string { return filepath.Join(root, machineCertsFolder) }

// ErrNoMachineCertificate means no machine certificate is installed: the
// bridge serves the user's own CA instead.
var ErrNoMachineCertificate = errors.New("no machine certificate installed")

// MachineResult is what MaintainMachine did.
type MachineResult struct {
	CACreated  bool
	CARenewed  bool              // the CA was replaced: the stores must trust the new one
	RetiredCA  *x509.Certificate // the CA a renewal replaced, nil otherwise
	LeafIssued bool
	Reason     string // why the leaf was issued
	CA, Leaf   *x509.Certificate
	CertsDir   string
}

// MaintainMachine creates the machine CA and leaf under root when missing,
// replaces the CA when less than a year is left, and issues a new leaf when
// the current one is missing, unusable or due (or always, with force). It
// needs root (SYSTEM or an elevated administrator on Windows).
func MaintainMachine(root string, force bool, opts Options) (MachineResult, error) {
	res := MachineResult{CertsDir: MachineCertsDir(root)}
	if err := checkMachineAdmin(); err != nil {
		return res, err
	}
	s := newSource(opts)
	caDir, certsDir := MachineCADir(root), MachineCertsDir(root)
	if err := prepareMachineDirs(root, caDir, certsDir); err != nil {
		return res, err
	}
	unlock, err := lockDir(caDir)
	if err != nil {
		return res, err
	}
	defer unlock()

	now := s.now()
	ca, err := loadAuthority(caDir)
	switch {
	case errors.Is(err, errNoCA):
		if ca, err = newAuthority(now); err != nil {
			return res, err
		}
		if err := ca.saveWith(caDir, restrictMachineKey); err != nil {
			return res, err
		}
		res.CACreated = true
		s.log.Info("created the machine CA", "path", filepath.Join(certsDir, caCertName), "fingerprint", Fingerprint(ca.cert), "not_after", ca.cert.NotAfter)
	case err != nil:
		return res, err
	case ca.cert.NotAfter.Sub(now) < caRenewBefore:
		old := ca
		if ca, err = newAuthority(now); err != nil {
			return res, err
		}
		// The old certificate stays beside the new one, so that the trust
		// stores can be told to drop it (by fingerprint).
		retired := filepath.Join(certsDir, retiredPrefix+shortID(old.cert)+".pem")
		if err := writeFileAtomic(retired, old.certPEM, false); err != nil {
			return res, fmt.Errorf("keep retired machine CA %s: %w", retired, err)
		}
		if err := ca.saveWith(caDir, restrictMachineKey); err != nil {
			return res, err
		}
		res.CARenewed, res.RetiredCA = true, old.cert
		s.log.Warn("renewed the machine CA because it expires within a year", "old_fingerprint", Fingerprint(old.cert), "new_fingerprint", Fingerprint(ca.cert))
	}
	res.CA = ca.cert
	// The public copy every user reads.
	publicCA := filepath.Join(certsDir, caCertName)
	if data, err := os.ReadFile(publicCA); err != nil || string(data) != string(ca.certPEM) {
		if err := writeFileAtomic(publicCA, ca.certPEM, false); err != nil {
			return res, fmt.Errorf("write machine CA certificate %s: %w", publicCA, err)
		}
	}

	certPath, keyPath := filepath.Join(certsDir, leafCertName), filepath.Join(certsDir, leafKeyName)
	reason := "forced renewal"
	if !force {
		if leaf, err := loadPair(certPath, keyPath); errors.Is(err, os.ErrNotExist) {
			reason = "no leaf certificate yet"
		} else if err != nil {
			reason = err.Error()
		} else if reason = leafProblem(leaf.Leaf, ca.cert, now); reason == "" {
			res.Leaf = leaf.Leaf
			return res, nil
		}
	}
	certPEM, keyPEM, err := ca.issueLeaf(now)
	if err != nil {
		return res, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return res, fmt.Errorf("load new machine leaf: %w", err)
	}
	// Key first, as issueLeafLocked does: a bridge polling in between sees
	// a mismatched pair and retries. Both are readable by every user.
	if err := writeFileAtomic(keyPath, keyPEM, false); err != nil {
		return res, fmt.Errorf("write machine leaf key %s: %w", keyPath, err)
	}
	if err := writeFileAtomic(certPath, certPEM, false); err != nil {
		return res, fmt.Errorf("write machine leaf %s: %w", certPath, err)
	}
	res.LeafIssued, res.Reason, res.Leaf = true, reason, cert.Leaf
	s.log.Info("issued the machine leaf certificate", "reason", reason, "serial", serialHex(cert.Leaf), "not_after", cert.Leaf.NotAfter, "path", certPath)
	return res, nil
}

// RemoveMachine deletes the machine CA and its leaf: the files
// MaintainMachine wrote, and the folders when nothing else is left in
// them. The trust stores are the caller's (UninstallMachineTrust) and must
// be cleaned first, while ca.pem still says what to remove.
func RemoveMachine(root string) ([]string, error) {
	if err := checkMachineAdmin(); err != nil {
		return nil, err
	}
	var done []string
	var errs []error
	for _, dir := range []string{MachineCertsDir(root), MachineCADir(root)} {
		names := []string{caCertName, caKeyName, leafCertName, leafKeyName}
		retired, _ := filepath.Glob(filepath.Join(dir, retiredPrefix+"*.pem"))
		for _, r := range retired {
			names = append(names, filepath.Base(r))
		}
		for _, name := range names {
			p := filepath.Join(dir, name)
			if err := os.Remove(p); err == nil {
				done = append(done, "removed "+p)
			} else if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
			}
		}
		os.Remove(filepath.Join(dir, ".lock"))
		if err := os.Remove(dir); err == nil {
			done = append(done, "removed "+dir)
		}
	}
	return done, errors.Join(errs...)
}

// MachineInstalled reports whether root holds a machine leaf.
func MachineInstalled(root string) bool {
	_, err := os.Lstat(filepath.Join(MachineCertsDir(root), leafCertName))
	return err == nil
}

// OpenMachine serves the machine leaf under root, for a bridge of any
// user. The files must be owned by root (SYSTEM or Administrators) and
// writable by nobody else (owneronly.ReadMachineFile): a leaf another user
// could replace would let them choose what the bridge serves. It returns
// an error wrapping ErrNoMachineCertificate when there is none.
func OpenMachine(root string, opts Options) (*Source, error) {
	dir := MachineCertsDir(root)
	if !MachineInstalled(root) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoMachineCertificate)
	}
	s := newSource(opts)
	s.machineDir = dir
	s.certPath, s.keyPath = filepath.Join(dir, leafCertName), filepath.Join(dir, leafKeyName)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshMachineCALocked(); err != nil {
		return nil, err
	}
	st := stampPair(s.certPath, s.keyPath)
	cert, err := s.loadPair(s.certPath, s.keyPath)
	if err != nil {
		return nil, err
	}
	s.setLeafLocked(cert, st)
	return s, nil
}

// refreshMachineCALocked reads the machine's ca.pem when it changed.
func (s *Source) refreshMachineCALocked() error {
	path := filepath.Join(s.machineDir, caCertName)
	st := pairStamp{stampFile(path)}
	if s.machineCA != nil && st == s.caStamp {
		return nil
	}
	data, err := owneronly.ReadMachineFile("machine CA certificate", path)
	if err != nil {
		return err
	}
	cert, err := parseCertPEM(data)
	if err != nil {
		return fmt.Errorf("parse machine CA certificate %s: %w", path, err)
	}
	s.machineCA, s.caStamp = cert, st
	return nil
}

// loadMachinePair reads the machine leaf and key (owneronly.ReadMachineFile)
// and checks that the machine CA signed the leaf.
func (s *Source) loadMachinePair(certPath, keyPath string) (*tls.Certificate, error) {
	keyPEM, err := owneronly.ReadMachineFile("machine leaf key", keyPath)
	if err != nil {
		return nil, err
	}
	certPEM, err := owneronly.ReadMachineFile("machine leaf certificate", certPath)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load machine certificate %s with key %s: %w", certPath, keyPath, err)
	}
	if err := cert.Leaf.CheckSignatureFrom(s.machineCA); err != nil {
		return nil, fmt.Errorf("machine certificate %s is not signed by the machine CA %s: %w", certPath, filepath.Join(s.machineDir, caCertName), err)
	}
	return &cert, nil
}

// machineWarningsLocked: a machine leaf close to expiry means the renewal
// task is not running; the user cannot renew it, an administrator can.
func (s *Source) machineWarningsLocked() []string {
	if s.leaf == nil || s.leaf.NotAfter.Sub(s.now()) >= expiryWarning {
		return nil
	}
	return []string{expiryText(s.certPath, s.leaf.NotAfter, s.now()) +
		": the machine's renewal task has not renewed it; an administrator can run `orionbridge certs machine renew` (with sudo, or from an elevated prompt)"}
}

// OpenServed opens the certificate a bridge serves: the configured
// cert_file/key_file when set; else the machine certificate under
// machineRoot when an administrator's install made one; else the user's
// own CA in userDir. Status().Why says which, and why.
func OpenServed(certFile, keyFile, userDir, machineRoot string, opts Options) (*Source, error) {
	if certFile != "" || keyFile != "" {
		s, err := OpenExternal(certFile, keyFile, opts)
		if err == nil {
			s.why = "cert_file and key_file are set in the configuration"
		}
		return s, err
	}
	why := ""
	s, err := OpenMachine(machineRoot, opts)
	switch {
	case err == nil:
		s.why = "installed for every user of this computer by an administrator's install"
		return s, nil
	case errors.Is(err, ErrNoMachineCertificate):
		why = "no machine certificate in " + MachineCertsDir(machineRoot) + " (installed without administrator rights, or from the tarball)"
	default:
		why = "the machine certificate cannot be used (" + err.Error() + ")"
		if opts.Logger != nil {
			opts.Logger.Warn("the machine certificate cannot be used; serving this user's own CA instead", "err", err)
		}
	}
	if s, err = OpenLocal(userDir, opts); err != nil {
		return nil, err
	}
	s.why = why
	return s, nil
}

// CADir is the folder holding the ca.pem browsers must trust for the
// served certificate ("" for an external pair): the user's certificate
// folder or the machine's.
func (s *Source) CADir() string {
	if s.machineDir != "" {
		return s.machineDir
	}
	return s.dir
}

// machineStatusLocked fills st for the machine certificate.
func (s *Source) machineStatusLocked(st *Status) {
	st.Kind = KindMachine
	st.CAPath = filepath.Join(s.machineDir, caCertName)
	if s.machineCA != nil {
		st.CAFingerprint, st.CANotAfter = Fingerprint(s.machineCA), s.machineCA.NotAfter
	}
	st.Warnings = s.machineWarningsLocked()
}
