package browserpolicy

// The machine CA in the places that certs cannot reach by itself (issue 15,
// point 3): Firefox's policies.json on Linux, whose Certificates.Install
// makes every Firefox profile of every user trust the CA, and on macOS a
// configuration profile holding the CA as a trusted root, since an
// unattended pkg cannot add trust there. certs installs the CA into the
// system stores and calls these.

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Firefox's certificate policy, exactly as its documentation spells it:
// policies.Certificates.Install, an array of paths of certificates (PEM or
// DER) that Firefox installs with the trust string "CT,CT," (websites and
// mail) into every profile as the profile starts; a full path is used as
// is, a bare file name is looked up in /usr/lib/mozilla/certificates and
// ~/.mozilla/certificates:
// https://mozilla.github.io/policy-templates/#certificates--install
// (the same text in github.com/mozilla/policy-templates, docs/index.md,
// "Certificates | Install", Firefox 64+; full paths since Firefox 65).
//
// Firefox reads the file itself, as whichever user runs it, so the file and
// every folder above it must be readable by all users: the machine CA's
// certificate, /var/lib/orionbridge/certs/ca.pem, is (mode 0644 under
// 0755 folders; only its key is root's alone). InstallCertificate checks
// that, and that only root can change the file: whoever could replace it
// would have every Firefox on the machine trust their own CA.
const (
	FirefoxCertificates = "Certificates"
	FirefoxInstall      = "Install"
)

// parseCA reads the first certificate of a PEM file and checks that it is
// one Orion Bridge would ask browsers to trust as a root: a CA whose
// critical name constraints allow only localhost and loopback addresses.
// Trusting anything wider would let whoever holds its key vouch for any
// site, so a wrong file (another CA, a leaf) is refused here, not deployed.
func parseCA(what string, data []byte) (*x509.Certificate, error) {
	fix := "pass Orion Bridge's CA certificate (ca.pem; `orionbridge certs path` prints its path)"
	var block *pem.Block
	for rest := data; ; {
		block, rest = pem.Decode(rest)
		if block == nil || block.Type == "CERTIFICATE" {
			break
		}
	}
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM certificate (-----BEGIN CERTIFICATE-----) in it; %s", what, fix)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; %s", what, err, fix)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("%s: %q is not a CA certificate (a leaf?); %s", what, cert.Subject.CommonName, fix)
	}
	if err := localOnly(cert); err != nil {
		return nil, fmt.Errorf("%s: %q %v, so trusting it would let its key vouch for other sites; %s", what, cert.Subject.CommonName, err, fix)
	}
	return cert, nil
}

// localOnly checks the CA's name constraints, as certs writes them: marked
// critical, permitting DNS localhost and loopback IP ranges, nothing else.
func localOnly(cert *x509.Certificate) error {
	if !cert.PermittedDNSDomainsCritical || len(cert.PermittedDNSDomains)+len(cert.PermittedIPRanges) == 0 {
		return errors.New("has no critical name constraints")
	}
	for _, d := range cert.PermittedDNSDomains {
		if d != "localhost" {
			return fmt.Errorf("permits the domain %q", d)
		}
	}
	for _, r := range cert.PermittedIPRanges {
		if ones, bits := r.Mask.Size(); !r.IP.IsLoopback() || ones != bits {
			return fmt.Errorf("permits the addresses %s", r)
		}
	}
	if len(cert.PermittedEmailAddresses)+len(cert.PermittedURIDomains) > 0 {
		return errors.New("permits e-mail addresses or URIs")
	}
	return nil
}

// CertificateProfile returns a .mobileconfig whose payload is the CA
// certificate (PayloadType com.apple.security.root, PayloadContent = the DER
// bytes as <data> base64), with stable UUIDs (see profileUUID), display
// name "Orion Bridge local CA (<host>)". An MDM that deploys it makes the CA
// a trusted root in the System keychain, which Safari and Chrome use, and
// Firefox too through ImportEnterpriseRoots. The payload, its keys and its
// availability (device channel on macOS, manual install allowed):
// https://developer.apple.com/documentation/devicemanagement/certificateroot
//
// <host> is the host the CA was made on (certs writes it as the CA's
// organizational unit), or this host for a CA without one. The UUIDs and
// identifiers derive from it: a renewed CA on the same Mac replaces its
// profile in the MDM, and each Mac's profile stays distinct from the
// others'.
func CertificateProfile(caPEM []byte) ([]byte, error) {
	cert, err := parseCA("CA certificate", caPEM)
	if err != nil {
		return nil, err
	}
	host := ""
	if ou := cert.Subject.OrganizationalUnit; len(ou) > 0 {
		host = ou[0]
	}
	if host == "" {
		if host, err = os.Hostname(); err != nil || host == "" {
			host = "unknown host"
		}
	}
	name := "Orion Bridge local CA (" + host + ")"
	id := "com.orionbridge.ca." + identifierPart(host)
	var b profileBuffer
	b.begin()
	b.payload("com.apple.security.root", id+".root", profileUUID("certificate root "+host), name, func() {
		b.key("PayloadCertificateFileName", "<string>OrionBridge-CA.cer</string>")
		// Wrapped as Apple's tools write <data>: whitespace is ignored.
		enc := base64.StdEncoding.EncodeToString(cert.Raw)
		var data strings.Builder
		data.WriteString("<data>\n")
		for len(enc) > 0 {
			n := min(len(enc), 64)
			data.WriteString("\t\t\t" + enc[:n] + "\n")
			enc = enc[n:]
		}
		data.WriteString("\t\t\t</data>")
		b.key("PayloadContent", data.String())
	})
	b.end(id, profileUUID("certificate profile "+host), name,
		"Makes the local certificate authority of Orion Bridge on "+host+" a trusted root, so that the browsers on this Mac trust the bridge at wss://localhost. Its name constraints let it vouch only for localhost and loopback addresses.")
	return b.Bytes(), nil
}

// identifierPart keeps what a reverse-DNS payload identifier may hold.
func identifierPart(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, s)
}
