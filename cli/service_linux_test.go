package cli

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kardianos/service"

	"orionbridge/bridge"
	"orionbridge/config"
	"orionbridge/internal/executable"
	"orionbridge/internal/testutil"
)

const noSystemd = "no service manager: systemd is not running on this machine (is this a container?); " +
	"Orion Bridge supports only systemd on Linux: run `orionbridge run` under your own supervisor"

// withoutSystemd makes the tests see a machine without systemd, as this
// container is, whatever machine they run on.
func withoutSystemd(t *testing.T) {
	t.Helper()
	old := systemdBooted
	systemdBooted = filepath.Join(t.TempDir(), "no-such-dir")
	t.Cleanup(func() { systemdBooted = old })
}

// TestServiceWithoutSystemd is the expected state in a container: every
// subcommand, in every scope, says there is no service manager, exits 1,
// and touches nothing.
func TestServiceWithoutSystemd(t *testing.T) {
	home, _, _ := testutil.SetHome(t)
	t.Setenv("SUDO_USER", "")
	withoutSystemd(t)
	for _, action := range serviceActions {
		for _, scope := range [][]string{nil, {"--user"}, {"--system"}, {"--config", "/nonexistent.toml"}} {
			args := append([]string{"service", action}, scope...)
			t.Run(strings.Join(args[1:], " "), func(t *testing.T) {
				code, stdout, stderr := runMain(t, args...)
				if code != exitFailure {
					t.Errorf("exit %d, want %d", code, exitFailure)
				}
				if want := "orionbridge service " + action + ": " + noSystemd + "\n"; stderr != want {
					t.Errorf("stderr %q\nwant %q", stderr, want)
				}
				if stdout != "" {
					t.Errorf("stdout %q", stdout)
				}
			})
		}
	}
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if p != home {
			t.Errorf("created %s", p)
		}
		return err
	})
}

// TestServiceOnThisMachine runs the real detection where systemd is absent,
// as in this container.
func TestServiceOnThisMachine(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("this machine runs systemd; TestServiceWithoutSystemd covers its absence")
	}
	testutil.SetHome(t)
	t.Setenv("SUDO_USER", "")
	code, _, stderr := runMain(t, "service", "status")
	if code != exitFailure || !strings.Contains(stderr, noSystemd) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestServiceWithoutUserManager(t *testing.T) {
	testutil.SetHome(t)
	t.Setenv("SUDO_USER", "")
	old, oldProbe := systemdBooted, userManagerProbe
	systemdBooted = t.TempDir() // systemd is PID 1…
	t.Cleanup(func() { systemdBooted, userManagerProbe = old, oldProbe })
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // …but no user manager socket
	bin := t.TempDir()
	offline := filepath.Join(bin, "systemctl-offline")
	writeTestScript(t, offline, "echo offline; exit 1")

	tests := []struct {
		name  string
		probe []string
		want  string
	}{
		{"the manager answers offline", []string{offline}, "(`" + offline + "`: offline)"},
		{"systemctl is missing", []string{filepath.Join(bin, "missing")}, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			userManagerProbe = tt.probe
			for _, action := range serviceActions {
				code, stdout, stderr := runMain(t, "service", action, "--user")
				if code != exitFailure || stdout != "" ||
					!strings.Contains(stderr, "no service manager: systemd is running, but no user manager for ") ||
					!strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "--system") {
					t.Errorf("%s: exit %d, stdout %q, stderr %q", action, code, stdout, stderr)
				}
			}
		})
	}
}

