package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"orionbridge/bridge"
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

// Instance is one Orion Bridge built from a Config: the bridge, its
// certificate source and the trust state shown in /health.
type Instance struct {
	Config  Config
	Bridge  *bridge.Bridge
	Certs   *certs.Source
	log     *slog.Logger
	certDir string

	trustMu      sync.Mutex // one trust check at a time; they run certutil
	trusted      bool
	trustChecked time.Time
}

// NewInstance wires a stopped bridge to its certificate source. Log records
// go to handler and to the bridge's subscribers.
func NewInstance(version string, cfg Config, handler slog.Handler) (*Instance, error) {
	in := &Instance{Config: cfg, certDir: filepath.Join(cfg.DataDir, "certs")}
	b, err := bridge.New(bridge.Options{
		Port:            cfg.Port,
		FallbackPorts:   cfg.FallbackPorts,
		AllowedOrigins:  cfg.AllowedOrigins,
		Token:           cfg.Token,
		MaxClients:      cfg.MaxClients,
		MaxMessageBytes: cfg.MaxMessageBytes,
		PingInterval:    cfg.PingInterval,
		PongTimeout:     cfg.PongTimeout,
		Routes:          bridgeRoutes(cfg.Routes),
		// Certs is opened below, with the bridge's logger; no handshake can
		// happen before Start.
		GetCertificate:    func(h *tls.ClientHelloInfo) (*tls.Certificate, error) { return in.Certs.GetCertificate(h) },
		CertificateStatus: func() any { return in.certificateHealth() },
		Version:           version,
		LogHandler:        handler,
	})
	if err != nil {
		return nil, err
	}
	in.Bridge, in.log = b, b.Logger()
	opts := certs.Options{Logger: in.log}
	if cfg.CertFile != "" {
		in.Certs, err = certs.OpenExternal(cfg.CertFile, cfg.KeyFile, opts)
	} else {
		in.Certs, err = certs.OpenLocal(in.certDir, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return in, nil
}

func bridgeRoutes(rs []Route) []bridge.Route {
	out := make([]bridge.Route, len(rs))
	for i, r := range rs {
		out[i] = bridge.Route{Path: r.Path, Target: r.Target, Framing: bridge.Framing(r.Framing)}
	}
	return out
}

// RunHeadless runs a bridge in the foreground until ctx is done.
func RunHeadless(ctx context.Context, version string, cfg Config, handler slog.Handler) error {
	in, err := NewInstance(version, cfg, handler)
	if err != nil {
		return err
	}
	return in.Run(ctx)
}

// Run starts the bridge, keeps its certificate fresh, and stops it with
// 1001 to every session when ctx is done.
func (in *Instance) Run(ctx context.Context) error {
	if err := in.Bridge.Start(); err != nil {
		return err
	}
	in.log.Info("diagnostics page", "url", "https://localhost:"+strconv.Itoa(in.Bridge.Port())+"/")
	certsDone := make(chan struct{})
	go func() { defer close(certsDone); in.Certs.Run(ctx) }()
	in.watchTrust(ctx)
	err := in.Bridge.Stop()
	<-certsDone
	return err
}

// watchTrust checks the trust stores now and then every trustCheckEvery
// until ctx is done, so a missing trust is logged even when nobody asks.
func (in *Instance) watchTrust(ctx context.Context) {
	in.refreshTrust(0)
	t := time.NewTicker(trustCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			in.refreshTrust(0)
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
			"ca", certs.CAPath(in.certDir))
	case in.trusted && !was:
		in.log.Info("the bridge's certificate is trusted by this machine's browsers")
	}
	return in.trusted
}

// checkTrust asks the browser trust stores about our CA, or, for a
// certificate from the company's PKI, whether the system roots accept it.
func (in *Instance) checkTrust() bool {
	if in.Config.CertFile == "" {
		stores, err := certs.CheckTrust(in.certDir)
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

// CertificateHealth is the "certificate" object of /health.
type CertificateHealth struct {
	Trusted     bool      `json:"trusted"`
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
		Trusted: in.refreshTrust(trustFresh), External: st.External, CAPath: st.CAPath,
		Fingerprint: st.CAFingerprint, NotAfter: st.LeafNotAfter, CANotAfter: st.CANotAfter,
	}
	if !h.Trusted && !h.External {
		h.Fix = "orionbridge certs install"
	}
	return h
}

// newLogHandler builds the stderr handler for `run`.
func newLogHandler(w io.Writer, format, level string) (slog.Handler, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: expected debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("--log-format %q: expected text or json", format)
}
