package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"orionbridge/bridge"
	"orionbridge/certs"
	"orionbridge/config"
	"orionbridge/engine"
	"orionbridge/internal/machinedir"
	"orionbridge/internal/owneronly"
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

	control *controlAPI
	started time.Time
	version string
	handler slog.Handler
	engines *engine.Supervisor // the engines routes name with launch (package engine)

	mu         sync.Mutex // guards the fields below; serialises ApplyConfig
	cfg        config.Config
	configPath string
	sources    map[string]string // key → the file that set it (LoadConfigSources)
	seenStamps [2]fileStamp      // the config files as last applied
	mode       string            // "tray" or "headless", for Info
	consent    bridge.Consent    // the local prompt, restored when remote trays detach

	policy policyCache // /health's browser_policy (browserpolicy.go)

	trustMu      sync.Mutex // one trust check at a time; they run certutil
	trusted      bool
	trustChecked time.Time
}

var _ Controller = (*Instance)(nil)

// NewInstance wires a stopped bridge to its certificate source. Log records
// go to handler and to the bridge's subscribers. The config is saved to the
// default config path unless SetConfigPath says otherwise.
func NewInstance(version string, cfg config.Config, handler slog.Handler) (*Instance, error) {
	in := &Instance{
		cfg:     cfg,
		mode:    "headless",
		started: time.Now(),
		version: version,
		certDir: filepath.Join(cfg.DataDir, "certs"),
		logDir:  filepath.Join(cfg.DataDir, "logs"),
	}
	in.configPath, _ = config.DefaultPath()
	// A bridge pointed at another machine folder (ORIONBRIDGE_MACHINE_DIR:
	// every test's) leaves the real browser policy alone.
	in.policy.real = machinedir.Path() == machinedir.Default()
	// Before anything reads or writes in it: a data dir someone else
	// created, or can write, would hand them the control secret, the CA
	// key and the log (internal/owneronly).
	if err := owneronly.MkdirAll("data dir", cfg.DataDir); err != nil {
		return nil, dataDirError(cfg.DataDir, err)
	}
	secret, err := loadOrCreateControlSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	in.control = newControlAPI(in, secret)
	in.handler = handler
	b, err := bridge.New(in.bridgeOptions(cfg))
	if err != nil {
		return nil, err
	}
	in.Bridge, in.log = b, b.Logger()
	// A crashed engine's sessions learn why (Bridge.EngineExited).
	in.engines = engine.New(in.log, cfg.Routes, b.EngineExited)
	// The tray learns of a new certificate from a typed event, not the log.
	certOpts := certs.Options{Logger: in.log, OnChange: in.publishCertificateChange}
	// The machine certificate when an administrator's install made one,
	// else this user's own CA (certs.OpenServed; Status says which).
	in.Certs, err = certs.OpenServed(cfg.CertFile, cfg.KeyFile, in.certDir, machinedir.Path(), certOpts)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return in, nil
}

// portRange is port_range as the bridge takes it; [] (none) is zero.
func portRange(r []int) [2]int {
	if len(r) != 2 {
		return [2]int{}
	}
	return [2]int{r[0], r[1]}
}

// bridgeOptions maps a Config onto the bridge's options, with this
// instance's wiring: certificate, control API, logs.
func (in *Instance) bridgeOptions(cfg config.Config) bridge.Options {
	routes := make([]bridge.Route, len(cfg.Routes))
	for i, r := range cfg.Routes {
		routes[i] = bridge.Route{Path: r.Path, Target: r.Target, Framing: bridge.Framing(r.Framing), LineEnding: bridge.LineEnding(r.LineEnding)}
	}
	return bridge.Options{
		Port:              cfg.Port,
		FallbackPorts:     cfg.FallbackPorts,
		PortRange:         portRange(cfg.PortRange),
		AllowOtherUsers:   cfg.AllowOtherUsers,
		AnnounceDir:       bridge.DefaultAnnounceDir(), // issue 16: this user's port, for their pages
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
		// Certs is opened after the bridge, with its logger; no handshake
		// can happen before Start.
		GetCertificate:      func(h *tls.ClientHelloInfo) (*tls.Certificate, error) { return in.Certs.GetCertificate(h) },
		CertificateStatus:   func() any { return in.certificateHealth() },
		BrowserPolicyStatus: in.browserPolicyHealth,
		Control:             in.control,
		Version:             in.version,
		LogHandler:          in.handler,
		EngineState:         in.engineState,
	}
}