func TestServiceUserUnderSudo(t *testing.T) {
	testutil.RequireRoot(t, "sudo is recognised only when running as root (see invokingUser)")
	testutil.SetHome(t)
	t.Setenv("SUDO_USER", "nobody")
	code, _, stderr := runMain(t, "service", "install", "--user")
	if code != exitUsage || !strings.Contains(stderr, "run it without sudo, or use --system") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// fakeSystemctl puts a systemctl first in PATH that records its arguments
// and answers is-active from a state file, so the whole command runs
// against kardianos/service's real systemd backend without a systemd.
type fakeSystemctl struct {
	log, state string
}

func newFakeSystemctl(t *testing.T) fakeSystemctl {
	t.Helper()
	dir := t.TempDir()
	f := fakeSystemctl{log: filepath.Join(dir, "calls"), state: filepath.Join(dir, "state")}
	writeTestScript(t, filepath.Join(dir, "bin", "systemctl"), `echo "$*" >> "$FAKE_SYSTEMCTL_LOG"
case "$1" in
is-active)
	state=$(cat "$FAKE_SYSTEMCTL_STATE" 2>/dev/null || echo inactive)
	echo "$state"
	[ "$state" = active ] && exit 0
	exit 3 ;;
list-unit-files)
	# list-unit-files -t service UNIT --user
	[ -e "$HOME/.config/systemd/user/$4" ] && echo "$4 enabled enabled" ;;
is-system-running)
	echo running ;;
esac
exit 0`)
	t.Setenv("FAKE_SYSTEMCTL_LOG", f.log)
	t.Setenv("FAKE_SYSTEMCTL_STATE", f.state)
	t.Setenv("PATH", filepath.Join(dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	return f
}

func (f fakeSystemctl) set(t *testing.T, state string) {
	t.Helper()
	testutil.WriteFile(t, f.state, state+"\n")
}

// calls returns and forgets the recorded calls.
func (f fakeSystemctl) calls(t *testing.T) string {
	t.Helper()
	data, _ := os.ReadFile(f.log)
	os.Remove(f.log)
	return string(data)
}

func writeTestScript(t *testing.T, path, body string) {
	t.Helper()
	testutil.WriteFile(t, path, "#!/bin/sh\n"+body+"\n")
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

// systemdAnalyze finds systemd-analyze (Debian package systemd) before a
// test replaces PATH. Missing, it fails the test under CI, which installs
// it, and skips elsewhere.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze not found: install the Debian package systemd (make deps-test does)")
		}
		t.Skip("systemd-analyze not found: install the Debian package systemd")
	}
	return p
}

// verifyUnit runs `systemd-analyze verify` on a unit file, which works
// without a running systemd; any complaint fails the test.
func verifyUnit(t *testing.T, analyze, unit string) {
	t.Helper()
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
	}
}

// withFakeUserSystemd makes the tests see systemd with a user manager,
// whose systemctl is a fakeSystemctl, for a temporary home.
func withFakeUserSystemd(t *testing.T) (home, configHome string, sc fakeSystemctl) {
	t.Helper()
	home, configHome, _ = testutil.SetHome(t)
	t.Setenv("SUDO_USER", "")
	t.Setenv("ORIONBRIDGE_MANAGED_CONFIG", filepath.Join(t.TempDir(), "none.toml"))
	old := systemdBooted
	systemdBooted = t.TempDir()
	t.Cleanup(func() { systemdBooted = old })
	runtimeDir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(runtimeDir, "systemd", "private"), "") // the user manager's socket
	t.Setenv("XDG_RUNTIME_DIR", runtimeDir)
	return home, configHome, newFakeSystemctl(t)
}

