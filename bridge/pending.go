package bridge

// The cap on connections that are not yet a session.
//
// Every connection costs a file descriptor and a goroutine from its accept
// until it is a session or closed, and until then nobody has proven
// anything: it may be silent (sniffing its first byte), in the TLS
// handshake, sending its request header byte by byte, or idle between
// keep-alive requests. The sniff and handshake timeouts (10 s) end each
// one eventually, but a flood of them would use up the descriptors first,
// and a legitimate /health or new session would fail. So such connections
// are counted, and when a new one would exceed the cap the OLDEST is
// closed: a stalled attacker is old, while a real client finishes its
// handshake and request within milliseconds of connecting, so the real ones
// always find room. Connections whose request is being handled, and
// sessions (hijacked connections), are never counted and never closed here.

import (
	"container/list"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// defaultMaxPendingConns is Options.MaxPendingConns's default: far more
// than browsers open at once (about six per host), far fewer than the
// descriptors a process may use.
const defaultMaxPendingConns = 256

// pendingConns tracks connections that are not yet a session, oldest first.
// Connections are keyed by the accepted TCP connection, whatever wraps it
// later (sniffedConn, tls.Conn).
type pendingConns struct {
	limit    func() int // read on every add, so Reconfigure applies at once
	refusals *refusalLog

	mu      sync.Mutex
	order   list.List // of net.Conn, oldest at the front
	at      map[net.Conn]*list.Element
	evicted uint64
}

func newPendingConns(limit func() int, refusals *refusalLog) *pendingConns {
	return &pendingConns{limit: limit, refusals: refusals, at: make(map[net.Conn]*list.Element)}
}

// add counts c as pending, as the newest; when that exceeds the cap the
// oldest pending connections are closed.
func (p *pendingConns) add(c net.Conn) {
	c = acceptedConn(c)
	limit := max(p.limit(), 1)
	var victims []net.Conn
	p.mu.Lock()
	if _, ok := p.at[c]; ok {
		p.mu.Unlock()
		return
	}
	for len(p.at) >= limit {
		e := p.order.Front()
		v := p.order.Remove(e).(net.Conn)
		delete(p.at, v)
		victims = append(victims, v)
	}
	p.at[c] = p.order.PushBack(c)
	p.evicted += uint64(len(victims))
	p.mu.Unlock()
	for _, v := range victims {
		// Closing the TCP connection ends the sniff, the handshake or the
		// header read that holds it, and that goroutine cleans up.
		v.Close()
		if p.refusals != nil {
			p.refusals.refused(slog.LevelWarn, "connection closed before its request",
				"max_pending_conns ("+strconv.Itoa(limit)+") connections were in the TLS handshake or sending their request: the oldest was closed to make room",
				"", "client", v.RemoteAddr().String())
		}
	}
}

// remove stops counting c; it is a session, being served, or closed.
func (p *pendingConns) remove(c net.Conn) {
	c = acceptedConn(c)
	p.mu.Lock()
	if e, ok := p.at[c]; ok {
		p.order.Remove(e)
		delete(p.at, c)
	}
	p.mu.Unlock()
}

// connState is the http.Server's ConnState hook. A connection is counted
// from its accept (splitListener.add) until the server has read a whole
// request (StateActive), and again while it waits idle for the next one.
func (p *pendingConns) connState(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateIdle:
		p.add(c)
	case http.StateActive, http.StateHijacked, http.StateClosed:
		p.remove(c)
	}
}

// closeAll closes every pending connection: none has a request being
// served, so nothing is lost, and Stop need not wait for their timeouts.
func (p *pendingConns) closeAll() {
	p.mu.Lock()
	conns := make([]net.Conn, 0, len(p.at))
	for c := range p.at {
		conns = append(conns, c)
	}
	p.order.Init()
	clear(p.at)
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// counts returns how many connections are pending and how many were closed
// to make room since Start.
func (p *pendingConns) counts() (pending int, evicted uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.at), p.evicted
}

// acceptedConn unwraps what the servers see to the accepted TCP connection.
func acceptedConn(c net.Conn) net.Conn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if sc, ok := c.(*sniffedConn); ok {
		c = sc.Conn
	}
	return c
}