// SetConfigPath sets where ApplyConfig and consent answers save the config.
func (in *Instance) SetConfigPath(path string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if path != "" {
		in.configPath = path
	}
	in.seenStamps = [2]fileStamp{stampOf(in.configPath), stampOf(config.ManagedPath())}
}

// SetSources records where each key of the running config came from, as
// config.LoadSources returns it.
func (in *Instance) SetSources(sources map[string]string) {
	in.mu.Lock()
	in.sources = sources
	in.mu.Unlock()
}

// saveConsent keeps an "Always allow" or "Deny" across restarts.
func (in *Instance) saveConsent(origin string, answer bridge.ConsentAnswer) {
	cfg := in.RunningConfig()
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

// Snapshot implements Controller; in process it never fails.
func (in *Instance) Snapshot(context.Context) (bridge.Snapshot, error) {
	return in.Bridge.Snapshot(), nil
}

// Health implements Controller; in process it never fails.
func (in *Instance) Health(context.Context) (bridge.Health, error) { return in.Bridge.Health(), nil }

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
	// After the listener: a second instance, refused above, starts none.
	in.engines.Start()
	in.log.Info("diagnostics page", "url", "https://localhost:"+strconv.Itoa(in.Bridge.Port())+"/")
	return nil
}

// Stop implements Controller: the sessions first, then the engines.
func (in *Instance) Stop() error {
	defer in.policy.active.Wait() // a policy follow writing files ends first
	err := in.Bridge.Stop()
	in.engines.Stop()
	return err
}

// Disconnect implements Controller.
func (in *Instance) Disconnect(id string) error { return in.Bridge.Disconnect(id) }

// Config implements Controller; in process it never fails.
func (in *Instance) Config(context.Context) (config.Config, error) { return in.RunningConfig(), nil }

