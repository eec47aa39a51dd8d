package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net"
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var oidNameConstraints = asn1.ObjectIdentifier{2, 5, 29, 30}

func TestCAProperties(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	clock := newClock()
	openLocal(t, dir, clock)
	ca := readCert(t, filepath.Join(dir, caCertName))
	host, _ := os.Hostname()

	var ncCritical bool
	for _, ext := range ca.Extensions {
		if ext.Id.Equal(oidNameConstraints) {
			ncCritical = ext.Critical
		}
	}
	ips := func(nets []*net.IPNet) []string {
		var out []string
		for _, n := range nets {
			out = append(out, n.String())
		}
		return out
	}
	pub, _ := ca.PublicKey.(*ecdsa.PublicKey)

	tests := []struct {
		name string
		ok   bool
	}{
		{"ECDSA P-256 key", pub != nil && pub.Curve == elliptic.P256()},
		{"IsCA with basic constraints", ca.IsCA && ca.BasicConstraintsValid},
		{"path length 0", ca.MaxPathLen == 0 && ca.MaxPathLenZero},
		{"key usage CertSign|CRLSign", ca.KeyUsage == x509.KeyUsageCertSign|x509.KeyUsageCRLSign},
		{"name constraints extension critical", ncCritical && ca.PermittedDNSDomainsCritical},
		{"permitted DNS exactly localhost", slices.Equal(ca.PermittedDNSDomains, []string{"localhost"})},
		{"permitted IPs exactly 127.0.0.1/32 ::1/128", slices.Equal(ips(ca.PermittedIPRanges), []string{"127.0.0.1/32", "::1/128"})},
		{"nothing else constrained or excluded", len(ca.ExcludedDNSDomains)+len(ca.ExcludedIPRanges)+len(ca.PermittedEmailAddresses)+len(ca.PermittedURIDomains) == 0},
		{"valid 10 years", ca.NotAfter.Equal(ca.NotBefore.AddDate(10, 0, 0))},
		{"NotBefore slightly in the past", ca.NotBefore.Before(clock.Now()) && clock.Now().Sub(ca.NotBefore) <= 2*time.Hour},
		{"O is the product CA name", slices.Equal(ca.Subject.Organization, []string{"Orion Bridge Local CA"})},
		{"CN names product, host and date", strings.HasPrefix(ca.Subject.CommonName, "Orion Bridge Local CA (") &&
			strings.Contains(ca.Subject.CommonName, host) && strings.Contains(ca.Subject.CommonName, clock.Now().Format(time.DateOnly))},
		{"self-signed", ca.CheckSignatureFrom(ca) == nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("CA property %q does not hold: %+v", tt.name, ca.Subject)
			}
		})
	}
}

func TestLeafProperties(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	openLocal(t, dir, clock)
	leaf := readCert(t, filepath.Join(dir, leafCertName))
	ca := readCert(t, filepath.Join(dir, caCertName))
	pub, _ := leaf.PublicKey.(*ecdsa.PublicKey)
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}

	tests := []struct {
		name string
		ok   bool
	}{
		{"ECDSA P-256 key", pub != nil && pub.Curve == elliptic.P256()},
		{"DNS SAN exactly localhost", slices.Equal(leaf.DNSNames, []string{"localhost"})},
		{"IP SANs exactly 127.0.0.1 ::1", slices.Equal(ips, []string{"127.0.0.1", "::1"})},
		{"EKU exactly serverAuth", slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth})},
		{"key usage DigitalSignature", leaf.KeyUsage == x509.KeyUsageDigitalSignature},
		{"not a CA", !leaf.IsCA},
		{"valid at most 397 days", leaf.NotAfter.Sub(leaf.NotBefore) <= 397*24*time.Hour},
		{"valid more than 390 days", leaf.NotAfter.Sub(leaf.NotBefore) > 390*24*time.Hour},
		{"NotBefore in the past for clock skew", leaf.NotBefore.Before(clock.Now().Add(-30 * time.Minute))},
		{"signed by the CA", leaf.CheckSignatureFrom(ca) == nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("leaf property %q does not hold", tt.name)
			}
		})
	}
}

func TestFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows uses ACLs, not mode bits")
	}
	dir := filepath.Join(t.TempDir(), "certs")
	openLocal(t, dir, newClock())
	tests := []struct {
		path string
		mode os.FileMode
	}{
		{dir, os.ModeDir | 0o700},
		{filepath.Join(dir, caKeyName), 0o600},
		{filepath.Join(dir, leafKeyName), 0o600},
		{filepath.Join(dir, caCertName), 0o644},
		{filepath.Join(dir, leafCertName), 0o644},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			fi, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != tt.mode {
				t.Errorf("mode of %s = %v, want %v", tt.path, fi.Mode(), tt.mode)
			}
		})
	}
	// No temp file is left behind by the atomic writes.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover temp file %s", e.Name())
		}
	}
}

func TestEachDirHasItsOwnCA(t *testing.T) {
	clock := newClock()
	a, _ := openLocal(t, t.TempDir(), clock)
	b, _ := openLocal(t, t.TempDir(), clock)
	if a.Status().CAFingerprint == b.Status().CAFingerprint {
		t.Fatal("two directories share one CA")
	}
	// Same host, same day: the subjects must still differ (NSS keys nicknames by subject).
	if a.ca.cert.Subject.String() == b.ca.cert.Subject.String() {
		t.Fatalf("two CAs share the subject %s", a.ca.cert.Subject)
	}
}

func TestReuseOnSecondOpen(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	first, _ := openLocal(t, dir, clock)
	leafBefore, _ := os.ReadFile(filepath.Join(dir, leafCertName))
	clock.Add(24 * time.Hour)
	second, logs := openLocal(t, dir, clock)
	a, b := first.Status(), second.Status()
	if a.CAFingerprint != b.CAFingerprint || a.LeafSerial != b.LeafSerial {
		t.Fatalf("second open replaced the certificates: %+v vs %+v", a, b)
	}
	leafAfter, _ := os.ReadFile(filepath.Join(dir, leafCertName))
	if !bytes.Equal(leafBefore, leafAfter) {
		t.Fatal("second open rewrote leaf.pem")
	}
	if strings.Contains(logs.String(), "issued leaf") {
		t.Fatalf("second open issued a leaf: %s", logs)
	}
}

func TestBrokenCAIsAnErrorNotReplaced(t *testing.T) {
	dir := t.TempDir()
	openLocal(t, dir, newClock())
	if err := os.Remove(filepath.Join(dir, caKeyName)); err != nil {
		t.Fatal(err)
	}
	_, err := OpenLocal(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "ca-key.pem") || !strings.Contains(err.Error(), "certs install") {
		t.Fatalf("OpenLocal with the CA key missing: err = %v, want an actionable error naming ca-key.pem", err)
	}
}

// TestNameConstraints: the CA vouches for loopback names only, even when
// its key signs something else.
func TestNameConstraints(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	openLocal(t, dir, clock)
	ca, err := loadAuthority(dir)
	if err != nil {
		t.Fatal(err)
	}
	leaf := readCert(t, filepath.Join(dir, leafCertName))
	opts := x509.VerifyOptions{Roots: poolOf(ca.cert), CurrentTime: clock.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}

	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		t.Run("leaf valid for "+name, func(t *testing.T) {
			o := opts
			o.DNSName = name
			if _, err := leaf.Verify(o); err != nil {
				t.Errorf("Verify(%s): %v", name, err)
			}
		})
	}

	// Certificates for other names, signed by the same CA key.
	forged := []struct {
		name string
		dns  []string
		ips  []net.IP
	}{
		{"example.com", []string{"example.com"}, nil},
		{"localhost.example.com", []string{"localhost.example.com"}, nil},
		{"127.0.0.2", nil, []net.IP{net.ParseIP("127.0.0.2")}},
		{"192.168.1.1", nil, []net.IP{net.ParseIP("192.168.1.1")}},
		{"localhost plus example.com", []string{"localhost", "example.com"}, nil},
	}
	for _, f := range forged {
		t.Run("rejects "+f.name, func(t *testing.T) {
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(42),
				Subject:      pkix.Name{CommonName: f.name},
				DNSNames:     f.dns,
				IPAddresses:  f.ips,
				NotBefore:    clock.Now().Add(-time.Hour),
				NotAfter:     clock.Now().Add(24 * time.Hour),
				KeyUsage:     x509.KeyUsageDigitalSignature,
				ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
			if err != nil {
				t.Fatal(err)
			}
			cert, _ := x509.ParseCertificate(der)
			_, err = cert.Verify(opts) // no DNSName: only the chain and its constraints
			var inv x509.CertificateInvalidError
			if !errors.As(err, &inv) || inv.Reason != x509.CANotAuthorizedForThisName {
				t.Fatalf("Verify of a certificate for %s = %v, want CANotAuthorizedForThisName", f.name, err)
			}
		})
	}
}

