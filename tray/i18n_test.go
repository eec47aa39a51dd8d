package tray

import (
	"bytes"
	"context"
	"image"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"orionbridge/bridge"
)

// The tests compare English text whatever the machine's language is.
func init() {
	if err := useLanguage("en"); err != nil {
		panic(err)
	}
}

// english puts the tray back in English after a test that changed it.
func english(t *testing.T) {
	t.Cleanup(func() {
		if err := useLanguage("en"); err != nil {
			t.Error(err)
		}
	})
}

// The config's language key overrides the system's, and "" follows it
// (issue 18). The system's language is what go-locale reads: on Linux
// LANGUAGE (cleared here), else LC_ALL, LC_MESSAGES or LANG.
func TestLanguageFollowsTheSystemUnlessTheConfigSays(t *testing.T) {
	tests := []struct {
		name, system, choice, want string
	}{
		{"Korean system, no choice", "ko_KR.UTF-8", "", "이번만 허용"},
		{"English system, no choice", "en_US.UTF-8", "", "Allow once"},
		{"a language with no catalogue falls back to English", "fr_FR.UTF-8", "", "Allow once"},
		{"Korean system, English chosen", "ko_KR.UTF-8", "en", "Allow once"},
		{"English system, Korean chosen", "en_US.UTF-8", "ko", "이번만 허용"},
		{"French system, Korean chosen", "fr_FR.UTF-8", "ko", "이번만 허용"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			english(t)
			t.Setenv("LANGUAGE", "")
			t.Setenv("LC_MESSAGES", "")
			t.Setenv("LANG", "")
			t.Setenv("LC_ALL", tt.system)
			if err := useLanguage(tt.choice); err != nil {
				t.Fatal(err)
			}
			if got := lang.X("consent.allow_once", "Allow once"); got != tt.want {
				t.Errorf("the Allow once button says %q, want %q", got, tt.want)
			}
			// A count of one, which English says with its "one" form and
			// Korean with its only one.
			copied := lang.X("log.copied", "Copied {{.Count}} {{if eq .Count 1}}record{{else}}records{{end}} to the clipboard", map[string]any{"Count": 1})
			if want := map[string]string{"Allow once": "Copied 1 record to the clipboard", "이번만 허용": "기록 1개를 클립보드에 복사했습니다"}[tt.want]; copied != want {
				t.Errorf("one record copied: %q, want %q", copied, want)
			}
		})
	}
}