func TestServiceLifecycleWithFakeSystemctl(t *testing.T) {
	analyze := systemdAnalyze(t)
	home, configHome, sc := withFakeUserSystemd(t)
	exe, err := executable.Path()
	if err != nil {
		t.Fatal(err)
	}
	port := serveFakeHealth(t, bridge.Health{App: bridge.AppName, PID: 4242})
	cfg := testutil.TempFile(t, "my config.toml", fmt.Sprintf("port = %d\nfallback_ports = []\n", port))
	unit := filepath.Join(home, ".config", "systemd", "user", "orionbridge.service")

	steps := []struct {
		name    string
		state   string // is-active's answer
		args    []string
		code    int
		stdout  string
		stderr  string
		calls   []string // systemctl calls, in order, beyond status queries
		unitNow bool
	}{
		{name: "status before install", args: []string{"status"}, stdout: "not installed\n"},
		{name: "start before install", args: []string{"start"}, code: exitFailure, stderr: "not installed: run `orionbridge service install` first"},
		{name: "install with a missing config", args: []string{"install", "--config", "/nonexistent.toml"}, code: exitUsage, stderr: "config /nonexistent.toml: no such file or directory"},
		{name: "install", args: []string{"install"}, stdout: "installed " + unit + "\n  runs: " + exe + " run --config " + cfg +
			"\n  this program itself: there is no executable orionbridge-headless beside it",
			calls: []string{"enable --user orionbridge.service", "daemon-reload --user"}, unitNow: true},
		{name: "install again", args: []string{"install"}, code: exitFailure, stderr: "already installed (" + unit + ")", unitNow: true},
		{name: "status when installed", args: []string{"status"}, stdout: "stopped\n", unitNow: true},
		{name: "start", state: "active", args: []string{"start"}, stdout: fmt.Sprintf("running (pid 4242, wss://localhost:%d)\n", port),
			calls: []string{"start --user orionbridge.service"}, unitNow: true},
		{name: "status when running", state: "active", args: []string{"status"}, stdout: fmt.Sprintf("running (pid 4242, wss://localhost:%d)\n", port), unitNow: true},
		{name: "failed counts as stopped", state: "failed", args: []string{"status"}, stdout: "stopped\n", unitNow: true},
		{name: "restart", state: "active", args: []string{"restart"}, stdout: "running (pid 4242",
			calls: []string{"restart --user orionbridge.service"}, unitNow: true},
		{name: "stop", state: "active", args: []string{"stop"}, stdout: "stopped\n",
			calls: []string{"stop --user orionbridge.service"}, unitNow: true},
		{name: "uninstall stops it first", state: "active", args: []string{"uninstall"}, stdout: "uninstalled " + unit + "\n",
			calls: []string{"stop --user orionbridge.service", "disable --user orionbridge.service", "daemon-reload --user"}},
		{name: "uninstall again", args: []string{"uninstall"}, stdout: "not installed\n"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.state == "" {
				s.state = "inactive"
			}
			sc.set(t, s.state)
			args := append([]string{"service"}, s.args...)
			if len(s.args) == 1 {
				args = append(args, "--config", cfg)
			}
			code, stdout, stderr := runMain(t, args...)
			if code != s.code || !strings.HasPrefix(stdout, s.stdout) || !strings.Contains(stderr, s.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, s.code, stdout, s.stdout, stderr, s.stderr)
			}
			var calls []string
			for _, c := range strings.Split(strings.TrimSpace(sc.calls(t)), "\n") {
				if c != "" && !strings.HasPrefix(c, "is-active ") && !strings.HasPrefix(c, "list-unit-files ") {
					calls = append(calls, c)
				}
			}
			if strings.Join(calls, "; ") != strings.Join(s.calls, "; ") {
				t.Errorf("systemctl calls %q, want %q", calls, s.calls)
			}
			if _, err := os.Stat(unit); (err == nil) != s.unitNow {
				t.Errorf("unit file present: %v, want %v", err == nil, s.unitNow)
			}
			if s.name == "install" {
				data, err := os.ReadFile(unit)
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{
					"\nExecStart=" + exe + ` "run" "--config" "` + cfg + `"` + "\n",
					"\nRestart=on-failure\n", "\nRestartPreventExitStatus=2\n", "\nWantedBy=default.target\n",
				} {
					if !strings.Contains(string(data), want) {
						t.Errorf("unit lacks %q:\n%s", want, data)
					}
				}
				verifyUnit(t, analyze, unit)
			}
		})
	}

	// Without --config, the default config path, created when missing so
	// that `run --config` finds it.
	sc.set(t, "inactive")
	def := filepath.Join(configHome, "OrionBridge", "config.toml")
	code, stdout, stderr := runMain(t, "service", "install")
	if code != exitOK || !strings.Contains(stdout, " run --config "+def+"\n") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if fi, err := os.Stat(def); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("default config: %v, %v", fi, err)
	}
	if _, err := config.Load(def); err != nil {
		t.Errorf("the created config does not load: %v", err)
	}
	if code, _, stderr := runMain(t, "service", "uninstall"); code != exitOK {
		t.Errorf("uninstall: exit %d, %s", code, stderr)
	}
}

