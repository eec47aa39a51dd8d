package cli

import (
	"fmt"
	"io"
	"orionbridge/autostart"
)

const autostartUsage = "usage: orionbridge autostart on|off|status"

// autostartCommand runs `orionbridge autostart on|off|status`.
func autostartCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || (args[0] != "on" && args[0] != "off" && args[0] != "status") {
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdout, autostartUsage)
			return exitOK
		}
		fmt.Fprintln(stderr, autostartUsage)
		return exitUsage
	}
	// Start at login is the user's own; under sudo it would be root's.
	if _, underSudo := invokingUser(); underSudo && args[0] != "status" {
		fmt.Fprintln(stderr, "orionbridge autostart: start at login is per user: run it without sudo")
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "orionbridge autostart %s: %v\n", args[0], err)
		return exitFailure
	}
	switch args[0] {
	case "on":
		if err := autostart.Set(true); err != nil {
			return fail(err)
		}
	case "off":
		if err := autostart.Set(false); err != nil {
			return fail(err)
		}
	}
	on, where, err := autostart.State()
	if err != nil {
		return fail(err)
	}
	if on {
		fmt.Fprintf(stdout, "on (%s)\n", where)
	} else if note := autostart.OffNote(); note != "" {
		fmt.Fprintf(stdout, "off (%s)\n", note)
	} else {
		fmt.Fprintln(stdout, "off")
	}
	return exitOK
}
