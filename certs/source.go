package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"orionbridge/internal/owneronly"
)

// Options configure a Source. Now defaults to time.Now; Logger to
// slog.Default(). Tests inject the clock.
type Options struct {
	Now        func() time.Time
	Logger     *slog.Logger
	CheckEvery time.Duration // renewal check, default 1h
	WatchEvery time.Duration // file poll, default 1s
	// OnChange, when set, is told of every change to the certificates the
	// Source serves, in order, so a UI need not poll or read the log for
	// them. It runs on the goroutine that made the change (Open*, Run,
	// RenewLeaf) after the Source's lock is released, so it may call
	// Status; it should not block for long.
	OnChange func(Change)
}

// Source holds the certificate the bridge serves and keeps it current: it
// renews a local leaf when due and reloads the pair when its files change,
// so that tls.Config.GetCertificate hands new handshakes the new certificate
// while open connections keep the one they negotiated.
type Source struct {
	dir               string // the user's certificate directory; "" for an external pair or the machine's
	machineDir        string // the machine's certs folder when serving the machine certificate
	why               string // why this certificate is served (OpenServed), for Status
	certPath, keyPath string // the pair served
	now               func() time.Time
	log               *slog.Logger
	checkEvery        time.Duration
	watchEvery        time.Duration
	onChange          func(Change)

	// emitMu keeps OnChange calls in the order of the changes: it is held
	// from taking the pending changes until they are delivered.
	emitMu sync.Mutex

	served atomic.Pointer[tls.Certificate] // read by every handshake, lock-free

	mu        sync.Mutex        // guards everything below
	ca        *authority        // nil for an external pair and the machine certificate
	machineCA *x509.Certificate // the machine's ca.pem; nil unless machineDir is set
	caStamp   pairStamp
	leaf      *x509.Certificate
	leafStamp pairStamp // files the served pair was read from or written to
	badStamp  pairStamp // files that last failed to load
	badSeen   int       // consecutive polls that saw badStamp
	caRenewed time.Time // when the current CA replaced another (needs re-trust); zero if it did not
	renewErr  error     // last failed renewal, reported by Status
	changes   []Change  // made under mu, delivered by emit after it is released
}

func newSource(opts Options) *Source {
	s := &Source{now: opts.Now, log: opts.Logger, checkEvery: opts.CheckEvery, watchEvery: opts.WatchEvery, onChange: opts.OnChange}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.checkEvery <= 0 {
		s.checkEvery = time.Hour
	}
	if s.watchEvery <= 0 {
		s.watchEvery = time.Second
	}
	return s
}

// OpenLocal loads or creates the CA and leaf in dir (= <data_dir>/certs),
// renewing the leaf if due.
func OpenLocal(dir string, opts Options) (*Source, error) {
	if dir == "" {
		return nil, errors.New("open local certificate: empty directory")
	}
	s := newSource(opts)
	s.dir = dir
	s.certPath, s.keyPath = filepath.Join(dir, leafCertName), filepath.Join(dir, leafKeyName)
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	// Another process (the bridge, or a CLI command) may be creating or
	// renewing in dir right now.
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	defer s.emit() // after the unlock below: defers run last first
	s.mu.Lock()
	defer s.mu.Unlock()
	ca, err := loadAuthority(dir)
	switch {
	case errors.Is(err, errNoCA):
		if ca, err = newAuthority(s.now()); err != nil {
			return nil, err
		}
		if err := ca.save(dir); err != nil {
			return nil, err
		}
		s.log.Info("created local CA; browsers trust it only after `orionbridge certs install`",
			"path", CAPath(dir), "fingerprint", Fingerprint(ca.cert), "not_after", ca.cert.NotAfter)
		s.noteCAChangeLocked(CACreated, ca)
	case err != nil:
		return nil, err
	}
	s.ca = ca
	s.caStamp = stampPair(filepath.Join(dir, caCertName), filepath.Join(dir, caKeyName))
	s.noteCARenewalLocked()
	if err := s.maintainLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenExternal serves a certificate/key pair managed elsewhere.
func OpenExternal(certFile, keyFile string, opts Options) (*Source, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("open external certificate: cert_file and key_file must both be set")
	}
	s := newSource(opts)
	s.certPath, s.keyPath = certFile, keyFile
	st := stampPair(certFile, keyFile)
	cert, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLeafLocked(cert, st)
	s.warnExternalLocked()
	return s, nil
}

