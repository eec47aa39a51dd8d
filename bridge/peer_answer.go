package bridge

// What another user's process gets (issue 16, points 1 and 3).
//
// The check runs at accept, before any byte is read (probe.go's sniff).
// A refused connection still completes its TLS handshake: the certificate
// is public, and a browser can only read an answer over TLS that it
// trusts; without it, another user's page probing https://localhost:21443
// would see the same opaque failure as "not running" and could not learn
// where its own bridge is. No request of such a connection reaches a
// route, the control API or the diagnostics page: every one is answered
// 403 and the connection is closed.
//
// /health (https and plain HTTP) answers the discovery: the asking user's
// own port, read from that user's announce entry, or that they have none.
// That answer is readable by any origin (CORS names the asking origin):
// it carries only what the asker's own processes could learn by scanning
// (their own bridge's port), and the page must be allowed by that bridge
// before it gets anything more.

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
)

// OtherUserAnswer is the 403 JSON of /health for another user's process.
type OtherUserAnswer struct {
	App string `json:"app"` // AppName: how a starting bridge knows the port is Orion Bridge's
	// Error is "other-user" (YourPort, when set, is where the caller's own
	// bridge listens) or "no-bridge-for-user" (the caller has none running).
	Error    string `json:"error"`
	Message  string `json:"message"`
	YourPort int    `json:"your_port,omitempty"`
}

// Discovery error codes, as client.js names its failures.
const (
	DiscoveryOtherUser = "other-user"
	DiscoveryNoBridge  = "no-bridge-for-user"
)

type peerCtxKey struct{}

// peerContext is the server's ConnContext: it carries the accepted
// connection's peer check to every request on it.
func peerContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = tc.NetConn()
	}
	if sc, ok := c.(*sniffedConn); ok && sc.peer != nil {
		return context.WithValue(ctx, peerCtxKey{}, sc.peer)
	}
	return ctx
}

// peerOf is the request's connection's peer check, or nil.
func peerOf(r *http.Request) *peerInfo {
	p, _ := r.Context().Value(peerCtxKey{}).(*peerInfo)
	return p
}

// peerCheck is the splitListener's check: nil (no lookup at all) when the
// operator set allow_other_users.
func (b *Bridge) peerCheck(c net.Conn) *peerInfo {
	if b.settings.Load().opts.AllowOtherUsers {
		return nil
	}
	return checkPeer(c)
}

// serveOtherUser answers every request of a refused connection.
func (b *Bridge) serveOtherUser(w http.ResponseWriter, r *http.Request, p *peerInfo) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", apiCSP)
	h.Set("Connection", "close")
	reason := OtherUserText
	attrs := []any{"status", http.StatusForbidden, "path", r.URL.Path, "client", r.RemoteAddr, "refusal", "other-user"}
	if p.verdict == peerUnknown {
		reason = "could not tell which user's process connected, so it is treated as another user's"
		attrs = append(attrs, "lookup_error", p.err.Error())
	} else {
		attrs = append(attrs, "peer_user", p.user)
	}
	b.refusals.refused(slog.LevelWarn, "connection of another user refused", reason, r.Header.Get("Origin"), attrs...)
	if r.URL.Path != "/health" || r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "403 Forbidden: "+OtherUserText, http.StatusForbidden)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	h.Add("Vary", "Origin")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(b.discovery(p))
}

// discovery names the caller's own bridge from its announce entry.
func (b *Bridge) discovery(p *peerInfo) OtherUserAnswer {
	ans := OtherUserAnswer{App: AppName, Error: DiscoveryOtherUser, Message: OtherUserText}
	dir := b.settings.Load().opts.AnnounceDir
	if p.user == "" || p.user == otherSessionKey || dir == "" {
		return ans // who is asking, or where entries are, is unknown
	}
	a, ok, err := ReadAnnouncement(dir, p.user)
	switch {
	case err != nil:
		// Rate-limited: the asking user may have planted it, per request.
		b.refusals.refused(slog.LevelWarn, "announce entry not believed", err.Error(), "", "peer_user", p.user)
		return ans
	case !ok:
		ans.Error, ans.Message = DiscoveryNoBridge, OtherUserText+"; you have no Orion Bridge running"
	default:
		ans.YourPort = a.Port
		ans.Message = OtherUserText + "; yours is on port " + strconv.Itoa(a.Port)
	}
	return ans
}

// announceLocked writes this user's announce entry for the bound port and
// says once, at Start, when the per-user check is not in force.
func (b *Bridge) announceLocked() {
	opts := b.settings.Load().opts
	switch {
	case opts.AllowOtherUsers:
		b.log.Warn("allow_other_users is on: every user of this computer can use this bridge")
	case !peerLookupSupported:
		b.log.Warn("this OS cannot tell which user connects: every user of this computer can use this bridge (README: Shared computers and terminal servers)")
	case runsAsSystemAccount():
		// A system service serves nobody's browser with the check on:
		// browsers never run as root or LocalSystem.
		b.log.Warn("running as a system account: only its own processes may connect, so browsers cannot; for a service that serves every user of this computer set allow_other_users = true")
	}
	if opts.AnnounceDir == "" {
		return
	}
	remove, err := announce(opts.AnnounceDir, b.port)
	if err != nil {
		// Pages of this user then find the bridge only on the ports they
		// scan; the bridge itself works.
		b.log.Warn("could not announce the port for this user's pages", "dir", opts.AnnounceDir, "err", err)
		return
	}
	b.unannounce = remove
}

// runsAsSystemAccount: root, or Windows's LocalSystem, LocalService or
// NetworkService (well-known SIDs S-1-5-18, -19, -20).
func runsAsSystemAccount() bool {
	k, err := ownUserKey()
	return err == nil && (k == "0" || k == "S-1-5-18" || k == "S-1-5-19" || k == "S-1-5-20")
}