// A service runs this program or the headless build beside it, whichever
// installed it (an older version, or a package without the headless build,
// registered orionbridge itself): status, start, stop and uninstall find
// it by its name either way.
func TestServiceControlWhicheverBuildItRuns(t *testing.T) {
	self, err := executable.Path()
	if err != nil {
		t.Fatal(err)
	}
	headless := filepath.Join(t.TempDir(), "orionbridge-headless")
	writeTestScript(t, headless, "exit 0")
	for _, exe := range []string{self, headless} {
		t.Run(filepath.Base(exe), func(t *testing.T) {
			home, _, sc := withFakeUserSystemd(t)
			port := serveFakeHealth(t, bridge.Health{App: bridge.AppName, PID: 4242})
			cfg := testutil.TempFile(t, "config.toml", fmt.Sprintf("port = %d\nfallback_ports = []\n", port))
			system, err := serviceSystem(scopeUser)
			if err != nil {
				t.Fatal(err)
			}
			svc, err := system.New(&serviceProgram{}, serviceConfig("linux", serviceSpec{scope: scopeUser, executable: exe, configPath: cfg, home: home}))
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.Install(); err != nil {
				t.Fatal(err)
			}
			unit := filepath.Join(home, ".config", "systemd", "user", "orionbridge.service")
			if data, err := os.ReadFile(unit); err != nil || !strings.Contains(string(data), "\nExecStart="+exe+" ") {
				t.Fatalf("unit (%v):\n%s", err, data)
			}
			for _, step := range []struct{ state, action, stdout string }{
				{"inactive", "status", "stopped\n"},
				{"active", "start", "running (pid 4242"},
				{"active", "status", "running (pid 4242"},
				{"active", "stop", "stopped\n"},
				{"active", "uninstall", "uninstalled " + unit + "\n"},
				{"inactive", "status", "not installed\n"},
			} {
				sc.set(t, step.state)
				code, stdout, stderr := runMain(t, "service", step.action, "--user", "--config", cfg)
				if code != exitOK || !strings.HasPrefix(stdout, step.stdout) {
					t.Fatalf("%s: exit %d\nstdout %q (want %q)\nstderr %q", step.action, code, stdout, step.stdout, stderr)
				}
			}
			if _, err := os.Stat(unit); err == nil {
				t.Error("the unit is still there after uninstall")
			}
		})
	}
}

// TestSystemdUnitRenders renders the unit through kardianos/service's real
// Install, for each branch of the template, and has systemd check it.
func TestSystemdUnitRenders(t *testing.T) {
	analyze := systemdAnalyze(t)
	home, _, _ := testutil.SetHome(t)
	newFakeSystemctl(t)
	exe, err := executable.Path()
	if err != nil {
		t.Fatal(err)
	}
	// systemd-analyze warns about "nobody"; any real account will do.
	me := currentUserName()
	var systemd service.System
	for _, s := range service.AvailableSystems() {
		if s.String() == "linux-systemd" {
			systemd = s
		}
	}
	tests := []struct {
		name     string
		spec     serviceSpec
		want     []string
		dontWant string
	}{
		{name: "user", spec: serviceSpec{scope: scopeUser}, want: []string{"WantedBy=default.target"}, dontWant: "User="},
		{name: "system as the sudo user", spec: serviceSpec{scope: scopeSystem, runAs: me},
			want: []string{"\nUser=" + me + "\n", "WantedBy=multi-user.target"}},
		{name: "system as root", spec: serviceSpec{scope: scopeSystem},
			want: []string{"WantedBy=multi-user.target"}, dontWant: "User="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.executable, tt.spec.configPath = exe, "/etc/orion bridge/config.toml"
			c := serviceConfig("linux", tt.spec)
			// Installed as a user unit whatever the scope, so the file lands
			// in the temporary home, not in /etc.
			c.Option["UserService"] = true
			s, err := systemd.New(&serviceProgram{}, c)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Install(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(home, ".config", "systemd", "user", "orionbridge.service")
			defer os.Remove(path)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range append(tt.want, "\nExecStart="+exe+` "run" "--config" "/etc/orion bridge/config.toml"`+"\n") {
				if !strings.Contains(string(data), w) {
					t.Errorf("lacks %q:\n%s", w, data)
				}
			}
			if tt.dontWant != "" && strings.Contains(string(data), tt.dontWant) {
				t.Errorf("has %q:\n%s", tt.dontWant, data)
			}
			verifyUnit(t, analyze, path)
		})
	}
}
