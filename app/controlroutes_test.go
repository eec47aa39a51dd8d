package app

import (
	"context"
	"encoding/json"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"orionbridge/bridge"
	"orionbridge/internal/testutil"
)

// The control API is routed by method and path: a known path called with
// another method is a 405 naming the allowed ones, an unknown call a 404
// naming it, and a session id comes from the path.
func TestControlAPIRoutes(t *testing.T) {
	in := startInstance(t)
	secret, err := readControlSecret(in.RunningConfig().DataDir)
	if err != nil {
		t.Fatal(err)
	}
	auth := map[string][]string{"Authorization": {"Bearer " + secret}}
	tests := []struct {
		method, path string
		status       int
		body         string
		allow        string
	}{
		{"GET", "/api/info", 200, `"mode":"headless"`, ""},
		{"GET", "/api/nothing-here", 404, "404 not found: no control API call GET /api/nothing-here", ""},
		{"POST", "/api/info", 405, "POST /api/info takes GET", "GET"},
		{"DELETE", "/api/config", 405, "takes GET, PUT", "GET, PUT"},
		{"GET", "/api/sessions/7/disconnect", 405, "takes POST", "POST"},
		{"POST", "/api/sessions/no-such-id/disconnect", 404, "disconnect no-such-id: no such session", ""},
		{"POST", "/api/consent", 400, "bad JSON", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, body := controlRequest(t, in, tt.method, tt.path, auth)
			if status != tt.status || !strings.Contains(body, tt.body) {
				t.Fatalf("%d %q, want %d containing %q", status, body, tt.status, tt.body)
			}
		})
	}
	// The checks run before routing: an unknown call without the secret
	// is a 401, not a 404 that would tell a stranger what exists.
	if status, _ := controlRequest(t, in, "GET", "/api/nothing-here", nil); status != 401 {
		t.Errorf("an unknown call without the secret: %d, want 401", status)
	}
}

