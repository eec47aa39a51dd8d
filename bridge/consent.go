package bridge

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// ConsentAnswer is the operator's answer to "origin X wants to connect".
type ConsentAnswer int

const (
	// NoAnswer: the prompt was closed or timed out. The request is refused,
	// and the origin is not asked about again for the cooldown.
	NoAnswer ConsentAnswer = iota
	// AllowOnce lets the origin in until Orion Bridge quits; nothing is saved.
	AllowOnce
	// AlwaysAllow adds the origin to allowed_origins (saved by the app).
	AlwaysAllow
	// Deny refuses the origin and adds it to denied_origins (saved).
	Deny
)

func (a ConsentAnswer) String() string {
	switch a {
	case AllowOnce:
		return "allow once"
	case AlwaysAllow:
		return "always allow"
	case Deny:
		return "deny"
	}
	return "no answer"
}

// Consent asks the operator whether an origin that is not in
// allowed_origins may connect. AskOrigin returns when the operator answers
// or ctx is done (then with NoAnswer); it must close its prompt then.
type Consent interface {
	AskOrigin(ctx context.Context, origin string) ConsentAnswer
}

const (
	// consentWait is how long an upgrade waits for the operator.
	consentWait = 30 * time.Second
	// consentCooldown keeps a refused origin from prompting again, so no
	// site can spam the operator.
	consentCooldown = 10 * time.Minute
)

// consentGate asks at most one question per origin at a time, shares the
// answer with every request waiting on it, and remembers refusals.
type consentGate struct {
	wait     time.Duration // consentWait; shorter in tests
	coolFor  time.Duration // consentCooldown; likewise
	mu       sync.Mutex
	asking   map[string]*consentQuestion
	cancels  map[string]context.CancelFunc // open prompts, ended by cancelAll
	cooldown map[string]time.Time          // origin → no prompt before this time
	allowed  map[string]bool               // AllowOnce answers, for the life of the process
	now      func() time.Time
}

type consentQuestion struct {
	done   chan struct{}
	answer ConsentAnswer
}

func newConsentGate() *consentGate {
	return &consentGate{
		wait:     consentWait,
		coolFor:  consentCooldown,
		asking:   make(map[string]*consentQuestion),
		cancels:  make(map[string]context.CancelFunc),
		cooldown: make(map[string]time.Time),
		allowed:  make(map[string]bool),
		now:      time.Now,
	}
}

// ask returns the operator's answer for origin, asking c unless a question
// is already open (then it waits for that one) or the origin is cooling
// down (then NoAnswer at once). The wait ends after g.wait or with ctx.
func (g *consentGate) ask(ctx context.Context, c Consent, origin string) (ConsentAnswer, bool) {
	g.mu.Lock()
	if g.allowed[origin] {
		g.mu.Unlock()
		return AllowOnce, false
	}
	if until, ok := g.cooldown[origin]; ok && g.now().Before(until) {
		g.mu.Unlock()
		return NoAnswer, false
	}
	q, waiting := g.asking[origin]
	if !waiting {
		q = &consentQuestion{done: make(chan struct{})}
		g.asking[origin] = q
	}
	g.mu.Unlock()

	if waiting {
		select {
		case <-q.done:
			return q.answer, false
		case <-ctx.Done():
			return NoAnswer, false
		}
	}
	// The question outlives the request that raised it only by wait; the
	// prompt closes when its context ends.
	askCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.wait)
	g.mu.Lock()
	g.cancels[origin] = cancel
	g.mu.Unlock()
	answer := c.AskOrigin(askCtx, origin)
	cancel()

	g.mu.Lock()
	switch answer {
	case AllowOnce:
		g.allowed[origin] = true
	case NoAnswer, Deny:
		g.cooldown[origin] = g.now().Add(g.coolFor)
	}
	delete(g.asking, origin)
	delete(g.cancels, origin)
	q.answer = answer
	close(q.done)
	g.mu.Unlock()
	return answer, true
}

// admitOrigin decides about an Origin: allowed, denied, or, when asking is
// on and a prompt is installed, the operator's answer. reason says why not.
func (b *Bridge) admitOrigin(r *http.Request, st *settings, origin string, port int) (bool, string) {
	if st.originAllowed(origin, port) {
		return true, ""
	}
	notAllowed := "origin " + origin + " is not allowed: add it to allowed_origins"
	if originAllowed(st.denied, origin) {
		return false, "origin " + origin + " was denied by the operator (denied_origins)"
	}
	hook := b.consent.Load()
	if !st.opts.AskUnknownOrigins || hook == nil {
		return false, notAllowed
	}
	b.log.Info("asking the operator about an unknown origin", "origin", origin)
	answer, asked := b.gate.ask(r.Context(), hook.Consent, origin)
	if asked {
		b.log.Info("the operator answered", "origin", origin, "answer", answer.String())
		if (answer == AlwaysAllow || answer == Deny) && st.opts.OnConsent != nil {
			st.opts.OnConsent(origin, answer)
		}
	}
	switch answer {
	case AllowOnce, AlwaysAllow:
		return true, ""
	case Deny:
		return false, "origin " + origin + " was denied by the operator"
	}
	if asked {
		return false, notAllowed + " (the operator did not answer within " + b.gate.wait.String() + ")"
	}
	return false, notAllowed + " (asked recently; not asking again for " + b.gate.coolFor.String() + ")"
}

// cancelAll closes every open prompt (each answers NoAnswer), when the
// bridge stops or pauses: nobody may be let in by a late click, and Stop
// must not wait out a prompt.
func (g *consentGate) cancelAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, cancel := range g.cancels {
		cancel()
	}
}
