package cli

import (
	"orionbridge/autostart"
	"orionbridge/internal/executable"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// desktopFileValidate finds desktop-file-validate (Debian package
// desktop-file-utils). Missing, it fails the test under CI, which installs
// it, and skips elsewhere.
func desktopFileValidate(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("desktop-file-validate")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("desktop-file-validate not found: install the Debian package desktop-file-utils (make deps-test does)")
		}
		t.Skip("desktop-file-validate not found: install the Debian package desktop-file-utils")
	}
	return p
}

func validateDesktopFile(t *testing.T, validate, path string) {
	t.Helper()
	out, err := exec.Command(validate, path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("desktop-file-validate %s: %v\n%s", path, err, out)
	}
}

func TestAutostartLinux(t *testing.T) {
	withSystemAutostart(t, "") // hermetic, even where the deb is installed
	validate := desktopFileValidate(t)
	_, configHome, _ := testutil.SetHome(t)
	t.Setenv("SUDO_USER", "")
	exe, err := executable.Path()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(configHome, "autostart", "orionbridge.desktop")
	want, err := autostart.DesktopEntry(exe)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		before func() // changes the file as a desktop would
		arg    string
		stdout string
		file   string // the file's content afterwards; "" means absent
	}{
		{name: "status at first", arg: "status", stdout: "off\n"},
		{name: "off when off", arg: "off", stdout: "off\n"},
		{name: "on", arg: "on", stdout: "on (" + path + ")\n", file: want},
		{name: "on again", arg: "on", stdout: "on (" + path + ")\n", file: want},
		{name: "status when on", arg: "status", stdout: "on (" + path + ")\n", file: want},
		{name: "turned off in GNOME's settings", arg: "status", stdout: "off\n", file: "x",
			before: func() { testutil.WriteFile(t, path, strings.Replace(want, "enabled=true", "enabled=false", 1)) }},
		{name: "hidden by another desktop", arg: "status", stdout: "off\n", file: "x",
			before: func() { testutil.WriteFile(t, path, want+"Hidden=true\n") }},
		{name: "on rewrites a disabled entry", arg: "on", stdout: "on (" + path + ")\n", file: want},
		{name: "off", arg: "off", stdout: "off\n"},
		{name: "off again", arg: "off", stdout: "off\n"},
		{name: "status when off", arg: "status", stdout: "off\n"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.before != nil {
				s.before()
			}
			code, stdout, stderr := runMain(t, "autostart", s.arg)
			if code != exitOK || stdout != s.stdout || stderr != "" {
				t.Fatalf("exit %d, stdout %q (want %q), stderr %q", code, stdout, s.stdout, stderr)
			}
			data, err := os.ReadFile(path)
			switch {
			case s.file == "" && !os.IsNotExist(err):
				t.Errorf("the file is there: %v", err)
			case s.file == "x":
			case s.file != "" && string(data) != s.file:
				t.Errorf("file %q: %v\n%s\nwant\n%s", path, err, data, s.file)
			}
			if s.file == want {
				if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
					t.Errorf("mode: %v %v", fi, err)
				}
				validateDesktopFile(t, validate, path)
			}
			on, err := autostart.Enabled()
			if err != nil || on != strings.HasPrefix(s.stdout, "on") {
				t.Errorf("autostart.Enabled() = %v, %v", on, err)
			}
		})
	}
	// The API the tray calls.
	if err := autostart.Set(true); err != nil {
		t.Fatal(err)
	}
	if on, err := autostart.Enabled(); !on || err != nil {
		t.Errorf("after autostart.Set(true): %v, %v", on, err)
	}
	if err := autostart.Set(false); err != nil {
		t.Fatal(err)
	}
	if on, err := autostart.Enabled(); on || err != nil {
		t.Errorf("after autostart.Set(false): %v, %v", on, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 0 {
		t.Errorf("left behind in %s: %v", filepath.Dir(path), entries)
	}
}

func TestAutostartFolder(t *testing.T) {
	home, configHome, _ := testutil.SetHome(t)
	tests := []struct {
		name, xdg, want string
	}{
		{"XDG_CONFIG_HOME", configHome, filepath.Join(configHome, "autostart", "orionbridge.desktop")},
		{"unset", "", filepath.Join(home, ".config", "autostart", "orionbridge.desktop")},
		{"relative, so ignored", "relative/dir", filepath.Join(home, ".config", "autostart", "orionbridge.desktop")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_CONFIG_HOME", tt.xdg)
			if got, err := autostart.EntryPath(); got != tt.want || err != nil {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
			if err := autostart.Set(true); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tt.want); err != nil {
				t.Error(err)
			}
			if err := autostart.Set(false); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tt.want); !os.IsNotExist(err) {
				t.Errorf("still there: %v", err)
			}
		})
	}
}