func TestUseLanguageRefusesAnUnknownOne(t *testing.T) {
	english(t)
	err := useLanguage("fr")
	if err == nil {
		t.Fatal("useLanguage(\"fr\") succeeded")
	}
	for _, want := range []string{`"fr"`, "en, ko"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// The consent prompt, the tray menu and the Sessions tab in Korean: the
// prompt is what a shop owner must be able to read before clicking.
func TestKoreanPromptMenuAndSessions(t *testing.T) {
	english(t)
	if err := useLanguage("ko"); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, newFakeController())
	answer := ask(context.Background(), h.consent, shopOrigin)
	w := h.promptShowing(t, shopOrigin, "사이트가 리포트 엔진에 연결하려고 합니다")
	if w.Title() != "이 사이트를 허용할까요? · Orion Bridge" {
		t.Errorf("prompt title %q", w.Title())
	}
	test.Tap(findButton(t, w.Content(), "항상 허용"))
	if got := h.awaitAnswer(t, answer); got != bridge.AlwaysAllow {
		t.Errorf("clicking 항상 허용 answered %v", got)
	}

	tray := h.desk.(*fakeTray)
	h.eventually(t, "the tray menu is in Korean", func() bool {
		return tray.menu != nil && len(tray.menu.Items) > 2 && tray.menu.Items[2].Label == "대시보드 열기"
	})
	// The status line: a state, the endpoint, the sessions.
	if status := tray.menu.Items[0].Label; !strings.HasSuffix(status, " · 세션 0개") {
		t.Errorf("the status line says %q, want it to end with the sessions in Korean", status)
	}
	for _, label := range []string{"대시보드 열기", "브리지 중지", "인증서 신뢰…", "지원 번들 내보내기…", "종료"} {
		menuItem(t, tray.menu, label)
	}

	h.dash.show(tabSessions)
	h.eventually(t, "the Sessions tab shows Korean headers", func() bool {
		return shows(h.dash.window, "출처") && shows(h.dash.window, "연결 끊기")
	})
	if got := h.dash.tabs.Items[0].Text; got != "세션" {
		t.Errorf("the Sessions tab is labelled %q, want 세션", got)
	}
}

// A session from another day shows its date in the operator's words: Go
// layouts are catalogue text too.
func TestStartedDateInKorean(t *testing.T) {
	english(t)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	started := time.Date(2026, 11, 30, 9, 5, 0, 0, time.UTC)
	for _, tt := range []struct{ lang, want string }{{"en", "Nov 30 09:05"}, {"ko", "11월 30일 09:05"}} {
		if err := useLanguage(tt.lang); err != nil {
			t.Fatal(err)
		}
		if got := formatStarted(started, now); got != tt.want {
			t.Errorf("%s: formatStarted = %q, want %q", tt.lang, got, tt.want)
		}
	}
}

// Fyne's font has no Hangul: Korean must come from a system font through
// Fyne's fallback, or every syllable is drawn as the same empty box (the
// font's .notdef glyph). Drawn next to runes no font has, Korean text must
// look different; those runes, compared with each other, show what a box
// looks like.
func TestHangulRendersWithoutBoxes(t *testing.T) {
	draw := func(s string) []byte {
		w := test.NewTempWindow(t, widget.NewLabel(s))
		img, ok := w.Canvas().Capture().(*image.NRGBA)
		if !ok {
			t.Fatalf("capture of %q is not NRGBA", s)
		}
		return img.Pix
	}
	boxes := draw("\uE000\uE000") // private use: in no font
	if !bytes.Equal(draw("\uE001\uE002"), boxes) {
		t.Fatal("two pairs of missing glyphs drew differently: this test cannot tell a box")
	}
	if bytes.Equal(draw("AB"), boxes) {
		t.Fatal("Latin drew as boxes: the renderer is broken")
	}
	if bytes.Equal(draw("세션"), boxes) {
		t.Error("Korean draws as boxes: no Hangul font found. Install one (Debian: apt-get install fonts-noto-cjk, " +
			"or fonts-nanum); Windows has Malgun Gothic and macOS Apple SD Gothic Neo")
	}
}

// What the tray says outside its windows, in Korean: notifications, the
// session table's cells and totals.
func TestTrayTextInKorean(t *testing.T) {
	english(t)
	if err := useLanguage("ko"); err != nil {
		t.Fatal(err)
	}
	totals := bridge.Totals{Sessions: 2, BytesToEngine: 2048, BytesToBrowser: 4096, MessagesToEngine: 3, MessagesToBrowser: 4}
	tests := []struct{ name, got, want string }{
		{"engine notification", engineAlert("127.0.0.1:21400").Title, "리포트 엔진에 연결할 수 없음"},
		{"engine notification text", engineAlert("127.0.0.1:21400").Content, "Orion Bridge가 127.0.0.1:21400의 리포트 엔진에 연결할 수 없습니다."},
		{"session state", sessionState(bridge.StateOpen), "열림"},
		{"totals", totalsLine(totals, 1), "시작 이후: 세션 3개 · 바이트 2.0 KiB ↑  4.0 KiB ↓ · 메시지 3 ↑  4 ↓"},
		{"column", sessionColumns()[0], "출처"},
	}
	for _, tt := range tests {
		if !strings.HasPrefix(tt.got, tt.want) {
			t.Errorf("%s: %q, want it to start with %q", tt.name, tt.got, tt.want)
		}
	}
}
