package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"orionbridge/bridge"
	"orionbridge/certs"
)

// Instance is one Orion Bridge running in this process, built from a
// Config: the bridge, its certificate source, and the trust state shown in
// /health. It is the in-process Controller.
type Instance struct {
	Bridge  *bridge.Bridge
	Certs   *certs.Source
	log     *slog.Logger
	certDir string
	logDir  string

	mu         sync.Mutex // guards cfg and configPath; serialises ApplyConfig
	cfg        Config
	configPath string

	trustMu      sync.Mutex // one trust check at a time; they run certutil
	trusted      bool
	trustChecked time.Time
}

var _ Controller = (*Instance)(nil)

// NewInstance wires a stopped bridge to its certificate source. Log records
// go to handler and to the bridge's subscribers. The config is saved to the
// default config path unless SetConfigPath says otherwise.
func NewInstance(version string, cfg Config, handler slog.Handler) (*Instance, error) {
	in := &Instance{
		cfg:     cfg,
		certDir: filepath.Join(cfg.DataDir, "certs"),
		logDir:  filepath.Join(cfg.DataDir, "logs"),
	}
	in.configPath, _ = DefaultConfigPath()
	opts := in.bridgeOptions(cfg)
	// Certs is opened below, with the bridge's logger; no handshake can
	// happen before Start.
	opts.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) { return in.Certs.GetCertificate(h) }
	opts.CertificateStatus = func() any { return in.certificateHealth() }
	opts.Version = version
	opts.LogHandler = handler
	b, err := bridge.New(opts)
	if err != nil {
		return nil, err
	}
	in.Bridge, in.log = b, b.Logger()
	certOpts := certs.Options{Logger: in.log}
	if cfg.CertFile != "" {
		in.Certs, err = certs.OpenExternal(cfg.CertFile, cfg.KeyFile, certOpts)
	} else {
		in.Certs, err = certs.OpenLocal(in.certDir, certOpts)
	}
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return in, nil
}

// bridgeOptions maps a Config onto the bridge's options that a Config sets.
func (in *Instance) bridgeOptions(cfg Config) bridge.Options {
	routes := make([]bridge.Route, len(cfg.Routes))
	for i, r := range cfg.Routes {
		routes[i] = bridge.Route{Path: r.Path, Target: r.Target, Framing: bridge.Framing(r.Framing)}
	}
	return bridge.Options{
		Port:              cfg.Port,
		FallbackPorts:     cfg.FallbackPorts,
		AllowedOrigins:    cfg.AllowedOrigins,
		DeniedOrigins:     cfg.DeniedOrigins,
		AskUnknownOrigins: cfg.AskUnknownOrigins,
		OnConsent:         in.saveConsent,
		Token:             cfg.Token,
		MaxClients:        cfg.MaxClients,
		MaxMessageBytes:   cfg.MaxMessageBytes,
		PingInterval:      cfg.PingInterval,
		PongTimeout:       cfg.PongTimeout,
		Routes:            routes,
	}
}

// SetConfigPath sets where ApplyConfig and consent answers save the config.
func (in *Instance) SetConfigPath(path string) {
	if path == "" {
		return
	}
	in.mu.Lock()
	in.configPath = path
	in.mu.Unlock()
}

// saveConsent keeps an "Always allow" or "Deny" across restarts.
func (in *Instance) saveConsent(origin string, answer bridge.ConsentAnswer) {
	cfg := in.Config()
	switch answer {
	case bridge.AlwaysAllow:
		cfg.AllowedOrigins = appendNew(cfg.AllowedOrigins, origin)
		cfg.DeniedOrigins = slices.DeleteFunc(slices.Clone(cfg.DeniedOrigins), func(o string) bool { return o == origin })
	case bridge.Deny:
		cfg.DeniedOrigins = appendNew(cfg.DeniedOrigins, origin)
	default:
		return
	}
	if err := in.ApplyConfig(cfg); err != nil {
		in.log.Error("could not save the operator's answer", "origin", origin, "answer", answer.String(), "err", err)
	}
}

func appendNew(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(slices.Clone(list), v)
}

// Snapshot implements Controller.
func (in *Instance) Snapshot() bridge.Snapshot { return in.Bridge.Snapshot() }

// Health implements Controller.
func (in *Instance) Health() bridge.Health { return in.Bridge.Health() }

// Subscribe implements Controller.
func (in *Instance) Subscribe(ctx context.Context, buffer int) <-chan bridge.Event {
	sub := in.Bridge.Subscribe(buffer)
	context.AfterFunc(ctx, sub.Close)
	return sub.C
}

// Start implements Controller, and names the diagnostics page.
func (in *Instance) Start() error {
	if err := in.Bridge.Start(); err != nil {
		return err
	}
	in.log.Info("diagnostics page", "url", "https://localhost:"+strconv.Itoa(in.Bridge.Port())+"/")
	return nil
}

// Stop implements Controller.
func (in *Instance) Stop() error { return in.Bridge.Stop() }

// Disconnect implements Controller.
func (in *Instance) Disconnect(id string) error { return in.Bridge.Disconnect(id) }

// Config implements Controller.
func (in *Instance) Config() Config {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cfg
}

// ConfigPath implements Controller.
func (in *Instance) ConfigPath() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.configPath
}

// ApplyConfig implements Controller: validate, save, then apply. Open
// sessions survive unless the port changed. data_dir and the certificate
// files are read at start only.
func (in *Instance) ApplyConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.normalize()
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := SaveConfig(in.configPath, cfg); err != nil {
		return err
	}
	if err := in.Bridge.Reconfigure(in.bridgeOptions(cfg)); err != nil {
		return fmt.Errorf("apply config: %w", err)
	}
	if cfg.DataDir != in.cfg.DataDir || cfg.CertFile != in.cfg.CertFile || cfg.KeyFile != in.cfg.KeyFile {
		in.log.Warn("data_dir and the certificate files take effect when Orion Bridge restarts")
	}
	in.cfg = cfg
	return nil
}

// SetConsent implements Controller.
func (in *Instance) SetConsent(c bridge.Consent) { in.Bridge.SetConsent(c) }

// Certificate implements Controller.
func (in *Instance) Certificate() CertificateReport {
	r := CertificateReport{Status: in.Certs.Status()}
	if r.Status.External {
		r.Trusted = in.refreshTrust(0)
		return r
	}
	r.Stores, r.Err = certs.CheckTrust(in.certDir)
	r.Trusted = r.Err == nil && certs.Trusted(r.Stores)
	return r
}

// TrustCertificate implements Controller: the user's stores, which need no
// administrator rights.
func (in *Instance) TrustCertificate() ([]certs.StoreResult, error) {
	if in.Config().CertFile != "" {
		return nil, fmt.Errorf("the certificate is externally managed (cert_file): trust it through your PKI")
	}
	results, err := certs.Install(in.certDir, certs.ScopeUser)
	in.refreshTrust(0)
	return results, err
}

// RenewCertificate implements Controller.
func (in *Instance) RenewCertificate() error { return in.Certs.RenewLeaf() }

// LogDir implements Controller.
func (in *Instance) LogDir() string { return in.logDir }
