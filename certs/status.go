package certs

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"
)

// expiryWarning is how long before expiry an external certificate is warned
// about; a local leaf is renewed well before that.
const expiryWarning = 30 * 24 * time.Hour

// caRenewalNotice is how long Status keeps asking for re-trust after the CA
// was replaced.
const caRenewalNotice = 30 * 24 * time.Hour

// Status describes the certificate being served. It is built from memory and
// runs no command, so /health may call it on every request.
type Status struct {
	Kind          Kind   // which certificate is served
	Why           string // why that one (OpenServed); "" when opened directly
	External      bool   // cert_file/key_file: managed outside the bridge
	CAPath        string // absolute path of ca.pem; "" when External
	CAFingerprint string // SHA-256, upper-case hex with colons; "" when External
	CANotAfter    time.Time
	LeafNotAfter  time.Time
	LeafSerial    string // hex with colons
	Warnings      []string

	LeafPath      string // certificate file being served
	KeyPath       string // its key
	LeafNotBefore time.Time
}

// Kind is which certificate a bridge serves.
type Kind string

const (
	KindUser     Kind = "user"     // the user's own CA, in their data dir
	KindMachine  Kind = "machine"  // the machine certificate an administrator's install made
	KindExternal Kind = "external" // cert_file/key_file
)

// Status reports the served certificate and anything that needs attention.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Kind: KindUser, Why: s.why, External: s.dir == "" && s.machineDir == "", LeafPath: s.certPath, KeyPath: s.keyPath}
	if s.leaf != nil {
		st.LeafNotBefore, st.LeafNotAfter, st.LeafSerial = s.leaf.NotBefore, s.leaf.NotAfter, serialHex(s.leaf)
	}
	if s.machineDir != "" {
		s.machineStatusLocked(&st)
		return st
	}
	if st.External {
		st.Kind = KindExternal
		st.Warnings = s.externalWarningsLocked()
		return st
	}
	st.CAPath = CAPath(s.dir)
	st.CAFingerprint = Fingerprint(s.ca.cert)
	st.CANotAfter = s.ca.cert.NotAfter
	now := s.now()
	// Shown for a month: Status cannot see the trust stores (CheckTrust
	// does), so it cannot tell when the user has acted on it.
	if !s.caRenewed.IsZero() && now.Sub(s.caRenewed) < caRenewalNotice {
		st.Warnings = append(st.Warnings, fmt.Sprintf(
			"the local CA was renewed on %s: browsers do not trust the new one until you run `orionbridge certs install`",
			s.caRenewed.Format(time.DateOnly)))
	}
	if s.renewErr != nil {
		st.Warnings = append(st.Warnings, "certificate renewal failed: "+s.renewErr.Error())
	}
	if s.leaf != nil && s.leaf.NotAfter.Sub(now) < expiryWarning {
		st.Warnings = append(st.Warnings, expiryText(s.certPath, s.leaf.NotAfter, now)+": run `orionbridge certs renew`")
	}
	return st
}

// externalWarningsLocked: a cert about to expire, or one browsers will
// reject for wss://localhost.
func (s *Source) externalWarningsLocked() []string {
	if s.leaf == nil {
		return nil
	}
	var w []string
	now := s.now()
	if s.leaf.NotAfter.Sub(now) < expiryWarning {
		w = append(w, expiryText(s.certPath, s.leaf.NotAfter, now)+": renew it and replace cert_file and key_file")
	}
	if err := s.leaf.VerifyHostname("localhost"); err != nil {
		w = append(w, fmt.Sprintf("certificate %s is not valid for localhost: browsers will refuse wss://localhost", s.certPath))
	}
	return w
}

func expiryText(path string, notAfter, now time.Time) string {
	if !now.Before(notAfter) {
		return fmt.Sprintf("certificate %s expired on %s", path, notAfter.Format(time.DateOnly))
	}
	return fmt.Sprintf("certificate %s expires on %s (in %s)", path, notAfter.Format(time.DateOnly), daysLeft(notAfter, now))
}

func daysLeft(t, now time.Time) string {
	d := int(math.Floor(t.Sub(now).Hours() / 24))
	switch {
	case d < 0:
		return "expired"
	case d == 1:
		return "1 day"
	}
	return fmt.Sprintf("%d days", d)
}

// WriteStatus prints st and the trust stores as the human table of
// `orionbridge certs status`.
func WriteStatus(w io.Writer, st Status, stores []StoreStatus) {
	now := time.Now()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	switch st.Kind {
	case KindExternal:
		fmt.Fprintf(tw, "Certificate:\texternally managed (cert_file/key_file)\n")
		fmt.Fprintf(tw, "Certificate file:\t%s\n", st.LeafPath)
		fmt.Fprintf(tw, "Key file:\t%s\n", st.KeyPath)
	default:
		what := "managed by Orion Bridge (your own local CA)"
		if st.Kind == KindMachine {
			what = "this computer's (machine CA, made by the administrator's install)"
		}
		fmt.Fprintf(tw, "Certificate:\t%s\n", what)
		fmt.Fprintf(tw, "CA certificate:\t%s\n", st.CAPath)
		fmt.Fprintf(tw, "CA fingerprint:\tSHA-256 %s\n", st.CAFingerprint)
		fmt.Fprintf(tw, "CA expires:\t%s (%s)\n", st.CANotAfter.Format(time.DateOnly), daysLeft(st.CANotAfter, now))
		fmt.Fprintf(tw, "Leaf certificate:\t%s\n", st.LeafPath)
	}
	if st.Why != "" {
		fmt.Fprintf(tw, "Why this one:\t%s\n", st.Why)
	}
	fmt.Fprintf(tw, "Leaf expires:\t%s (%s)\n", st.LeafNotAfter.Format(time.DateOnly), daysLeft(st.LeafNotAfter, now))
	fmt.Fprintf(tw, "Leaf serial:\t%s\n", st.LeafSerial)
	tw.Flush()

	if len(stores) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TRUST STORE\tSTATE\tPATH\tDETAIL")
		for _, ss := range stores {
			path := ss.Path
			if path == "" {
				path = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ss.Name, ss.State, path, ss.Detail)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	switch {
	case st.External:
		fmt.Fprintln(w, "Browsers: trust of an external certificate is up to whoever issued it.")
	case Trusted(stores):
		fmt.Fprintln(w, "Browsers: at least one browser trust store trusts the CA.")
	case st.Kind == KindMachine:
		fmt.Fprintln(w, "Browsers: NO browser trusts the machine CA, so pages cannot reach wss://localhost.")
		fmt.Fprintln(w, "Fix: run `orionbridge certs install` (your browsers), or as administrator `orionbridge certs machine install`.")
	default:
		fmt.Fprintln(w, "Browsers: NO browser trusts the CA, so pages cannot reach wss://localhost.")
		fmt.Fprintln(w, "Fix: run `orionbridge certs install` (or `orionbridge certs install --scope system` as administrator).")
	}
	for _, warning := range st.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warning)
	}
}