// GetCertificate is meant for tls.Config.GetCertificate. It returns the
// current certificate; each handshake reads it anew, so renewals reach new
// connections and leave established ones alone.
func (s *Source) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.served.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("certs: no certificate loaded")
}

// Run checks for renewal every CheckEvery and polls the files every
// WatchEvery until ctx is done. It starts no goroutine.
func (s *Source) Run(ctx context.Context) {
	check := time.NewTicker(s.checkEvery)
	defer check.Stop()
	watch := time.NewTicker(s.watchEvery)
	defer watch.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C:
			s.check()
		case <-watch.C:
			s.watch()
		}
	}
}

// RenewLeaf issues a new leaf now and writes it to disk, where a Source
// running in another process picks it up within its WatchEvery.
func (s *Source) RenewLeaf() error {
	if s.dir == "" {
		return fmt.Errorf("renew %s: the certificate is externally managed (cert_file/key_file): renew it with the tool that issued it", s.certPath)
	}
	unlock, err := lockDir(s.dir)
	if err != nil {
		return err
	}
	defer unlock()
	defer s.emit()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshCALocked() // another process may have replaced the CA
	return s.issueLeafLocked(s.now(), "forced renewal")
}

// CAPath returns the absolute path of ca.pem in dir.
func CAPath(dir string) string {
	p := filepath.Join(dir, caCertName)
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// check runs the periodic renewal check.
func (s *Source) check() {
	defer s.emit()
	if s.dir == "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.watchLocked()
		if s.machineDir != "" {
			for _, w := range s.machineWarningsLocked() {
				s.log.Warn(w)
			}
			return
		}
		s.warnExternalLocked()
		return
	}
	// Take the directory lock before s.mu so that waiting for another
	// process never holds up Status.
	unlock, err := lockDir(s.dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		defer unlock()
		err = s.maintainLocked()
	}
	s.renewErr = err
	if s.renewErr != nil {
		s.log.Error("certificate renewal failed; still serving the current certificate",
			"err", s.renewErr, "not_after", s.leaf.NotAfter)
	}
}

// watch polls the files for changes made by another process.
func (s *Source) watch() {
	defer s.emit()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchLocked()
}

// maintainLocked renews the CA when less than a year remains, picks up a
// leaf written by another process and issues a new leaf when the current
// one is missing, unusable, signed by another CA or due.
func (s *Source) maintainLocked() error {
	now := s.now()
	s.refreshCALocked()
	if left := s.ca.cert.NotAfter.Sub(now); left < caRenewBefore {
		if err := s.renewCALocked(now); err != nil {
			return err
		}
	}
	reason := ""
	if st := stampPair(s.certPath, s.keyPath); s.leaf == nil || st != s.leafStamp {
		cert, err := s.loadPair(s.certPath, s.keyPath)
		switch {
		case errors.Is(err, os.ErrNotExist):
			reason = "no leaf certificate yet"
		case err != nil:
			reason = err.Error()
		default:
			old := s.leaf
			s.setLeafLocked(cert, st)
			if old != nil && !old.Equal(cert.Leaf) {
				// Written by another process, seen here before the
				// file watch saw it: the same news as in watchLocked.
				s.noteLeafFromDiskLocked(cert.Leaf)
			}
		}
	}
	if reason == "" {
		reason = leafProblem(s.leaf, s.ca.cert, now)
	}
	if reason == "" {
		return nil
	}
	return s.issueLeafLocked(now, reason)
}