func TestRenewDue(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotBefore: start, NotAfter: start.Add(397 * 24 * time.Hour)}
	short := &x509.Certificate{NotBefore: start, NotAfter: start.Add(60 * 24 * time.Hour)}
	tests := []struct {
		name string
		cert *x509.Certificate
		age  time.Duration
		due  bool
	}{
		{"new", leaf, 0, false},
		{"200 days old", leaf, 200 * 24 * time.Hour, false},
		{"just over two thirds", leaf, 265 * 24 * time.Hour, true},
		{"expired", leaf, 400 * 24 * time.Hour, true},
		{"60-day cert with 40 days left", short, 20 * 24 * time.Hour, false},
		{"60-day cert with 29 days left", short, 31 * 24 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renewDue(tt.cert, start.Add(tt.age)); got != tt.due {
				t.Errorf("renewDue at %v = %v, want %v", tt.age, got, tt.due)
			}
		})
	}
}

// TestRenewalSwapsLiveListener: a real listener serving through
// GetCertificate keeps open connections and hands new ones the new leaf.
func TestRenewalSwapsLiveListener(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	s, logs := openLocal(t, dir, clock)
	roots := poolOf(readCert(t, filepath.Join(dir, caCertName)))
	addr := serveEcho(t, s)

	before := dial(t, addr, roots, clock)
	echo(t, before, "hello")
	oldSerial := peerSerial(before)

	clock.Add(300 * 24 * time.Hour) // less than a third of 397 days left
	run(t, s)
	testutil.WaitFor(t, "the hourly check to renew the leaf", func() bool { return s.Status().LeafSerial != oldSerial })

	echo(t, before, "still open")
	if peerSerial(before) != oldSerial {
		t.Fatal("open connection changed certificate")
	}
	after := dial(t, addr, roots, clock)
	echo(t, after, "new")
	if got, want := peerSerial(after), s.Status().LeafSerial; got != want || got == oldSerial {
		t.Fatalf("new handshake saw serial %s, want the renewed %s (old %s)", got, want, oldSerial)
	}
	onDisk := readCert(t, filepath.Join(dir, leafCertName))
	if serialHex(onDisk) != peerSerial(after) {
		t.Fatal("renewed leaf not written to leaf.pem")
	}
	if !strings.Contains(logs.String(), "due for renewal") {
		t.Errorf("renewal not logged with its reason:\n%s", logs)
	}
}

// TestForcedRenewalFromAnotherSource: `orionbridge certs renew` in another
// process is picked up by the running bridge through its file watch.
func TestForcedRenewalFromAnotherSource(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	bridge, _ := openLocal(t, dir, clock)
	roots := poolOf(readCert(t, filepath.Join(dir, caCertName)))
	addr := serveEcho(t, bridge)
	old := bridge.Status().LeafSerial
	run(t, bridge)

	cli, _ := openLocal(t, dir, clock)
	if err := cli.RenewLeaf(); err != nil {
		t.Fatal(err)
	}
	renewed := cli.Status().LeafSerial
	if renewed == old {
		t.Fatal("RenewLeaf kept the serial")
	}
	testutil.WaitFor(t, "the running source to pick up the renewed files", func() bool { return servedSerial(t, bridge) == renewed })
	if got := peerSerial(dial(t, addr, roots, clock)); got != renewed {
		t.Fatalf("handshake after pick-up saw %s, want %s", got, renewed)
	}
}

func TestUnusableLeafFilesAreReplaced(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	s, _ := openLocal(t, dir, clock)
	old := s.Status().LeafSerial
	run(t, s)
	if err := os.WriteFile(filepath.Join(dir, leafCertName), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "a new leaf to replace the broken file", func() bool {
		c, err := loadPair(filepath.Join(dir, leafCertName), filepath.Join(dir, leafKeyName))
		return err == nil && serialHex(c.Leaf) != old && servedSerial(t, s) == serialHex(c.Leaf)
	})
}

