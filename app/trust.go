package app

import (
	"context"
	"crypto/x509"
	"time"

	"orionbridge/certs"
)

const (
	// trustCheckEvery is how often a running bridge re-reads the trust
	// stores on its own, to log when trust is missing or appears.
	trustCheckEvery = time.Minute
	// trustFresh is how old a trust answer /health may show, so a page
	// notices `certs install` run from another terminal within seconds.
	trustFresh = 5 * time.Second
)

// Run starts the bridge, keeps its certificate fresh, and stops it with
// 1001 to every session when ctx is done.
func (in *Instance) Run(ctx context.Context) error {
	if err := in.Start(); err != nil {
		return err
	}
	in.Maintain(ctx)
	return in.Stop()
}

// Maintain renews the certificate, applies edits of the config files and
// watches the trust stores until ctx is done, whether or not the bridge is
// listening.
func (in *Instance) Maintain(ctx context.Context) {
	certsDone, configDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(certsDone); in.Certs.Run(ctx) }()
	go func() { defer close(configDone); in.watchConfig(ctx) }()
	in.watchTrust(ctx)
	<-certsDone
	<-configDone
}

// watchTrust checks the trust stores now and then every trustCheckEvery
// until ctx is done, so a missing trust is logged even when nobody asks.
// Serving the machine certificate, it first adds the machine CA to this
// user's own browser stores (certs.InstallForUser): the administrator's
// install reached the machine's stores, but Chrome and Firefox on Linux
// read each user's NSS databases, and no administrator can reach those
// for a user who does not exist yet.
func (in *Instance) watchTrust(ctx context.Context) {
	if in.Certs.Status().Kind == certs.KindMachine {
		in.trustMachineCAForUser()
	}
	in.refreshTrust(0)
	every(ctx, trustCheckEvery, func() { in.refreshTrust(0) })
}

// every calls fn every d until ctx is done.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// refreshTrust re-reads the trust stores unless the last check is younger
// than maxAge, and logs when the answer changes (or is "no" the first time).
func (in *Instance) refreshTrust(maxAge time.Duration) bool {
	in.trustMu.Lock()
	defer in.trustMu.Unlock()
	if !in.trustChecked.IsZero() && time.Since(in.trustChecked) < maxAge {
		return in.trusted
	}
	first := in.trustChecked.IsZero()
	was := in.trusted
	in.trusted, in.trustChecked = in.checkTrust(), time.Now()
	switch {
	case !in.trusted && (first || was):
		in.log.Warn("browsers do not trust the bridge's certificate yet, so pages cannot connect: run `orionbridge certs install`",
			"ca", in.Certs.Status().CAPath)
	case in.trusted && !was:
		in.log.Info("the bridge's certificate is trusted by this machine's browsers")
	}
	return in.trusted
}

// checkTrust asks the browser trust stores about our CA, or, for a
// certificate from the company's PKI, whether the system roots accept it.
func (in *Instance) checkTrust() bool {
	if in.RunningConfig().CertFile == "" {
		stores, err := certs.CheckTrust(in.Certs.CADir())
		return err == nil && certs.Trusted(stores)
	}
	cert, err := in.Certs.GetCertificate(nil)
	if err != nil || len(cert.Certificate) == 0 {
		return false
	}
	chain := make([]*x509.Certificate, 0, len(cert.Certificate))
	for _, der := range cert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return false
		}
		chain = append(chain, c)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err = chain[0].Verify(x509.VerifyOptions{DNSName: "localhost", Intermediates: inter})
	return err == nil
}

// trustMachineCAForUser adds the machine CA to the user's NSS databases
// that lack it, and logs what it did.
func (in *Instance) trustMachineCAForUser() {
	results, err := certs.InstallForUser(in.Certs.CADir())
	for _, r := range results {
		if r.Action == "installed" {
			in.log.Info("trusted this computer's certificate in your browser store", "store", r.Name, "path", r.Path)
		}
	}
	if err != nil {
		in.log.Warn("could not add this computer's certificate to your browser stores: run `orionbridge certs install`", "err", err)
	}
}

// CertificateHealth is the "certificate" object of /health.
type CertificateHealth struct {
	Trusted     bool      `json:"trusted"`
	Kind        string    `json:"kind"` // "machine", "user" or "external" (certs.Kind)
	External    bool      `json:"external,omitempty"`
	CAPath      string    `json:"ca_path,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	NotAfter    time.Time `json:"not_after"`
	CANotAfter  time.Time `json:"ca_not_after,omitzero"`
	Fix         string    `json:"fix,omitempty"`
}

func (in *Instance) certificateHealth() CertificateHealth {
	st := in.Certs.Status()
	h := CertificateHealth{
		Trusted: in.refreshTrust(trustFresh), Kind: string(st.Kind), External: st.External, CAPath: st.CAPath,
		Fingerprint: st.CAFingerprint, NotAfter: st.LeafNotAfter, CANotAfter: st.CANotAfter,
	}
	if !h.Trusted && !h.External {
		h.Fix = "orionbridge certs install"
	}
	return h
}