// TestDesktopEntryValidates has desktop-file-validate judge the Exec
// quoting of awkward paths.
func TestDesktopEntryValidates(t *testing.T) {
	validate := desktopFileValidate(t)
	for _, exe := range []string{
		"/usr/bin/orionbridge",
		"/opt/Orion Bridge/orionbridge",
		`/opt/say "hi"/orionbridge`,
		"/opt/$HOME/`x`/orionbridge",
		`/opt/back\slash/orionbridge`,
		"/opt/100% sure/orionbridge",
		"/home/ann/Apps (old); it's/orionbridge",
	} {
		entry, err := autostart.DesktopEntry(exe)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "orionbridge.desktop")
		testutil.WriteFile(t, path, entry)
		validateDesktopFile(t, validate, path)
	}
}

func TestAutostartUnderSudo(t *testing.T) {
	testutil.RequireRoot(t, "sudo is recognised only when running as root (see invokingUser)")
	testutil.SetHome(t)
	t.Setenv("SUDO_USER", "nobody")
	for _, arg := range []string{"on", "off"} {
		code, _, stderr := runMain(t, "autostart", arg)
		if code != exitUsage || !strings.Contains(stderr, "per user: run it without sudo") {
			t.Errorf("%s: exit %d, stderr %q", arg, code, stderr)
		}
	}
	if code, stdout, _ := runMain(t, "autostart", "status"); code != exitOK || stdout != "off\n" {
		t.Errorf("status: exit %d, stdout %q", code, stdout)
	}
}

// withSystemAutostart points the packaged entry at a temporary file, with
// content, or at none when content is "".
func withSystemAutostart(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "xdg", "autostart", "orionbridge.desktop")
	if content != "" {
		testutil.WriteFile(t, path, content)
	}
	old := autostart.SystemEntryPath
	autostart.SystemEntryPath = path
	t.Cleanup(func() { autostart.SystemEntryPath = old })
	return path
}

// With the packages' system-wide entry, "off" hides it for this user with
// Hidden=true, and "on" removes that override: the tray never starts twice
// and nothing of IT's is deleted.
func TestAutostartOverridesSystemEntry(t *testing.T) {
	_, configHome, _ := testutil.SetHome(t)
	system := withSystemAutostart(t, "[Desktop Entry]\nType=Application\nName=Orion Bridge\nExec=/usr/bin/orionbridge\n")
	user := filepath.Join(configHome, "autostart", "orionbridge.desktop")
	steps := []struct {
		do       func() error
		on       bool
		userFile bool
	}{
		{nil, true, false},
		{func() error { return autostart.Set(false) }, false, true},
		{func() error { return autostart.Set(false) }, false, true},
		{func() error { return autostart.Set(true) }, true, false},
	}
	for i, st := range steps {
		if st.do != nil {
			if err := st.do(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		on, err := autostart.Enabled()
		if err != nil || on != st.on {
			t.Fatalf("step %d: enabled %v, %v; want %v", i, on, err, st.on)
		}
		if _, err := os.Stat(user); (err == nil) != st.userFile {
			t.Fatalf("step %d: user entry exists=%v, want %v", i, err == nil, st.userFile)
		}
		if _, err := os.Stat(system); err != nil {
			t.Fatalf("step %d: the system entry was touched: %v", i, err)
		}
	}
	// The override is what the spec says hides an entry.
	autostart.Set(false)
	data, _ := os.ReadFile(user)
	if !strings.Contains(string(data), "Hidden=true") {
		t.Fatalf("user override:\n%s", data)
	}
}