// renewCALocked replaces the CA. Browsers trust the old one only, so this
// is logged as a warning naming the fix, and Status repeats it.
func (s *Source) renewCALocked(now time.Time) error {
	old := s.ca
	next, err := newAuthority(now)
	if err != nil {
		return err
	}
	// Keep the old certificate: Install and Uninstall remove it from the
	// trust stores by its fingerprint.
	retired := filepath.Join(s.dir, retiredPrefix+shortID(old.cert)+".pem")
	if err := writeFileAtomic(retired, old.certPEM, false); err != nil {
		return fmt.Errorf("keep retired ca certificate %s: %w", retired, err)
	}
	if err := next.save(s.dir); err != nil {
		return err
	}
	s.ca = next
	s.caStamp = stampPair(filepath.Join(s.dir, caCertName), filepath.Join(s.dir, caKeyName))
	s.noteCARenewalLocked()
	s.log.Warn("local CA renewed because it expires within a year; browsers will NOT trust the bridge until you run `orionbridge certs install`",
		"old_fingerprint", Fingerprint(old.cert), "old_not_after", old.cert.NotAfter,
		"new_fingerprint", Fingerprint(next.cert), "new_not_after", next.cert.NotAfter, "path", CAPath(s.dir))
	s.noteCAChangeLocked(CARenewed, next)
	return nil
}

// refreshCALocked reloads the CA if another process changed its files. A
// half-written pair fails to load and is retried on the next call.
func (s *Source) refreshCALocked() {
	caCert, caKey := filepath.Join(s.dir, caCertName), filepath.Join(s.dir, caKeyName)
	st := stampPair(caCert, caKey)
	if st == s.caStamp {
		return
	}
	ca, err := loadAuthority(s.dir)
	if err != nil {
		s.log.Debug("ca files changed but do not load yet; will retry", "err", err)
		return
	}
	if !ca.cert.Equal(s.ca.cert) {
		s.log.Info("local CA changed on disk; reloaded", "fingerprint", Fingerprint(ca.cert))
		s.noteCAChangeLocked(CAChangedOnDisk, ca)
	}
	s.ca, s.caStamp = ca, st
	s.noteCARenewalLocked()
}

// noteCARenewalLocked records whether the current CA replaced another, so
// that Status asks for re-trust in every process, not only the one that
// renewed it. A renewed CA is one with a retired predecessor on disk; it was
// created clockSkew after its NotBefore.
func (s *Source) noteCARenewalLocked() {
	s.caRenewed = time.Time{}
	if old, _ := filepath.Glob(filepath.Join(s.dir, retiredPrefix+"*.pem")); len(old) > 0 {
		s.caRenewed = s.ca.cert.NotBefore.Add(clockSkew)
	}
}

// issueLeafLocked signs and writes a new leaf and serves it.
func (s *Source) issueLeafLocked(now time.Time, reason string) error {
	certPEM, keyPEM, err := s.ca.issueLeaf(now)
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("load new leaf: %w", err)
	}
	// Two renames, key first: a watcher polling in between sees the new key
	// with the old certificate, fails the key-pair check and retries.
	if err := writeFileAtomic(s.keyPath, keyPEM, true); err != nil {
		return fmt.Errorf("write leaf key %s: %w", s.keyPath, err)
	}
	if err := writeFileAtomic(s.certPath, certPEM, false); err != nil {
		return fmt.Errorf("write leaf certificate %s: %w", s.certPath, err)
	}
	s.setLeafLocked(&cert, stampPair(s.certPath, s.keyPath))
	s.log.Info("issued leaf certificate", "reason", reason, "serial", serialHex(cert.Leaf),
		"not_after", cert.Leaf.NotAfter, "path", s.certPath)
	s.changes = append(s.changes, Change{Kind: LeafIssued, Reason: reason, Serial: serialHex(cert.Leaf),
		NotAfter: cert.Leaf.NotAfter, Path: s.certPath})
	return nil
}

