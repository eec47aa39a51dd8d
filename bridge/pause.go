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
	b.closeInBackgroundLocked(sessions, websocket.CloseGoingAway, "bridge stopped by the operator")
	b.mu.Unlock()
	b.gate.cancelAll()
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

// closeInBackgroundLocked starts closing sessions without waiting: finish
// may wait up to closeWriteWait for each browser's socket, and Pause,
// Disconnect and EngineExited answer at once. Stop owns these goroutines
// and waits for them (waitForCloses). b.mu must be held and the sessions
// registered: the count is taken before their unregister, which Stop
// waits for, so it is never added to while Stop waits.
func (b *Bridge) closeInBackgroundLocked(sessions []*Session, code int, reason string) {
	hook := b.testHookClosing
	for _, s := range sessions {
		b.closing.Go(func() {
			if hook != nil {
				hook()
			}
			s.finish(code, reason, true)
		})
	}
}

// waitForCloses waits for every close closeInBackgroundLocked started.
func (b *Bridge) waitForCloses() { b.closing.Wait() }
