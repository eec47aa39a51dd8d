package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"orionbridge/internal/owneronly"
	"orionbridge/internal/replacefile"
)

// Names of the files kept in the certificate directory (<data_dir>/certs).
const (
	caCertName   = "ca.pem"
	caKeyName    = "ca-key.pem"
	leafCertName = "leaf.pem"
	leafKeyName  = "leaf-key.pem"
	// A renewed CA leaves its certificate behind as ca-retired-<id>.pem so
	// that Install and Uninstall can still find it in the trust stores.
	retiredPrefix = "ca-retired-"
)

const (
	caName = "Orion Bridge Local CA"

	// caYears is the CA's lifetime. Browsers apply no lifetime limit to
	// user-installed roots; ten years keeps re-trust prompts rare.
	caYears = 10
	// caRenewBefore: a CA with less than a year left is replaced. That needs
	// the user to trust the new one, so it is done early and loudly.
	caRenewBefore = 365 * 24 * time.Hour

	// leafLifetime is 397 days (NotAfter-NotBefore). Apple rejects TLS server
	// certificates valid for more than 825 days even under user-added roots
	// (https://support.apple.com/HT210176) and more than 398 days under
	// public roots (https://support.apple.com/HT211025); the CA/Browser Forum
	// Baseline Requirements 6.3.2 say SHOULD NOT exceed 397 and MUST NOT
	// exceed 398 days. 397 keeps us inside every one of those rules.
	leafLifetime = 397 * 24 * time.Hour
	// A leaf is renewed when less than a third of its lifetime or fewer
	// than leafMinRemaining are left.
	leafMinRemaining = 30 * 24 * time.Hour

	// clockSkew backdates NotBefore so a client whose clock runs a little
	// behind ours does not reject a certificate issued a moment ago.
	clockSkew = time.Hour
)

// localNames are the only names a leaf carries and the only names the CA's
// name constraints permit.
var (
	localDNS = []string{"localhost"}
	localIPs = []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
)

// authority is the local CA: its certificate and private key.
type authority struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

// newAuthority creates a CA unique to this install. Its name constraints are
// critical and allow only localhost, 127.0.0.1 and ::1, so even a stolen CA
// key cannot be used to impersonate any other site.
func newAuthority(now time.Time) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ca key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown host"
	}
	notBefore := now.Add(-clockSkew)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         fmt.Sprintf("%s (%s, %s)", caName, host, now.Format(time.DateOnly)),
			Organization:       []string{caName},
			OrganizationalUnit: []string{host},
			// A unique subject per CA: NSS files every certificate with one
			// subject under one nickname, so two CAs created on the same host
			// and day would otherwise collide in a browser's database.
			SerialNumber: serial.Text(16),
		},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(caYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		// RFC 5280 4.2.1.10: marked critical so that a client that does not
		// understand name constraints rejects the chain instead of ignoring them.
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         localDNS,
		PermittedIPRanges: []*net.IPNet{
			{IP: net.IPv4(127, 0, 0, 1).To4(), Mask: net.CIDRMask(32, 32)},
			{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new ca certificate: %w", err)
	}
	return &authority{cert: cert, certPEM: encodePEM("CERTIFICATE", der), key: key}, nil
}

// issueLeaf signs a new localhost certificate. It never outlives the CA.
func (a *authority) issueLeaf(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate leaf key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	notBefore := now.Add(-clockSkew)
	notAfter := notBefore.Add(leafLifetime)
	if notAfter.After(a.cert.NotAfter) {
		notAfter = a.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"Orion Bridge"}},
		DNSNames:              localDNS,
		IPAddresses:           localIPs,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign leaf certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode leaf key: %w", err)
	}
	return encodePEM("CERTIFICATE", der), encodePEM("PRIVATE KEY", keyDER), nil
}

// save writes the CA into dir: the key first and owner-only, then the
// certificate, each atomically.
func (a *authority) save(dir string) error { return a.saveWith(dir, restrictFile) }

