package bridge

import (
	"context"
	"io"
	"net"
	"net/http"
	"orionbridge/internal/testutil"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedConsent answers every prompt with answer, after release is closed
// (if set). NoAnswer waits for the prompt's context, as a closed or ignored
// prompt would.
type scriptedConsent struct {
	answer  ConsentAnswer
	release chan struct{}
	asked   atomic.Int32
}

func (c *scriptedConsent) AskOrigin(ctx context.Context, origin string) ConsentAnswer {
	c.asked.Add(1)
	if c.release != nil {
		<-c.release
	}
	if c.answer == NoAnswer {
		<-ctx.Done()
	}
	return c.answer
}

const shopOrigin = "https://shop.example.com"

func consentBridge(t *testing.T, c Consent, mod func(*Options)) (*Bridge, *[]string) {
	t.Helper()
	e := startEngine(t, echo)
	var mu sync.Mutex
	saved := &[]string{}
	b := startBridge(t, e.addr, func(o *Options) {
		o.AskUnknownOrigins = true
		o.OnConsent = func(origin string, a ConsentAnswer) {
			mu.Lock()
			*saved = append(*saved, a.String()+" "+origin)
			mu.Unlock()
		}
		if mod != nil {
			mod(o)
		}
	})
	b.SetConsent(c)
	b.gate.wait = 200 * time.Millisecond
	return b, saved
}

func dialStatus(t *testing.T, b *Bridge, origin string) (int, string) {
	t.Helper()
	c, resp, err := dial(t, b, dialOpts{origin: origin})
	if c != nil {
		c.Close()
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("no response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestConsentAnswers(t *testing.T) {
	tests := []struct {
		answer     ConsentAnswer
		status     int
		body       string
		saved      string
		askedAgain bool // a second attempt prompts again
	}{
		{AllowOnce, 101, "", "", false},
		{AlwaysAllow, 101, "", "always allow " + shopOrigin, true},
		{Deny, 403, "denied by the operator", "deny " + shopOrigin, false},
		{NoAnswer, 403, "did not answer", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.answer.String(), func(t *testing.T) {
			c := &scriptedConsent{answer: tt.answer}
			b, saved := consentBridge(t, c, nil)
			status, body := dialStatus(t, b, shopOrigin)
			if status != tt.status || !strings.Contains(body, tt.body) {
				t.Fatalf("status %d %q, want %d %q", status, body, tt.status, tt.body)
			}
			if got := strings.Join(*saved, ","); got != tt.saved {
				t.Errorf("saved %q, want %q", got, tt.saved)
			}
			// AlwaysAllow is kept by the app saving the origin and
			// reconfiguring; without that the bridge asks again.
			dialStatus(t, b, shopOrigin)
			if again := c.asked.Load() == 2; again != tt.askedAgain {
				t.Errorf("prompted %d times", c.asked.Load())
			}
		})
	}
}

func TestConsentCooldown(t *testing.T) {
	c := &scriptedConsent{answer: Deny}
	b, _ := consentBridge(t, c, nil)
	now := time.Now()
	b.gate.now = func() time.Time { return now }
	dialStatus(t, b, shopOrigin)
	status, body := dialStatus(t, b, shopOrigin)
	if status != 403 || !strings.Contains(body, "not asking again") || c.asked.Load() != 1 {
		t.Fatalf("within the cooldown: %d %q, %d prompts", status, body, c.asked.Load())
	}
	now = now.Add(consentCooldown + time.Second)
	dialStatus(t, b, shopOrigin)
	if c.asked.Load() != 2 {
		t.Fatalf("after the cooldown: %d prompts, want 2", c.asked.Load())
	}
}

func TestOnePromptPerOrigin(t *testing.T) {
	c := &scriptedConsent{answer: AllowOnce, release: make(chan struct{})}
	b, _ := consentBridge(t, c, nil)
	b.gate.wait = 10 * time.Second
	const n = 5
	statuses := make(chan int, n)
	for range n {
		go func() {
			s, _ := dialStatus(t, b, shopOrigin)
			statuses <- s
		}()
	}
	testutil.WaitFor(t, "the prompt", func() bool { return c.asked.Load() == 1 })
	time.Sleep(50 * time.Millisecond) // let the other requests queue behind it
	close(c.release)
	for range n {
		if s := <-statuses; s != 101 {
			t.Errorf("status %d", s)
		}
	}
	if c.asked.Load() != 1 {
		t.Fatalf("%d prompts for one origin", c.asked.Load())
	}
}

func TestNoPromptWhenNotAsking(t *testing.T) {
	tests := map[string]func(*Options){
		"ask_unknown_origins off": func(o *Options) { o.AskUnknownOrigins = false },
		"denied origin":           func(o *Options) { o.DeniedOrigins = []string{shopOrigin} },
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			c := &scriptedConsent{answer: AllowOnce}
			b, _ := consentBridge(t, c, mod)
			if status, _ := dialStatus(t, b, shopOrigin); status != 403 || c.asked.Load() != 0 {
				t.Fatalf("status %d after %d prompts", status, c.asked.Load())
			}
		})
	}
	c := &scriptedConsent{answer: AllowOnce}
	b, _ := consentBridge(t, c, nil)
	b.SetConsent(nil)
	if status, _ := dialStatus(t, b, shopOrigin); status != 403 {
		t.Fatalf("without a prompt: status %d", status)
	}
}

func TestReconfigureKeepsSessions(t *testing.T) {
	e := startEngine(t, echo)
	b := startBridge(t, e.addr, nil)
	sub := b.Subscribe(64)
	defer sub.Close()
	c := mustDial(t, b)
	opts := b.settings.Load().opts
	opts.AllowedOrigins = []string{shopOrigin}
	opts.Token = "new"
	if err := b.Reconfigure(opts); err != nil {
		t.Fatal(err)
	}
	// The open session lives on; new ones follow the new rules.
	c.WriteMessage(1, []byte("still here"))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "still here" {
		t.Fatalf("open session after reconfigure: %q %v", p, err)
	}
	if status, _ := dialStatus(t, b, testOrigin); status != 403 {
		t.Errorf("the removed origin still connects: %d", status)
	}
	if _, resp, _ := dial(t, b, dialOpts{origin: shopOrigin}); resp == nil || resp.StatusCode != 401 {
		t.Errorf("the new token is not required")
	}
	if _, _, err := dial(t, b, dialOpts{origin: shopOrigin, query: "token=new"}); err != nil {
		t.Errorf("the new origin and token: %v", err)
	}

	// A port change restarts the listener.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	newPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts.Port = newPort
	if err := b.Reconfigure(opts); err != nil {
		t.Fatal(err)
	}
	if b.Port() != newPort {
		t.Fatalf("port %d after a change to %d", b.Port(), newPort)
	}
	if code, reason, _ := readClose(t, c); code != 1001 || reason != "bridge shutting down" {
		t.Fatalf("a port change closed the session with %d %q", code, reason)
	}
	opts.Routes = nil
	if err := b.Reconfigure(opts); err == nil {
		t.Fatal("invalid options were applied")
	}
}

// Stopping the bridge ends an open prompt at once: the waiting request is
// refused, and Stop does not wait out the prompt.
func TestStopEndsOpenPrompt(t *testing.T) {
	c := &scriptedConsent{answer: NoAnswer}
	b, _ := consentBridge(t, c, nil)
	b.gate.wait = time.Hour
	status := make(chan int, 1)
	go func() {
		s, _ := dialStatus(t, b, shopOrigin)
		status <- s
	}()
	testutil.WaitFor(t, "the prompt", func() bool { return c.asked.Load() == 1 })
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if s := <-status; s != http.StatusForbidden {
		t.Fatalf("the request waiting on the prompt got %d", s)
	}
}

// A subscriber that attaches late still gets the recent log records.
func TestLateSubscriberGetsRecentLogs(t *testing.T) {
	b := startBridge(t, "127.0.0.1:1", nil)
	sub := b.Subscribe(64)
	defer sub.Close()
	ev := nextEvent(t, sub, LogRecord)
	if ev.Log.Message != "bridge listening" {
		t.Fatalf("first replayed record %q", ev.Log.Message)
	}
}

// A Stop or Pause that runs cancelAll after a new question was registered
// but before its prompt was asked must still end that prompt. The prompt's
// cancel func used to be registered in a second critical section, so a
// cancelAll in between found none and the request waited the whole wait.
func TestCancelAllWhileAQuestionIsSetUp(t *testing.T) {
	c := &scriptedConsent{answer: NoAnswer}
	b, _ := consentBridge(t, c, nil)
	b.gate.wait = time.Hour
	b.gate.testHookAsking = b.gate.cancelAll // as Stop and Pause do, in the window
	status := make(chan int, 1)
	go func() {
		s, _ := dialStatus(t, b, shopOrigin)
		status <- s
	}()
	select {
	case s := <-status:
		if s != http.StatusForbidden {
			t.Fatalf("the request got %d, want 403", s)
		}
	case <-time.After(10 * time.Second): // hang guard: the prompt stays open for the wait
		b.gate.cancelAll() // the cancel is registered by now: end the prompt
		<-status
		t.Fatal("cancelAll in the window between registering the question and asking missed the prompt")
	}
}

// The bridge announces each new question as a typed ConsentRequested event
// naming the origin, once however many requests wait on it; another process
// answers it with AnswerConsent.
func TestConsentRequestedAndAnswerConsent(t *testing.T) {
	tests := []struct {
		answer ConsentAnswer
		status int
		saved  string
	}{
		{AllowOnce, 101, ""},
		{AlwaysAllow, 101, "always allow " + shopOrigin},
		{Deny, 403, "deny " + shopOrigin},
		{NoAnswer, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.answer.String(), func(t *testing.T) {
			c := &scriptedConsent{answer: NoAnswer} // a prompt nobody clicks
			b, saved := consentBridge(t, c, nil)
			b.gate.wait = time.Hour
			sub := b.Subscribe(64)
			defer sub.Close()
			if err := b.AnswerConsent(shopOrigin, AllowOnce); err == nil {
				t.Fatal("AnswerConsent accepted an answer with no question open")
			}
			status := make(chan int, 1)
			go func() {
				s, _ := dialStatus(t, b, shopOrigin)
				status <- s
			}()
			ev := nextEvent(t, sub, ConsentRequested)
			if ev.Origin != shopOrigin || ev.Log.Message != "" {
				t.Fatalf("ConsentRequested with origin %q, log %q", ev.Origin, ev.Log.Message)
			}
			if err := b.AnswerConsent(shopOrigin, tt.answer); err != nil {
				t.Fatal(err)
			}
			if s := <-status; s != tt.status {
				t.Fatalf("status %d, want %d", s, tt.status)
			}
			if got := strings.Join(*saved, ","); got != tt.saved {
				t.Errorf("saved %q, want %q", got, tt.saved)
			}
			if err := b.AnswerConsent(shopOrigin, AllowOnce); err == nil || !strings.Contains(err.Error(), "no open question about "+shopOrigin) {
				t.Errorf("a second answer: %v", err)
			}
		})
	}
}

// After Stop no answer lets anyone in: the question is closed.
func TestNoAnswerAfterStop(t *testing.T) {
	c := &scriptedConsent{answer: NoAnswer}
	b, _ := consentBridge(t, c, nil)
	b.gate.wait = time.Hour
	status := make(chan int, 1)
	go func() {
		s, _ := dialStatus(t, b, shopOrigin)
		status <- s
	}()
	testutil.WaitFor(t, "the prompt", func() bool { return c.asked.Load() == 1 })
	b.gate.cancelAll() // what Stop and Pause do first
	if err := b.AnswerConsent(shopOrigin, AllowOnce); err == nil {
		t.Error("an answer after cancelAll was accepted")
	}
	if s := <-status; s != http.StatusForbidden {
		t.Fatalf("status %d after cancelAll", s)
	}
}
