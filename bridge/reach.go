package bridge

// /health reports whether each route's engine accepts a TCP connection.
// /health needs no authentication, and a hostile page can fetch it in a
// loop (no-cors), so a dial per request would let any page make the bridge
// hammer the engine with connections. Instead each target's answer is kept
// for reachTTL, and concurrent callers share the one dial in flight.

import (
	"net"
	"sync"
	"time"
)

const (
	// reachTTL is how long a reachability answer is reused. Short enough
	// that a page waiting for its engine (client.js reads /health before
	// reconnecting) notices it within a second; long enough that /health
	// opens at most one connection per engine per second, whoever asks.
	reachTTL = time.Second
	// reachDialTimeout bounds one probe dial.
	reachDialTimeout = time.Second
)

// reachability caches dial results per target address. Keyed by target,
// so a route whose target changes is never answered for the old one.
type reachability struct {
	ttl time.Duration
	now func() time.Time // time.Now; tests move it forward by hand

	mu     sync.Mutex
	probes map[string]*reachProbe
}

// reachProbe is one dial: in flight until done is closed, then an answer.
type reachProbe struct {
	done chan struct{}
	ok   bool      // set before done is closed
	at   time.Time // when the dial ended; under reachability.mu
}

func newReachability() *reachability {
	return &reachability{ttl: reachTTL, now: time.Now, probes: make(map[string]*reachProbe)}
}

// reachable dials target unless an answer younger than ttl exists or a dial
// to it is in flight, in which case it returns that answer.
func (r *reachability) reachable(target string) bool {
	r.mu.Lock()
	p := r.probes[target]
	if p != nil && (!p.finished() || r.now().Sub(p.at) < r.ttl) {
		r.mu.Unlock()
		<-p.done
		return p.ok
	}
	p = &reachProbe{done: make(chan struct{})}
	r.pruneLocked()
	r.probes[target] = p
	r.mu.Unlock()

	c, err := net.DialTimeout("tcp", target, reachDialTimeout)
	if err == nil {
		c.Close()
	}
	r.mu.Lock()
	p.ok, p.at = err == nil, r.now()
	close(p.done)
	r.mu.Unlock()
	return p.ok
}

func (p *reachProbe) finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// pruneLocked drops expired answers, so targets that left the config do not
// stay in the map.
func (r *reachability) pruneLocked() {
	now := r.now()
	for t, p := range r.probes {
		if p.finished() && now.Sub(p.at) >= r.ttl {
			delete(r.probes, t)
		}
	}
}
