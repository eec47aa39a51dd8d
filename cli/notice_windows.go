package cli

// The tray app's message to the desktop when it cannot show its own
// window (serveWithoutUI): a GUI-subsystem program has no console, so a
// log line alone would go unseen. One call:
//
//	MessageBoxW(NULL, text, "Orion Bridge", MB_OK|MB_ICONWARNING|MB_SETFOREGROUND|MB_TOPMOST)
//
// (user32.dll). It needs no window of ours, and it blocks until OK.

import (
	"fmt"

	"golang.org/x/sys/windows"
)

func showNotice(title, text string) error {
	t, err := windows.UTF16PtrFromString(text)
	if err != nil {
		return fmt.Errorf("message box text: %w", err)
	}
	c, err := windows.UTF16PtrFromString(title)
	if err != nil {
		return fmt.Errorf("message box title: %w", err)
	}
	if ret, err := windows.MessageBox(0, t, c, windows.MB_OK|windows.MB_ICONWARNING|windows.MB_SETFOREGROUND|windows.MB_TOPMOST); ret == 0 {
		return fmt.Errorf("MessageBoxW: %w", err)
	}
	return nil
}
