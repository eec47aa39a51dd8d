package tray

import (
	"context"
	"slices"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"orionbridge/bridge"
)

// consentPrompts is the tray's bridge.Consent: a small window per origin the
// bridge asks about, and the list of open questions for the Sites tab. The
// bridge already asks one question per origin at a time, times it out and
// remembers refusals; this only shows the question and returns the click.
type consentPrompts struct {
	app fyne.App
	ui  func(func()) // runs UI work on Fyne's goroutine
	// changed is called, on any goroutine, when a question opens or closes.
	changed func()

	mu      sync.Mutex
	pending []*consentRequest // oldest first
	closed  bool              // the UI is gone: answer nothing, ask nobody
}

// consentRequest is one open question.
type consentRequest struct {
	Origin   string
	Asked    time.Time
	Deadline time.Time // when the bridge stops waiting; zero if never

	answers chan bridge.ConsentAnswer // capacity 1: the first answer wins

	// Touched on the UI goroutine only.
	window    fyne.Window
	countdown *widget.Label
	dismissed bool
}

var _ bridge.Consent = (*consentPrompts)(nil)

func newConsentPrompts(a fyne.App, ui func(func()), changed func()) *consentPrompts {
	return &consentPrompts{app: a, ui: ui, changed: changed}
}

// AskOrigin shows the prompt and waits for a button, the window's close
// box (NoAnswer), or the end of ctx (NoAnswer, and the prompt closes). It is
// called on the bridge's goroutines.
func (c *consentPrompts) AskOrigin(ctx context.Context, origin string) bridge.ConsentAnswer {
	req := &consentRequest{Origin: origin, Asked: time.Now(), answers: make(chan bridge.ConsentAnswer, 1)}
	req.Deadline, _ = ctx.Deadline()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return bridge.NoAnswer
	}
	c.pending = append(c.pending, req)
	c.mu.Unlock()
	c.changed()
	c.ui(func() { c.show(req) })

	var answer bridge.ConsentAnswer
	select {
	case answer = <-req.answers:
	case <-ctx.Done():
		answer = bridge.NoAnswer
	}

	c.mu.Lock()
	c.pending = slices.DeleteFunc(c.pending, func(r *consentRequest) bool { return r == req })
	c.mu.Unlock()
	c.changed()
	c.ui(func() { c.dismiss(req) })
	return answer
}

// Pending lists the open questions, oldest first. The requests' exported
// fields are safe to read on any goroutine.
func (c *consentPrompts) Pending() []*consentRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.pending)
}

// Answer answers the open question about origin, e.g. from the Sites tab.
func (c *consentPrompts) Answer(origin string, a bridge.ConsentAnswer) {
	for _, r := range c.Pending() {
		if r.Origin == origin {
			r.answer(a)
		}
	}
}

// close answers every open question with NoAnswer and refuses new ones: the
// UI is going away and nobody could click.
func (c *consentPrompts) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.dropAll()
}

// dropAll answers every open question with NoAnswer. A stopping bridge
// would otherwise wait, up to its shutdown grace, for the requests the
// prompts hold.
func (c *consentPrompts) dropAll() {
	for _, r := range c.Pending() {
		r.answer(bridge.NoAnswer)
	}
}

func (r *consentRequest) answer(a bridge.ConsentAnswer) {
	select {
	case r.answers <- a:
	default: // already answered
	}
}

// show opens the prompt window for req, unless it was answered already.
func (c *consentPrompts) show(req *consentRequest) {
	if req.dismissed {
		return
	}
	w := c.app.NewWindow(lang.X("consent.title", "Allow this site? · Orion Bridge"))
	choose := func(a bridge.ConsentAnswer) func() {
		return func() {
			req.answer(a)
			c.dismiss(req) // at once, rather than when the bridge has noted it
		}
	}
	// The question is the window's headline: the origin large and bold on a
	// line of its own (origins are long), then what it wants.
	origin := widget.NewRichText(&widget.TextSegment{Text: req.Origin, Style: widget.RichTextStyle{
		SizeName: theme.SizeNameSubHeadingText, TextStyle: fyne.TextStyle{Bold: true}}})
	origin.Truncation = fyne.TextTruncateEllipsis
	question := widget.NewLabel(lang.X("consent.question", "wants to connect to the report engine"))
	advice := widget.NewLabel(lang.X("consent.advice", "Allow it only if you use the Orion Report Editor on this site. "+
		"Always allow adds it to the allowed sites; Deny keeps refusing it."))
	advice.Wrapping = fyne.TextWrapWord
	req.countdown = hintLabel("")
	c.updateCountdown(req, time.Now())

	allowOnce := widget.NewButton(lang.X("consent.allow_once", "Allow once"), choose(bridge.AllowOnce))
	allowOnce.Importance = widget.HighImportance
	always := widget.NewButton(lang.X("consent.always_allow", "Always allow"), choose(bridge.AlwaysAllow))
	deny := widget.NewButton(lang.X("consent.deny", "Deny"), choose(bridge.Deny))
	buttons := container.NewHBox(layout.NewSpacer(), allowOnce, always, deny)

	icon := canvas.NewImageFromResource(appIcon)
	icon.FillMode = canvas.ImageFillContain
	icon.SetMinSize(fyne.NewSquareSize(56))
	body := container.NewVBox(origin, question, advice, req.countdown)
	w.SetContent(container.NewPadded(container.NewBorder(nil, buttons, container.NewVBox(container.NewPadded(icon)), nil, body)))
	// Closing the window is an answer too: "not now", which the bridge
	// treats like a timeout.
	w.SetCloseIntercept(choose(bridge.NoAnswer))
	w.Resize(fyne.NewSize(540, 220))
	w.SetFixedSize(true)
	w.CenterOnScreen()
	req.window = w
	w.Show()
	w.RequestFocus()
}

// dismiss closes req's window, if it has one.
func (c *consentPrompts) dismiss(req *consentRequest) {
	req.dismissed = true
	if req.window != nil {
		req.window.Close()
		req.window = nil
	}
}

// tick updates the countdowns; called on the UI goroutine every second.
func (c *consentPrompts) tick(now time.Time) {
	for _, r := range c.Pending() {
		c.updateCountdown(r, now)
	}
}

func (c *consentPrompts) updateCountdown(r *consentRequest, now time.Time) {
	if r.countdown == nil || r.Deadline.IsZero() {
		return
	}
	left := max(0, int(r.Deadline.Sub(now).Round(time.Second)/time.Second))
	r.countdown.SetText(lang.X("consent.countdown", "Without an answer the site is refused in {{.Seconds}} s.", map[string]any{"Seconds": left}))
}

// openWindow is the newest prompt window, for screenshots; UI goroutine only.
func (c *consentPrompts) openWindow() fyne.Window {
	p := c.Pending()
	for i := len(p) - 1; i >= 0; i-- {
		if p[i].window != nil {
			return p[i].window
		}
	}
	return nil
}
