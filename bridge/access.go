package bridge

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gorilla/websocket"
)

// originPattern is one allowed_origins entry: an exact origin, or with
// wildcard set, any subdomain of host ("https://*.example.com").
type originPattern struct {
	scheme   string
	host     string
	port     string // "" means the scheme's default port
	wildcard bool
}

// ParseOrigin checks that s is an origin as browsers send it in the Origin
// header, scheme://host[:port], with "*." allowed as the host's first label,
// and returns it in canonical form: lower-cased, without a default port.
func ParseOrigin(s string) (string, error) {
	p, err := parseOrigin(s)
	if err != nil {
		return "", err
	}
	return p.String(), nil
}

func parseOrigin(s string) (originPattern, error) {
	bad := func(why string) (originPattern, error) {
		return originPattern{}, fmt.Errorf("origin %q: %s", s, why)
	}
	scheme, hostport, ok := strings.Cut(s, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "http" && scheme != "https") {
		return bad("expected http:// or https://")
	}
	// Anything with userinfo, a path, query or fragment is not an origin.
	if strings.ContainsAny(hostport, "/?#@\\") {
		return bad("expected scheme://host[:port] with nothing after it")
	}
	p := originPattern{scheme: scheme, host: hostport}
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.HasSuffix(hostport, "]") {
		port, ok := parsePort(hostport[i+1:])
		if !ok {
			return bad("the port must be a number 1-65535")
		}
		p.host = hostport[:i]
		if strconv.Itoa(port) != defaultPort(scheme) {
			p.port = strconv.Itoa(port)
		}
	}
	p.host = strings.ToLower(p.host)
	if rest, ok := strings.CutPrefix(p.host, "*."); ok {
		p.wildcard, p.host = true, rest
	}
	if !validHost(p.host, !p.wildcard) {
		return bad("invalid host name (a wildcard may only stand as the first label, as in https://*.example.com)")
	}
	return p, nil
}

// String is the pattern in canonical form.
func (p originPattern) String() string {
	s := p.scheme + "://"
	if p.wildcard {
		s += "*."
	}
	s += p.host
	if p.port != "" {
		s += ":" + p.port
	}
	return s
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// CheckTarget checks a route target: host:port with a host name or IP
// address and a port 1-65535.
func CheckTarget(t string) error {
	host, port, err := net.SplitHostPort(t)
	if err != nil {
		return fmt.Errorf("target %q: expected host:port: %w", t, err)
	}
	if _, ok := parsePort(port); !ok {
		return fmt.Errorf("target %q: the port must be a number 1-65535", t)
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" {
		return nil
	}
	if !validHostname(host) {
		return fmt.Errorf("target %q: invalid host", t)
	}
	return nil
}

// parsePort accepts only digits: strconv.Atoi would also take "+80".
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	p, _ := strconv.Atoi(s)
	return p, p >= 1 && p <= 65535
}

// validHost accepts a host name, an IPv4 address or, when ipAllowed, an
// IPv6 address in brackets.
func validHost(h string, ipAllowed bool) bool {
	if inner, ok := strings.CutPrefix(h, "["); ok && strings.HasSuffix(inner, "]") {
		a, err := netip.ParseAddr(strings.TrimSuffix(inner, "]"))
		return ipAllowed && err == nil && a.Is6() && a.Zone() == ""
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return ipAllowed && a.Is4()
	}
	return validHostname(h)
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		if strings.TrimFunc(label, func(r rune) bool {
			return r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		}) != "" {
			return false
		}
	}
	return true
}

func (p originPattern) matches(o originPattern) bool {
	if p.scheme != o.scheme || p.port != o.port || o.wildcard {
		return false
	}
	if p.wildcard {
		return strings.HasSuffix(o.host, "."+p.host)
	}
	return p.host == o.host
}

// originAllowed reports whether the browser-sent Origin header matches one of
// the patterns. A missing Origin or "null" never matches.
func originAllowed(patterns []originPattern, origin string) bool {
	if origin == "" || origin == "null" {
		return false
	}
	o, err := parseOrigin(origin)
	if err != nil {
		return false
	}
	for _, p := range patterns {
		if p.matches(o) {
			return true
		}
	}
	return false
}

// hostAllowed checks the Host header against the loopback names the bridge
// answers to, with its port. Any other name means the request was sent to a
// hostname that resolves to us (DNS rebinding), so it is refused.
func hostAllowed(host string, port int) bool {
	h, p, err := net.SplitHostPort(host)
	if err != nil || p != strconv.Itoa(port) {
		return false
	}
	switch strings.ToLower(h) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// tokenCheck compares a presented token with the configured one in constant
// time. Hashing first also hides the configured token's length.
type tokenCheck struct {
	set  bool
	hash [32]byte
}

func newTokenCheck(token string) tokenCheck {
	if token == "" {
		return tokenCheck{}
	}
	return tokenCheck{set: true, hash: sha256.Sum256([]byte(token))}
}

func (t tokenCheck) ok(presented string) bool {
	h := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(h[:], t.hash[:]) == 1
}

const bearerPrefix = "bearer."

// presentedToken finds the token in ?token= or in a "bearer.<token>"
// subprotocol, the only header-like place a browser WebSocket can carry one.
func presentedToken(r *http.Request) string {
	for _, p := range websocket.Subprotocols(r) {
		if t, ok := strings.CutPrefix(p, bearerPrefix); ok {
			return t
		}
	}
	return r.URL.Query().Get("token")
}

// chooseSubprotocol answers the client's subprotocol offer. A browser fails
// the handshake if it offered protocols and none is echoed, so the bridge
// picks the page's own protocol when there is one, else the bearer one.
func chooseSubprotocol(r *http.Request) string {
	offered := websocket.Subprotocols(r)
	for _, p := range offered {
		if !strings.HasPrefix(p, bearerPrefix) {
			return p
		}
	}
	if len(offered) > 0 {
		return offered[0]
	}
	return ""
}
