//go:build !headless

package main

// The tray build, orionbridge. Build it with -tags no_emoji: Fyne then
// leaves out its 4.2 MB emoji font, which it would otherwise parse once per
// text style (about 20 MiB of heap); the tray shows no emoji (its arrows
// come from the text font or the system's fallback fonts).

import (
	"orionbridge/app"
	_ "orionbridge/internal/locale" // before Fyne reads the locale: see its doc
	"orionbridge/tray"
)

// trayUI is the tray app, which app runs when no command is given.
var trayUI app.UI = tray.Run
