package bridge

import (
	"context"
	"fmt"
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
	// ConsentWait is how long an upgrade waits for the operator. A prompt in
	// another process (app.Remote) gives up after it too, so it never asks
	// a question the bridge no longer waits for.
	ConsentWait = 30 * time.Second
	// consentCooldown keeps a refused origin from prompting again, so no
	// site can spam the operator.
	consentCooldown = 10 * time.Minute
)

// consentGate asks at most one question per origin at a time, shares the
// answer with every request waiting on it, and remembers refusals.
type consentGate struct {
	wait     time.Duration // ConsentWait; shorter in tests
	coolFor  time.Duration // consentCooldown; likewise
	mu       sync.Mutex
	asking   map[string]*consentQuestion
	cooldown map[string]time.Time // origin → no prompt before this time
	allowed  map[string]bool      // AllowOnce answers, for the life of the process
	now      func() time.Time

	// testHookAsking, when set, runs after a new question is registered and
	// before its prompt is asked: tests stop the bridge exactly there.
	testHookAsking func()
}

// consentQuestion is one open question. Its prompt's context is made with
// the question, under the same lock, so a cancelAll at any moment after
// the question exists ends its prompt.
type consentQuestion struct {
	ctx    context.Context // the prompt's; ends after wait, cancelAll or an answer
	cancel context.CancelFunc
	done   chan struct{}
	answer ConsentAnswer

	// given is an answer delivered through answer (the control API) rather
	// than by the prompt; ended is set by cancelAll, after which no answer
	// is taken: nobody may be let in by a late click.
	given *ConsentAnswer
	ended bool
}

func newConsentGate() *consentGate {
	return &consentGate{
		wait:     ConsentWait,
		coolFor:  consentCooldown,
		asking:   make(map[string]*consentQuestion),
		cooldown: make(map[string]time.Time),
		allowed:  make(map[string]bool),
		now:      time.Now,
	}
}

// ask returns the operator's answer for origin, asking c unless a question
// is already open (then it waits for that one) or the origin is cooling
// down (then NoAnswer at once). The wait ends after g.wait or with ctx.
// announce, when set, is called once for a new question, before c is
// asked: the bridge publishes ConsentRequested there.
func (g *consentGate) ask(ctx context.Context, c Consent, origin string, announce func(origin string)) (ConsentAnswer, bool) {
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
		// The question outlives the request that raised it only by wait;
		// the prompt closes when its context ends. The context is made
		// here, with the question, so that cancelAll finds it the moment
		// the question is visible: registering it later left a window in
		// which a Stop missed the prompt and it stayed open for the whole
		// wait.
		q = &consentQuestion{done: make(chan struct{})}
		q.ctx, q.cancel = context.WithTimeout(context.WithoutCancel(ctx), g.wait)
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
	if g.testHookAsking != nil {
		g.testHookAsking()
	}
	if announce != nil {
		announce(origin)
	}
	answer := c.AskOrigin(q.ctx, origin)
	q.cancel()

	g.mu.Lock()
	if q.given != nil && answer == NoAnswer {
		answer = *q.given // answered through answer: the prompt saw its context end
	}
	if q.ended {
		answer = NoAnswer // stopped or paused: a click that raced the stop counts for nothing
	}
	switch answer {
	case AllowOnce:
		g.allowed[origin] = true
	case NoAnswer, Deny:
		g.cooldown[origin] = g.now().Add(g.coolFor)
	}
	delete(g.asking, origin)
	q.answer = answer
	close(q.done)
	g.mu.Unlock()
	return answer, true
}

// answer delivers an answer to the open question about origin from
// outside its prompt (the control API, for a tray in another process): the
// prompt's context ends and ask returns this answer. It reports false when
// no question about origin is open or it was ended or already answered.
func (g *consentGate) answer(origin string, a ConsentAnswer) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	q, ok := g.asking[origin]
	if !ok || q.ended || q.given != nil {
		return false
	}
	q.given = &a
	q.cancel()
	return true
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
	answer, asked := b.gate.ask(r.Context(), hook.Consent, origin, func(origin string) {
		b.bus.publish(Event{Kind: ConsentRequested, Time: time.Now(), Origin: origin})
	})
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
	for _, q := range g.asking {
		q.ended = true
		q.cancel()
	}
}

// AnswerConsent answers the open question about origin as the operator
// would through the prompt, for a prompt shown by another process (the
// control API's remote tray). The question was announced as a
// ConsentRequested event. It fails when no question about origin is open,
// e.g. it timed out, was answered, or the bridge stopped meanwhile.
func (b *Bridge) AnswerConsent(origin string, answer ConsentAnswer) error {
	if !b.gate.answer(origin, answer) {
		return fmt.Errorf("no open question about %s: it was answered, timed out after %s, or the bridge stopped", origin, b.gate.wait)
	}
	return nil
}