func TestCARenewal(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	s, logs := openLocal(t, dir, clock)
	oldCA := readCert(t, filepath.Join(dir, caCertName))
	oldFP := s.Status().CAFingerprint

	clock.Add(9*365*24*time.Hour + 60*24*time.Hour) // under a year left
	run(t, s)
	testutil.WaitFor(t, "the CA to be renewed", func() bool { return s.Status().CAFingerprint != oldFP })

	st := s.Status()
	newCA := readCert(t, filepath.Join(dir, caCertName))
	if Fingerprint(newCA) != st.CAFingerprint || !newCA.NotAfter.After(oldCA.NotAfter) {
		t.Fatalf("ca.pem not replaced by a later CA: %s", st.CAFingerprint)
	}
	retired := filepath.Join(dir, retiredPrefix+shortID(oldCA)+".pem")
	if !readCert(t, retired).Equal(oldCA) {
		t.Fatal("old CA not kept for uninstall")
	}
	testutil.WaitFor(t, "a leaf from the new CA", func() bool {
		leaf := readCert(t, filepath.Join(dir, leafCertName))
		c, _ := s.GetCertificate(nil)
		return leaf.CheckSignatureFrom(newCA) == nil && c.Leaf.Equal(leaf)
	})
	if !containsAny(st.Warnings, "orionbridge certs install") {
		t.Errorf("Status warnings %q do not ask for re-trust", st.Warnings)
	}
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "local CA renewed") {
		t.Errorf("CA renewal not logged as a warning:\n%s", l)
	}

	// A later open (another process) keeps the renewed CA and also asks for
	// re-trust, for a month.
	again, _ := openLocal(t, dir, clock)
	if again.Status().CAFingerprint != st.CAFingerprint {
		t.Fatal("reopen replaced the renewed CA")
	}
	if w := again.Status().Warnings; !containsAny(w, "orionbridge certs install") {
		t.Errorf("another Source on the renewed dir does not ask for re-trust: %q", w)
	}
	clock.Add(31 * 24 * time.Hour)
	if w := again.Status().Warnings; containsAny(w, "orionbridge certs install") {
		t.Errorf("re-trust warning still shown after a month: %q", w)
	}
}

func TestLeafNeverOutlivesCA(t *testing.T) {
	clock := newClock()
	ca, err := newAuthority(clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := ca.issueLeaf(clock.Now().Add(9*365*24*time.Hour + 300*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := parseCertPEM(certPEM)
	if leaf.NotAfter.After(ca.cert.NotAfter) {
		t.Fatalf("leaf NotAfter %v after CA NotAfter %v", leaf.NotAfter, ca.cert.NotAfter)
	}
}

// writePair writes a CA-signed leaf issued at issuedAt to dir, as an
// external tool would, and returns its serial.
func writePair(t *testing.T, ca *authority, dir string, issuedAt time.Time) string {
	t.Helper()
	certPEM, keyPEM, err := ca.issueLeaf(issuedAt)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "server.key"), keyPEM, true); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "server.crt"), certPEM, false); err != nil {
		t.Fatal(err)
	}
	c, _ := parseCertPEM(certPEM)
	return serialHex(c)
}

