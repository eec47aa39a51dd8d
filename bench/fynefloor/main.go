// Command fynefloor is the smallest Fyne app: one window with one label.
// orionbench runs it under the same Xvfb as the tray app, built with the
// same flags, so the tray's memory can be read against what the toolkit and
// its OpenGL driver cost before the app adds anything.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"

	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/widget"

	_ "orionbridge/internal/locale" // as in the tray app: see its doc
)

func main() {
	pidFile := flag.String("pidfile", "", "write this process's pid to `file` once the window is up")
	flag.Parse()
	a := app.New()
	w := a.NewWindow("Fyne floor")
	w.SetContent(widget.NewLabel("Hello"))
	if *pidFile != "" {
		a.Lifecycle().SetOnStarted(func() {
			if err := os.WriteFile(*pidFile, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
				fmt.Fprintln(os.Stderr, "fynefloor:", err)
				os.Exit(1)
			}
		})
	}
	w.ShowAndRun()
}