// watchLocked reloads the served pair when its files changed.
func (s *Source) watchLocked() {
	if s.dir != "" {
		s.refreshCALocked()
	}
	if s.machineDir != "" {
		if err := s.refreshMachineCALocked(); err != nil {
			s.log.Debug("machine CA certificate changed but does not load yet; will retry", "err", err)
		}
	}
	st := stampPair(s.certPath, s.keyPath)
	if st == s.leafStamp {
		return
	}
	cert, err := s.loadPair(s.certPath, s.keyPath)
	if err == nil {
		old := s.leaf
		s.setLeafLocked(cert, st)
		if old == nil || !old.Equal(cert.Leaf) {
			s.noteLeafFromDiskLocked(cert.Leaf)
		}
		if s.dir == "" && s.machineDir == "" {
			s.warnExternalLocked()
		}
		return
	}
	// A writer replaces the key and then the certificate, so a poll in
	// between sees a mismatched pair and simply retries on the next one. The
	// watcher never writes: a local pair that stays broken is replaced by
	// the next renewal check, under the directory lock.
	if st != s.badStamp {
		s.badStamp, s.badSeen = st, 1
		s.log.Debug("certificate files changed but do not load yet; will retry", "err", err)
		return
	}
	if s.badSeen++; s.badSeen == 2 {
		s.log.Warn("certificate files changed but cannot be used; still serving the previous certificate",
			"cert_file", s.certPath, "key_file", s.keyPath, "err", err)
	}
}

// noteLeafFromDiskLocked logs and queues a served leaf that another
// process (or IT, for an external pair) wrote.
func (s *Source) noteLeafFromDiskLocked(leaf *x509.Certificate) {
	s.log.Info("certificate changed on disk; new connections use it",
		"serial", serialHex(leaf), "not_after", leaf.NotAfter, "path", s.certPath)
	s.changes = append(s.changes, Change{Kind: LeafChangedOnDisk, Serial: serialHex(leaf),
		NotAfter: leaf.NotAfter, Path: s.certPath})
}

// noteCAChangeLocked queues a CA change for OnChange.
func (s *Source) noteCAChangeLocked(kind ChangeKind, ca *authority) {
	s.changes = append(s.changes, Change{Kind: kind, Serial: serialHex(ca.cert), NotAfter: ca.cert.NotAfter,
		Fingerprint: Fingerprint(ca.cert), Path: CAPath(s.dir)})
}

// emit delivers the queued changes to OnChange. It runs after s.mu is
// released (deferred before the lock's own defer), so OnChange may call
// Status without deadlocking.
func (s *Source) emit() {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.mu.Lock()
	changes := s.changes
	s.changes = nil
	s.mu.Unlock()
	if s.onChange == nil {
		return
	}
	for _, c := range changes {
		s.onChange(c)
	}
}

func (s *Source) setLeafLocked(cert *tls.Certificate, st pairStamp) {
	s.leaf = cert.Leaf
	s.leafStamp = st
	s.badStamp, s.badSeen = pairStamp{}, 0
	s.served.Store(cert)
}

// warnExternalLocked logs the warnings Status reports for an external pair.
func (s *Source) warnExternalLocked() {
	for _, w := range s.externalWarningsLocked() {
		s.log.Warn(w, "cert_file", s.certPath)
	}
}

// loadPair reads a certificate and key from disk and checks they match.
// The key of a local pair (in our certificate folder) is read only if it
// is ours and private (internal/owneronly); a key that fails the check is
// not served, and the next renewal check replaces it with a new pair. An
// external pair is IT's: its files may be links (certbot's are) owned by
// a deployment account, so they are read as configured.
func (s *Source) loadPair(certPath, keyPath string) (*tls.Certificate, error) {
	if s.machineDir != "" {
		return s.loadMachinePair(certPath, keyPath)
	}
	if s.dir == "" {
		return loadPair(certPath, keyPath)
	}
	keyPEM, err := owneronly.ReadSecret("leaf key", keyPath)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s: %w", certPath, err)
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s: %w", certPath, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s with key %s: %w", certPath, keyPath, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse certificate %s: %w", certPath, err)
		}
	}
	return &cert, nil
}

// loadPair reads a certificate and key from disk and checks they match.
func loadPair(certPath, keyPath string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s with key %s: %w", certPath, keyPath, err)
	}
	if cert.Leaf == nil { // Go fills Leaf since 1.23; keep working if that changes
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse certificate %s: %w", certPath, err)
		}
	}
	return &cert, nil
}

func serialHex(cert *x509.Certificate) string {
	return colonHex(cert.SerialNumber.Bytes())
}
