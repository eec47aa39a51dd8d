package app

import (
	"context"

	"orionbridge/bridge"
	"orionbridge/certs"
	"orionbridge/config"
)

// Controller is everything the tray sees of a bridge: a snapshot, an event
// stream and the controls. The in-process Instance implements it; a bridge
// running as a service is reached through the same interface remotely, so the
// UI never knows which it has.
//
// The read methods take a context and return an error, as tailscale's
// client/local does: through Remote the bridge may be unreachable (the
// service stopped, the port closed), and a zero value would be shown as
// if it were the bridge's state, an empty config saved over the real one.
// Instance's never fail.
type Controller interface {
	// Snapshot lists live sessions with their counters, and the totals.
	Snapshot(ctx context.Context) (bridge.Snapshot, error)
	// Health probes each route's engine and reports the certificate.
	Health(ctx context.Context) (bridge.Health, error)
	// Subscribe streams session events and log records until ctx is done,
	// then closes the channel. A slow reader loses events, never blocks.
	Subscribe(ctx context.Context, buffer int) <-chan bridge.Event

	// Start and Stop the listener; Stop closes sessions with 1001.
	Start() error
	Stop() error
	// Disconnect closes one session with 1000 "closed by operator".
	Disconnect(id string) error

	// Config is the configuration in force; ConfigPath is where it is saved.
	Config(ctx context.Context) (config.Config, error)
	ConfigPath() string
	// ApplyConfig validates cfg, saves it to ConfigPath and applies it,
	// restarting the listener when the port or routes changed.
	ApplyConfig(cfg config.Config) error

	// SetConsent installs the prompt asked about unknown origins when
	// ask_unknown_origins is on; nil removes it.
	SetConsent(c bridge.Consent)

	// Certificate reports the certificate and the trust of every store.
	// A failed trust check is CertificateReport.Err; the error is for a
	// bridge that could not be asked at all.
	Certificate(ctx context.Context) (CertificateReport, error)
	// TrustCertificate installs the CA in the user's trust stores.
	TrustCertificate() ([]certs.StoreResult, error)
	// RenewCertificate issues a new leaf now.
	RenewCertificate() error

	// LogDir is the folder holding the log files.
	LogDir() string
	// Info says how the bridge runs: Mode "tray" (this app) or "headless"
	// (`run` or a service: the tray then says "Service").
	Info() Info
}

// CertificateReport is the certificate and its trust, for the UI.
type CertificateReport struct {
	Status  certs.Status
	Stores  []certs.StoreStatus
	Trusted bool
	Err     error // the trust check failed
}

// UI runs a desktop UI around ctrl until the operator quits. main passes
// tray.Run; app cannot import the tray, which sits above it.
type UI func(ctrl Controller, opts UIOptions) error

// UIOptions are the tray app's start options.
type UIOptions struct {
	Version       string
	ShowDashboard bool // --dashboard: open the dashboard window at start
	// Quit is done when the process was asked to stop (SIGINT, SIGTERM):
	// the UI then closes as if the operator chose Quit.
	Quit context.Context
	// OnShowDashboard, when set, takes the function that brings the
	// dashboard forward; a second start of the tray app calls it.
	OnShowDashboard func(show func())
}
