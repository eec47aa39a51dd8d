package bridge

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"
)

// Route maps a URL path to one fixed TCP target. Clients never choose the
// target: the bridge is not an open proxy.
type Route struct {
	Path    string
	Target  string // host:port
	Framing Framing
	// LineEnding is how a FramingLines route ends lines toward the engine
	// and which ending it strips from the engine's lines; "" is
	// LineEndingLF. Other framings ignore it (config refuses it there).
	LineEnding LineEnding
}

// Options configure a Bridge. Zero values take the defaults noted.
type Options struct {
	Port          int   // 0 picks a free port (tests); the app passes 21443
	FallbackPorts []int // tried in order when Port is taken by another program
	// PortRange is the range [first, last] a bridge moves into when Port is
	// taken by another user's Orion Bridge (or another program): the next
	// free port after the fallbacks. Zero: none (addrinuse.go).
	PortRange [2]int
	// AllowOtherUsers turns off the per-user check (peer.go): connections
	// of any local user's processes are served. Off by default.
	AllowOtherUsers bool
	// AnnounceDir, when set, is where the bridge announces its port for
	// its user and reads other users' entries to answer their browsers
	// (announce.go); "" announces nothing (tests, embedders).
	AnnounceDir string
	// Hosts are the loopback addresses to listen on. Default 127.0.0.1 and
	// ::1; ::1 is skipped where the machine has no IPv6 loopback.
	Hosts           []string
	AllowedOrigins  []string
	Token           string
	MaxClients      int           // default 100
	MaxMessageBytes int64         // default 16 MiB
	PingInterval    time.Duration // default 30s
	PongTimeout     time.Duration // default 60s
	WriteTimeout    time.Duration // one frame write to the browser; default 30s
	DialTimeout     time.Duration // dialing the engine; default 5s
	ShutdownGrace   time.Duration // how long Stop waits for sessions; default 5s
	// MaxPendingConns caps connections that are not yet a session (silent,
	// in the TLS handshake, sending their request, or idle between
	// requests); a new one beyond it closes the oldest (pending.go).
	// Default 256.
	MaxPendingConns int
	Routes          []Route
	// GetCertificate supplies the TLS certificate for every handshake, so a
	// renewed certificate takes effect without a restart.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// AskUnknownOrigins asks Consent about an origin that is in neither
	// AllowedOrigins nor DeniedOrigins, instead of refusing it.
	AskUnknownOrigins bool
	DeniedOrigins     []string
	// OnConsent is told of AlwaysAllow and Deny answers, so the app can save
	// them; it runs on the request's goroutine.
	OnConsent func(origin string, answer ConsentAnswer)
	// Control, when set, serves every path under /api/ (after the Host
	// check; it does its own authentication).
	Control http.Handler
	// CertificateStatus, when set, is shown in /health as "certificate".
	CertificateStatus func() any
	// BrowserPolicyStatus, when set, is shown in /health as
	// "browser_policy": which browsers have IT's Local Network Access
	// policy for the bridge's sites.
	BrowserPolicyStatus func() any
	Version             string
	// LogHandler receives the bridge's log records (they are also published
	// as events). Nil discards them.
	LogHandler slog.Handler

	// EngineState, when set, names the state of the engine the app runs for
	// a route ("starting", "running", "restarting", "failed", "stopped"),
	// or "" when it runs none. It is shown in /health as routes[].engine
	// and in Snapshot.Engines.
	EngineState func(routePath string) string
}

func (o *Options) setDefaults() {
	if o.Hosts == nil {
		o.Hosts = []string{"127.0.0.1", "::1"}
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.PingInterval, 30*time.Second)
	def(&o.PongTimeout, 60*time.Second)
	def(&o.WriteTimeout, 30*time.Second)
	def(&o.DialTimeout, 5*time.Second)
	def(&o.ShutdownGrace, 5*time.Second)
	if o.MaxClients <= 0 {
		o.MaxClients = 100
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 16 << 20
	}
	if o.MaxPendingConns <= 0 {
		o.MaxPendingConns = defaultMaxPendingConns
	}
	if o.LogHandler == nil {
		o.LogHandler = slog.DiscardHandler
	}
	for i := range o.Routes {
		if o.Routes[i].Framing == "" {
			o.Routes[i].Framing = FramingRaw
		}
	}
}
