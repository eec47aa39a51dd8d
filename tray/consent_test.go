package tray

import (
	"context"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"orionbridge/bridge"
)

const shopOrigin = "https://shop.example.com"

// closeBoxApp records each window's close intercept, so a test can click a
// window's close box, which Fyne's test windows cannot.
type closeBoxApp struct {
	fyne.App
	windows []*closeBoxWindow
}

type closeBoxWindow struct {
	fyne.Window
	intercept func()
}

func (a *closeBoxApp) NewWindow(title string) fyne.Window {
	w := &closeBoxWindow{Window: a.App.NewWindow(title)}
	a.windows = append(a.windows, w)
	return w
}

func (w *closeBoxWindow) SetCloseIntercept(f func()) {
	w.intercept = f
	w.Window.SetCloseIntercept(f)
}

// ask calls AskOrigin as the bridge does, on its own goroutine.
func ask(ctx context.Context, c bridge.Consent, origin string) <-chan bridge.ConsentAnswer {
	answer := make(chan bridge.ConsentAnswer, 1)
	go func() { answer <- c.AskOrigin(ctx, origin) }()
	return answer
}

// awaitAnswer runs the UI queue until AskOrigin returns.
func (h *harness) awaitAnswer(t *testing.T, answer <-chan bridge.ConsentAnswer) bridge.ConsentAnswer {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		h.q.drain()
		select {
		case a := <-answer:
			h.q.drain() // the prompt closes
			return a
		case <-deadline:
			t.Fatal("AskOrigin did not return")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// openPrompt waits for the prompt about origin and returns its window.
func (h *harness) openPrompt(t *testing.T, origin string) fyne.Window {
	t.Helper()
	return h.promptShowing(t, origin, "wants to connect to the report engine")
}

// promptShowing waits for the prompt and returns its window, failing the
// test unless it shows each of texts.
func (h *harness) promptShowing(t *testing.T, texts ...string) fyne.Window {
	t.Helper()
	var w fyne.Window
	h.eventually(t, "the consent prompt opens", func() bool {
		w = h.consent.openWindow()
		return w != nil
	})
	for _, text := range texts {
		if !shows(w, text) {
			t.Errorf("the prompt does not show %q:\n%s", text, test.RenderToMarkup(w.Canvas()))
		}
	}
	return w
}

func TestConsentPromptButtons(t *testing.T) {
	for name, c := range map[string]struct {
		button string
		want   bridge.ConsentAnswer
	}{
		"allow once":   {"Allow once", bridge.AllowOnce},
		"always allow": {"Always allow", bridge.AlwaysAllow},
		"deny":         {"Deny", bridge.Deny},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, newFakeController())
			answer := ask(context.Background(), h.consent, shopOrigin)
			w := h.openPrompt(t, shopOrigin)
			test.Tap(findButton(t, w.Content(), c.button))
			if got := h.awaitAnswer(t, answer); got != c.want {
				t.Errorf("clicking %q answered %v, want %v", c.button, got, c.want)
			}
			if h.consent.openWindow() != nil || len(h.consent.Pending()) != 0 {
				t.Error("the prompt is still open after the answer")
			}
		})
	}
}

func TestConsentPromptCloseBoxIsNoAnswer(t *testing.T) {
	h := newHarness(t, newFakeController())
	boxes := &closeBoxApp{App: h.app}
	h.consent.app = boxes
	answer := ask(context.Background(), h.consent, shopOrigin)
	h.openPrompt(t, shopOrigin)
	boxes.windows[0].intercept() // the operator closes the window
	if got := h.awaitAnswer(t, answer); got != bridge.NoAnswer {
		t.Errorf("closing the prompt answered %v, want no answer", got)
	}
}

func TestConsentPromptClosesWhenTheBridgeStopsWaiting(t *testing.T) {
	h := newHarness(t, newFakeController())
	// As the bridge does: a deadline (30 s there), which it may also end
	// early, e.g. when it stops.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	answer := ask(ctx, h.consent, shopOrigin)
	w := h.openPrompt(t, shopOrigin)
	if !shows(w, "Without an answer the site is refused in") {
		t.Error("the prompt shows no countdown")
	}
	cancel()
	if got := h.awaitAnswer(t, answer); got != bridge.NoAnswer {
		t.Errorf("a prompt the bridge stopped waiting for answered %v", got)
	}
	if h.consent.openWindow() != nil || len(h.consent.Pending()) != 0 {
		t.Error("the prompt stayed open after the bridge stopped waiting")
	}
}

func TestConsentAnsweredFromTheSitesTab(t *testing.T) {
	h := newHarness(t, newFakeController())
	answer := ask(context.Background(), h.consent, shopOrigin)
	h.openPrompt(t, shopOrigin)
	h.dash.show(tabSites)
	h.eventually(t, "the Sites tab lists the question", func() bool { return shows(h.dash.window, shopOrigin) })
	test.Tap(findButton(t, h.dash.sites.pendingList, "Always allow"))
	if got := h.awaitAnswer(t, answer); got != bridge.AlwaysAllow {
		t.Errorf("answered %v from the Sites tab, want always allow", got)
	}
	h.eventually(t, "the question leaves the Sites tab", func() bool { return !shows(h.dash.window, shopOrigin) })
}

func TestConsentAfterTheUIClosedIsNoAnswer(t *testing.T) {
	h := newHarness(t, newFakeController())
	pending := ask(context.Background(), h.consent, shopOrigin)
	h.openPrompt(t, shopOrigin)
	h.consent.close()
	if got := h.awaitAnswer(t, pending); got != bridge.NoAnswer {
		t.Errorf("an open question answered %v when the UI closed", got)
	}
	if got := h.consent.AskOrigin(context.Background(), shopOrigin); got != bridge.NoAnswer {
		t.Errorf("a question after the UI closed answered %v", got)
	}
}
