package bridge

import (
	"time"

	"github.com/gorilla/websocket"
)

// Pause closes every session with 1001 and refuses new ones with 503, but
// keeps listening: /health and the control API stay reachable, so a tray
// in another process can start the bridge again. Start resumes.
func (b *Bridge) Pause() error {
	b.mu.Lock()
	if !b.running || b.paused {
		b.mu.Unlock()
		return nil
	}
	b.paused = true
	sessions := make([]*Session, 0, len(b.sessions))
	for _, s := range b.sessions {
		sessions = append(sessions, s)
	}
	b.mu.Unlock()
	b.gate.cancelAll()
	for _, s := range sessions {
		go s.finish(websocket.CloseGoingAway, "bridge stopped by the operator", true)
	}
	b.log.Info("bridge paused: sessions closed, new ones refused until started again")
	b.bus.publish(Event{Kind: StateChanged, Time: time.Now()})
	return nil
}

// Paused reports whether the bridge listens but refuses sessions.
func (b *Bridge) Paused() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.paused
}

// Publish sends an event of the application's own to every subscriber,
// e.g. a consent question for a remote tray.
func (b *Bridge) Publish(e Event) { b.bus.publish(e) }
