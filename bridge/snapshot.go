package bridge

import (
	"slices"
	"strings"
	"time"
)

// Snapshot is a consistent view of the bridge for UIs and the control API.
type Snapshot struct {
	Running  bool          `json:"running"`
	Endpoint string        `json:"endpoint"`
	Version  string        `json:"version"`
	Started  time.Time     `json:"started"`
	Routes   []Route       `json:"routes"`
	Sessions []SessionInfo `json:"sessions"`
	Totals   Totals        `json:"totals"`
	// Engines is the state of each engine the app runs, by route path (see
	// Options.EngineState); routes without one are absent.
	Engines map[string]string `json:"engines,omitempty"`
	// User is the OS user whose bridge this is; PortNote says why it is
	// not on its configured port (another user's bridge or another
	// program has it), zero when it is (issue 16).
	User     string   `json:"user,omitempty"`
	PortNote PortNote `json:"port_note,omitzero"`
}

// Snapshot lists the live sessions, oldest first, with their counters.
func (b *Bridge) Snapshot() Snapshot {
	engines := b.settings.Load().engineStates() // not under b.mu: it calls the app
	b.mu.Lock()
	defer b.mu.Unlock()
	snap := Snapshot{
		Running:  b.running && !b.paused,
		Endpoint: b.endpointLocked(),
		Version:  b.settings.Load().opts.Version,
		Routes:   slices.Clone(b.settings.Load().opts.Routes),
		Totals:   b.totals,
		Engines:  engines,
		User:     bridgeUserName(),
		PortNote: b.portNote,
	}
	if b.running {
		snap.Started = b.startedAt
	}
	now := time.Now()
	for _, s := range b.sessions {
		snap.Sessions = append(snap.Sessions, s.Info(now))
		addLive(&snap.Totals, s)
	}
	slices.SortFunc(snap.Sessions, func(a, b SessionInfo) int {
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return snap
}

// engineStates asks Options.EngineState about every route; nil when no
// route has an engine.
func (st *settings) engineStates() map[string]string {
	if st.opts.EngineState == nil {
		return nil
	}
	var m map[string]string
	for _, r := range st.opts.Routes {
		if s := st.opts.EngineState(r.Path); s != "" {
			if m == nil {
				m = make(map[string]string)
			}
			m[r.Path] = s
		}
	}
	return m
}
