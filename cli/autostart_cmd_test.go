package cli

import "testing"

func TestAutostartUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"no argument", []string{"autostart"}, exitUsage, ""},
		{"unknown", []string{"autostart", "maybe"}, exitUsage, ""},
		{"two arguments", []string{"autostart", "on", "now"}, exitUsage, ""},
		{"a flag", []string{"autostart", "--on"}, exitUsage, ""},
		{"help", []string{"autostart", "-h"}, exitOK, "usage: orionbridge autostart on|off|status\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tt.args...)
			if code != tt.code || stdout != tt.out {
				t.Errorf("exit %d (want %d), stdout %q (want %q), stderr %q", code, tt.code, stdout, tt.out, stderr)
			}
			if code == exitUsage && stderr != "usage: orionbridge autostart on|off|status\n" {
				t.Errorf("stderr %q", stderr)
			}
		})
	}
}

// TestDesktopExec follows the Desktop Entry Specification's two layers:
// quoting of the argument, then the escapes of a string value.