func TestExternalPair(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	ca, err := newAuthority(clock.Now().Add(-400 * 24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	first := writePair(t, ca, dir, clock.Now())

	logs := &testutil.LockedBuffer{}
	s, err := OpenExternal(certFile, keyFile, testOptions(clock, logs))
	if err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	if !st.External || st.CAPath != "" || st.LeafSerial != first || len(st.Warnings) != 0 {
		t.Fatalf("fresh external status = %+v", st)
	}
	addr := serveEcho(t, s)
	roots := poolOf(ca.cert)
	if got := peerSerial(dial(t, addr, roots, clock)); got != first {
		t.Fatalf("served %s, want %s", got, first)
	}
	run(t, s)

	// The owner replaces the files with a certificate 20 days from expiry.
	second := writePair(t, ca, dir, clock.Now().Add(-(397-20)*24*time.Hour))
	testutil.WaitFor(t, "the external pair to be reloaded", func() bool { return servedSerial(t, s) == second })
	if got := peerSerial(dial(t, addr, roots, clock)); got != second {
		t.Fatalf("served %s after reload, want %s", got, second)
	}
	st = s.Status()
	if !containsAny(st.Warnings, "expires on") || !containsAny(st.Warnings, "cert_file") {
		t.Fatalf("no expiry warning within 30 days: %q", st.Warnings)
	}
	testutil.WaitFor(t, "the expiry warning in the log", func() bool { return strings.Contains(logs.String(), "expires on") })
	if err := s.RenewLeaf(); err == nil || !strings.Contains(err.Error(), "externally managed") {
		t.Fatalf("RenewLeaf on an external pair: %v", err)
	}

	// Broken files keep the last good certificate in service.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the unusable files to be reported", func() bool { return strings.Contains(logs.String(), "cannot be used") })
	if servedSerial(t, s) != second {
		t.Fatal("broken files replaced the served certificate")
	}
}

func TestOpenExternalErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, cert, key, want string }{
		{"unset", "", "", "cert_file and key_file"},
		{"missing files", filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key"), "a.crt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenExternal(tt.cert, tt.key, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want mention of %q", err, tt.want)
			}
		})
	}
}

func TestWriteStatus(t *testing.T) {
	dir := t.TempDir()
	s, _ := openLocal(t, dir, newClock())
	st := s.Status()
	stores := []StoreStatus{
		{Name: "Chrome/Chromium (NSS)", Path: "/home/u/.pki/nssdb", State: StateNotTrusted, Detail: "CA not in this database", Browser: true},
		{Name: "Firefox", State: StateNotPresent, Detail: "no profiles.ini", Browser: true},
	}
	var out bytes.Buffer
	WriteStatus(&out, st, stores)
	for _, want := range []string{st.CAFingerprint, CAPath(dir), "Chrome/Chromium (NSS)", "not trusted", "store not present", "orionbridge certs install", "NO browser"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, out.String())
		}
	}
	stores[0].State = StateTrusted
	out.Reset()
	WriteStatus(&out, st, stores)
	if strings.Contains(out.String(), "NO browser") || !Trusted(stores) {
		t.Errorf("trusted store not reflected:\n%s", out.String())
	}
}

func TestTrusted(t *testing.T) {
	tests := []struct {
		name   string
		stores []StoreStatus
		want   bool
	}{
		{"none", nil, false},
		{"browser store trusted", []StoreStatus{{State: StateTrusted, Browser: true}}, true},
		{"only a non-browser store trusted", []StoreStatus{{State: StateTrusted}, {State: StateNotTrusted, Browser: true}}, false},
		{"browser stores absent", []StoreStatus{{State: StateNotPresent, Browser: true}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Trusted(tt.stores); got != tt.want {
				t.Errorf("Trusted = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCAPathIsAbsolute(t *testing.T) {
	if p := CAPath("rel/certs"); !filepath.IsAbs(p) || filepath.Base(p) != "ca.pem" {
		t.Fatalf("CAPath = %s", p)
	}
}

// TestConcurrentOpenSharesOneCA: processes starting together (the bridge
// and a CLI command on first run) end up with one CA, not a torn pair.
func TestConcurrentOpenSharesOneCA(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	const n = 4
	fps := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := OpenLocal(dir, Options{Now: clock.Now})
			if err != nil {
				errs <- err
				return
			}
			fps <- s.Status().CAFingerprint
		}()
	}
	var got []string
	for range n {
		select {
		case err := <-errs:
			t.Fatal(err)
		case fp := <-fps:
			got = append(got, fp)
		}
	}
	for _, fp := range got[1:] {
		if fp != got[0] {
			t.Fatalf("concurrent opens created different CAs: %q", got)
		}
	}
	if _, err := loadAuthority(dir); err != nil {
		t.Fatalf("CA on disk after concurrent opens: %v", err)
	}
}

func TestStaleLockIsBroken(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, ".lock")
	if err := os.WriteFile(lock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(lock, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLocal(dir, Options{}); err != nil {
		t.Fatalf("OpenLocal with a stale lock: %v", err)
	}
	if _, err := os.Stat(lock); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("lock left behind")
	}
}