// saveWith is save with restrict making the key private before any byte
// of it is written (the machine CA's key is for root and administrators).
func (a *authority) saveWith(dir string, restrict func(string) error) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(a.key)
	if err != nil {
		return fmt.Errorf("encode ca key: %w", err)
	}
	keyPath := filepath.Join(dir, caKeyName)
	if err := replacefile.WriteFileWith(keyPath, encodePEM("PRIVATE KEY", keyDER), 0o600, restrict); err != nil {
		return fmt.Errorf("write ca key %s: %w", keyPath, err)
	}
	certPath := filepath.Join(dir, caCertName)
	if err := writeFileAtomic(certPath, a.certPEM, false); err != nil {
		return fmt.Errorf("write ca certificate %s: %w", certPath, err)
	}
	return nil
}

// errNoCA reports that neither CA file exists, so a new CA may be created.
var errNoCA = errors.New("no ca in directory")

// loadAuthority reads the CA from dir. It returns errNoCA when both files
// are missing; any other problem is an error, because silently replacing a
// trusted CA would break every browser that trusts it.
func loadAuthority(dir string) (*authority, error) {
	certPath, keyPath := filepath.Join(dir, caCertName), filepath.Join(dir, caKeyName)
	certPEM, certErr := os.ReadFile(certPath)
	// The key only if it is ours and private: a key someone else wrote, or
	// could read, is known to them.
	keyPEM, keyErr := owneronly.ReadSecret("ca key", keyPath)
	if oe, ok := errors.AsType[*owneronly.Error](keyErr); ok {
		return nil, oe
	}
	if errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist) {
		return nil, errNoCA
	}
	fix := fmt.Sprintf("delete %s and %s to create a new CA, then run `orionbridge certs install`", certPath, keyPath)
	if certErr != nil {
		return nil, fmt.Errorf("read ca certificate %s: %w (%s)", certPath, certErr, fix)
	}
	if keyErr != nil {
		return nil, fmt.Errorf("read ca key %s: %w (%s)", keyPath, keyErr, fix)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parse ca certificate %s: %w (%s)", certPath, err, fix)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse ca key %s: %w (%s)", keyPath, err, fix)
	}
	ecKey, ok := key.(*ecdsa.PrivateKey)
	if !ok || !ecKey.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("ca key %s does not match certificate %s (%s)", keyPath, certPath, fix)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("ca certificate %s is not a CA (%s)", certPath, fix)
	}
	return &authority{cert: cert, certPEM: certPEM, key: ecKey}, nil
}

// leafProblem says why leaf must be replaced, or "" when it may be served.
func leafProblem(leaf, ca *x509.Certificate, now time.Time) string {
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return "not signed by the current CA"
	}
	if !hasLocalNames(leaf) {
		return "names differ from localhost, 127.0.0.1, ::1"
	}
	if renewDue(leaf, now) {
		return "due for renewal"
	}
	return ""
}

// renewDue reports whether less than a third of cert's lifetime, or fewer
// than 30 days, remain.
func renewDue(cert *x509.Certificate, now time.Time) bool {
	left := cert.NotAfter.Sub(now)
	return left < cert.NotAfter.Sub(cert.NotBefore)/3 || left < leafMinRemaining
}

func hasLocalNames(cert *x509.Certificate) bool {
	if len(cert.DNSNames) != len(localDNS) || len(cert.IPAddresses) != len(localIPs) {
		return false
	}
	for i, name := range localDNS {
		if cert.DNSNames[i] != name {
			return false
		}
	}
	for i, ip := range localIPs {
		if !cert.IPAddresses[i].Equal(ip) {
			return false
		}
	}
	return true
}

// Fingerprint is the SHA-256 of cert's DER encoding in upper-case hex with
// colons, the form browsers and certutil print.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return colonHex(sum[:])
}

// shortID is the first 8 bytes of the SHA-256 fingerprint in hex. Trust-store
// nicknames and file names carry it so Uninstall finds exactly our CA.
func shortID(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:8]))
}

func colonHex(b []byte) string {
	s := strings.ToUpper(hex.EncodeToString(b))
	var out strings.Builder
	for i := 0; i < len(s); i += 2 {
		if i > 0 {
			out.WriteByte(':')
		}
		out.WriteString(s[i : i+2])
	}
	return out.String()
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return serial, nil
}

func encodePEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func parseCertPEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseKeyPEM(data []byte) (any, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	switch block.Type {
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	}
	return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
}