// A Remote whose bridge went away says so: every read returns an error,
// never a zero value that looks like a stopped bridge or an empty config.
func TestRemoteReadsReportAnUnreachableBridge(t *testing.T) {
	in := startInstance(t)
	r, err := Attach(in.RunningConfig(), in.Bridge.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if _, err := r.Config(ctx); err != nil {
		t.Fatalf("while running: %v", err)
	}
	if err := in.Stop(); err != nil {
		t.Fatal(err)
	}
	reads := map[string]func() error{
		"Snapshot":    func() error { _, err := r.Snapshot(ctx); return err },
		"Health":      func() error { _, err := r.Health(ctx); return err },
		"Config":      func() error { _, err := r.Config(ctx); return err },
		"Certificate": func() error { _, err := r.Certificate(ctx); return err },
	}
	for name, read := range reads {
		if err := read(); err == nil || !strings.Contains(err.Error(), "/api/") {
			t.Errorf("%s on a stopped bridge: %v, want an error naming the call", name, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Config(cancelled); err == nil {
		t.Error("Config with a cancelled context did not fail")
	}
}

// Certificate changes and consent questions cross the control API as
// typed events with their own fields, not as log text.
func TestTypedEventsOverTheControlAPI(t *testing.T) {
	in := startInstance(t)
	cfg := in.RunningConfig()
	cfg.AskUnknownOrigins = true
	if err := in.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	r, err := Attach(cfg, in.Bridge.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := r.Subscribe(ctx, 256)
	next := func(kind bridge.EventKind) bridge.Event {
		t.Helper()
		timeout := time.After(10 * time.Second) // hang guard
		for {
			select {
			case ev := <-events:
				if ev.Kind == kind {
					return ev
				}
			case <-timeout:
				t.Fatalf("no %v event over the control API", kind)
			}
		}
	}
	next(bridge.LogRecord) // the stream is attached: it replays recent records

	if err := in.RenewCertificate(); err != nil {
		t.Fatal(err)
	}
	ev := next(bridge.CertificateChanged)
	st := in.Certs.Status()
	if c := ev.Certificate; c.What != "leaf-issued" || c.Reason != "forced renewal" || c.Serial != st.LeafSerial || c.NotAfter.IsZero() {
		t.Fatalf("certificate-changed %+v, want leaf-issued %s", c, st.LeafSerial)
	}

	// A local prompt that nobody answers; the question is announced.
	in.SetConsent(waitingPrompt{})
	done := make(chan int, 1)
	go func() { done <- connect(t, in, "https://shop.example.com") }()
	ev = next(bridge.ConsentRequested)
	if ev.Origin != "https://shop.example.com" || ev.Log.Message != "" {
		t.Fatalf("consent-requested with origin %q, log %q", ev.Origin, ev.Log.Message)
	}
	if err := in.Bridge.AnswerConsent(ev.Origin, bridge.Deny); err != nil {
		t.Fatal(err)
	}
	if s := <-done; s != 403 {
		t.Fatalf("denied origin: %d", s)
	}
}

// waitingPrompt waits for its context, as an unanswered prompt does.
type waitingPrompt struct{}

func (waitingPrompt) AskOrigin(ctx context.Context, _ string) bridge.ConsentAnswer {
	<-ctx.Done()
	return bridge.NoAnswer
}

// heldPrompt records a question and, once its context ends, holds the
// prompt open until released: a prompt slow to close.
type heldPrompt struct {
	asked    chan string
	release  chan struct{}
	mu       sync.Mutex
	returned bool
}

func (p *heldPrompt) AskOrigin(ctx context.Context, origin string) bridge.ConsentAnswer {
	p.asked <- origin
	<-ctx.Done()
	<-p.release
	p.mu.Lock()
	p.returned = true
	p.mu.Unlock()
	return bridge.NoAnswer
}

// Remote asks each consent question on a goroutine of its own; Close owns
// them and returns only after each has ended. It used to start them
// untracked and return with a prompt still open.
func TestRemoteCloseWaitsForConsentQuestions(t *testing.T) {
	in := startInstance(t)
	cfg := in.RunningConfig()
	cfg.AskUnknownOrigins = true
	if err := in.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	r, err := Attach(cfg, in.Bridge.Port())
	if err != nil {
		t.Fatal(err)
	}
	p := &heldPrompt{asked: make(chan string, 1), release: make(chan struct{})}
	r.SetConsent(p)
	testutil.WaitFor(t, "the remote prompt to attach", func() bool {
		in.control.mu.Lock()
		defer in.control.mu.Unlock()
		return in.control.prompters == 1
	})
	status := make(chan int, 1)
	go func() { status <- connect(t, in, "https://shop.example.com") }()
	if got := <-p.asked; got != "https://shop.example.com" {
		t.Fatalf("asked about %q", got)
	}

	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	testutil.WaitFor(t, "Close to wait for the open question", func() bool {
		select {
		case <-closed:
			p.mu.Lock()
			returned := p.returned
			p.mu.Unlock()
			if !returned {
				close(p.release)
				t.Fatal("Close returned while a consent question it started was still open")
			}
		default:
		}
		// Close waits in SetConsent, the stream gone: only the question
		// holds it.
		stacks := allStacks()
		return strings.Contains(stacks, "(*Remote).SetConsent") && !strings.Contains(stacks, "(*Remote).stream(")
	})
	close(p.release)
	<-closed
	// The detached prompt's NoAnswer was posted: the browser is refused at
	// once rather than after the bridge's whole wait.
	if s := <-status; s != 403 {
		t.Fatalf("status %d", s)
	}
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// Every event kind survives the control stream's JSON with its own field.
func TestWireEventRoundTrip(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	tests := []bridge.Event{
		{Kind: bridge.SessionOpened, Time: now, Session: bridge.SessionInfo{ID: "1", Origin: "https://a.example"}},
		{Kind: bridge.SessionClosed, Time: now, Session: bridge.SessionInfo{ID: "1", CloseCode: 1000}},
		{Kind: bridge.LogRecord, Time: now, Log: bridge.LogEntry{Time: now, Message: "bridge listening"}},
		{Kind: bridge.StateChanged, Time: now},
		{Kind: bridge.CertificateChanged, Time: now, Certificate: bridge.CertificateChange{What: "ca-renewed", Serial: "01", NotAfter: now, Fingerprint: "AA", Path: "/x/ca.pem"}},
		{Kind: bridge.ConsentRequested, Time: now, Origin: "https://shop.example.com"},
	}
	for _, want := range tests {
		t.Run(want.Kind.String(), func(t *testing.T) {
			b, err := json.Marshal(eventJSON(want))
			if err != nil {
				t.Fatal(err)
			}
			var w wireEvent
			if err := json.Unmarshal(b, &w); err != nil {
				t.Fatal(err)
			}
			got, err := w.event()
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s\ndecoded %+v, %v\nwant    %+v", b, got, err, want)
			}
		})
	}
	if _, err := (wireEvent{Kind: "from-a-newer-bridge"}).event(); err == nil {
		t.Error("an unknown kind decoded")
	}
}