// RunningConfig is the configuration in force, for code that holds the
// Instance itself and so cannot find it unreachable.
func (in *Instance) RunningConfig() config.Config {
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
func (in *Instance) ApplyConfig(cfg config.Config) error { return in.apply(cfg, true) }

func (in *Instance) apply(cfg config.Config, save bool) error { return in.applyGuarded(cfg, save, nil) }

// applyFromControlAPI is ApplyConfig for PUT /api/config, which may not
// change what the bridge launches (checkLaunchUnchanged, control.go). The
// check runs under the lock, against the config it replaces.
func (in *Instance) applyFromControlAPI(cfg config.Config) error {
	return in.applyGuarded(cfg, true, func(running config.Config) error {
		file := in.configPath
		if src := in.sources["routes"]; src != "" {
			file = src // the managed file, when IT set the routes
		}
		return checkLaunchUnchanged(running, cfg, file)
	})
}

func (in *Instance) applyGuarded(cfg config.Config, save bool, guard func(running config.Config) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.Normalize()
	in.mu.Lock()
	defer in.mu.Unlock()
	if guard != nil {
		if err := guard(in.cfg); err != nil {
			return err
		}
	}
	if save {
		userCfg, err := in.checkManaged(cfg)
		if err != nil {
			return err
		}
		if err := config.Save(in.configPath, userCfg); err != nil {
			return err
		}
		// Our own save is not an edit to re-apply.
		in.seenStamps = [2]fileStamp{stampOf(in.configPath), stampOf(config.ManagedPath())}
	}
	if err := in.Bridge.Reconfigure(in.bridgeOptions(cfg)); err != nil {
		return fmt.Errorf("apply config: %w", err)
	}
	in.engines.Update(cfg.Routes)
	if cfg.DataDir != in.cfg.DataDir || cfg.CertFile != in.cfg.CertFile || cfg.KeyFile != in.cfg.KeyFile {
		in.log.Warn("data_dir and the certificate files take effect when Orion Bridge restarts")
	}
	followPolicy := !slices.Equal(in.cfg.AllowedOrigins, cfg.AllowedOrigins)
	in.cfg = cfg
	if followPolicy {
		// Not under in.mu: it reads and writes the policy files, and
		// /health reads the config through RunningConfig.
		in.policy.active.Go(in.followBrowserPolicy)
	}
	return nil
}

// SetConsent implements Controller. A tray that sets a prompt runs the
// bridge itself, so the instance is a tray instance from then on.
func (in *Instance) SetConsent(c bridge.Consent) {
	in.mu.Lock()
	in.consent = c
	in.mu.Unlock()
	in.Bridge.SetConsent(c)
}

func (in *Instance) localConsent() bridge.Consent {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.consent
}

// SetMode records how this instance runs ("tray" or "headless"), for Info.
func (in *Instance) SetMode(mode string) {
	in.mu.Lock()
	in.mode = mode
	in.mu.Unlock()
}

// OnShowDashboard sets what a second start of the tray app does: bring
// this instance's dashboard forward.
func (in *Instance) OnShowDashboard(show func()) {
	in.control.mu.Lock()
	in.control.onShow = show
	in.control.mu.Unlock()
}

// Info describes this instance for remote clients.
func (in *Instance) Info() Info {
	in.mu.Lock()
	defer in.mu.Unlock()
	return Info{Mode: in.mode, Version: in.version, PID: os.Getpid(), Started: in.started,
		ConfigPath: in.configPath, LogDir: in.logDir, ManagedKeys: in.managedKeysLocked()}
}

// Certificate implements Controller; in process it never fails (a failed
// trust check is the report's Err).
func (in *Instance) Certificate(context.Context) (CertificateReport, error) {
	r := CertificateReport{Status: in.Certs.Status()}
	if r.Status.External {
		r.Trusted = in.refreshTrust(0)
		return r, nil
	}
	r.Stores, r.Err = certs.CheckTrust(in.Certs.CADir())
	r.Trusted = r.Err == nil && certs.Trusted(r.Stores)
	return r, nil
}

// TrustCertificate implements Controller: the user's stores, which need no
// administrator rights.
func (in *Instance) TrustCertificate() ([]certs.StoreResult, error) {
	if in.RunningConfig().CertFile != "" {
		return nil, fmt.Errorf("the certificate is externally managed (cert_file): trust it through your PKI")
	}
	if in.Certs.Status().Kind == certs.KindMachine {
		// The machine's stores are the administrator's; this user's own
		// (NSS) need no rights.
		results, err := certs.InstallForUser(in.Certs.CADir())
		in.refreshTrust(0)
		return results, err
	}
	results, err := certs.Install(in.certDir, certs.ScopeUser)
	in.refreshTrust(0)
	return results, err
}

// RenewCertificate implements Controller.
func (in *Instance) RenewCertificate() error { return in.Certs.RenewLeaf() }

// LogDir implements Controller.
func (in *Instance) LogDir() string { return in.logDir }

// dataDirError names the data_dir setting in the fix when the data dir
// itself, or a folder above it, is the problem: the user chose that path.
func dataDirError(dataDir string, err error) error {
	oe, ok := errors.AsType[*owneronly.Error](err)
	if !ok {
		return err
	}
	switch {
	case oe.Kind == owneronly.UnsafeAbove:
		oe.Fix = "choose a data_dir whose parent folders only you or root can change, e.g. leave data_dir unset for the default"
	case filepath.Clean(oe.Path) == filepath.Clean(dataDir) && oe.Kind != owneronly.Writable:
		oe.Fix = "choose a data_dir only you can write, or remove " + oe.Path
	}
	return oe
}

// publishCertificateChange is the certificate source's OnChange: it puts
// the change on the bridge's event bus, where the tray (in process or
// through the control API) refreshes its Certificate tab at once.
func (in *Instance) publishCertificateChange(c certs.Change) {
	in.Bridge.Publish(bridge.Event{Kind: bridge.CertificateChanged, Time: time.Now(), Certificate: bridge.CertificateChange{
		What: c.Kind.String(), Reason: c.Reason, Serial: c.Serial, NotAfter: c.NotAfter, Fingerprint: c.Fingerprint, Path: c.Path,
	}})
}

// EngineStatus describes the engines this instance runs for its routes.
func (in *Instance) EngineStatus() []engine.Status { return in.engines.Status() }

// engineState is the bridge's Options.EngineState.
func (in *Instance) engineState(routePath string) string { return in.engines.State(routePath) }

// Logger is the instance's logger: records reach the log file, stderr and
// every subscriber (the tray's Log tab).
func (in *Instance) Logger() *slog.Logger { return in.log }
