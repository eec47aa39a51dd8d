package bridge

import (
	"encoding/json"
	"net/http"
	"orionbridge/internal/testutil"
	"testing"
)

// A paused bridge keeps serving /health, saying it is paused, and refuses
// sessions with 503 until Start.
func TestPauseAndResume(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, nil)
	c := mustDial(t, b)
	testutil.WaitFor(t, "the session", func() bool { return len(b.Snapshot().Sessions) == 1 })
	if err := b.Pause(); err != nil {
		t.Fatal(err)
	}
	if code, reason, _ := readClose(t, c); code != 1001 || reason != "bridge stopped by the operator" {
		t.Fatalf("a paused session closed with %d %q", code, reason)
	}
	if _, resp, _ := dial(t, b, dialOpts{}); resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a session while paused: %v", resp)
	}
	var h Health
	if err := json.NewDecoder(get(t, b, "/health", nil).Body).Decode(&h); err != nil || h.Status != "paused" {
		t.Fatalf("/health while paused: %+v %v", h, err)
	}
	if b.Snapshot().Running {
		t.Fatal("a paused bridge reports running")
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	mustDial(t, b)
	if !b.Snapshot().Running {
		t.Fatal("a resumed bridge reports stopped")
	}
}
