package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kardianos/service"

	"orionbridge/autostart"
	"orionbridge/bridge"
	"orionbridge/config"
	"orionbridge/internal/testutil"
)

type serviceArgsCase struct {
	name   string
	args   []string
	status int // when ok is false
	ok     bool
	want   serviceRequest
	err    string
}

func TestServiceArgs(t *testing.T) {
	tests := []serviceArgsCase{
		{name: "no subcommand", args: nil, status: exitUsage, err: "usage: orionbridge service"},
		{name: "a flag first", args: []string{"--user"}, status: exitUsage, err: "usage: orionbridge service"},
		{name: "unknown subcommand", args: []string{"polish"}, status: exitUsage, err: `unknown subcommand "polish"`},
		{name: "both scopes", args: []string{"install", "--user", "--system"}, status: exitUsage, err: "--user and --system exclude each other"},
		{name: "stray argument", args: []string{"start", "now"}, status: exitUsage, err: `unexpected argument "now"`},
		{name: "unknown flag", args: []string{"status", "--scope", "user"}, status: exitUsage, err: "flag provided but not defined: -scope"},
		{name: "help", args: []string{"install", "-h"}, status: exitOK, err: "-system"},
		{name: "defaults", args: []string{"status"}, ok: true, want: serviceRequest{action: "status", scope: defaultServiceScope}},
		{name: "system and config", args: []string{"install", "--system", "--config", "b.toml"}, ok: true,
			want: serviceRequest{action: "install", scope: scopeSystem, configPath: "b.toml"}},
		{name: "flags before the subcommand's end", args: []string{"restart", "--config=a.toml", "--system"}, ok: true,
			want: serviceRequest{action: "restart", scope: scopeSystem, configPath: "a.toml"}},
		{name: "the Windows entry point", args: []string{"run", "--config", "c.toml"}, ok: true,
			want: serviceRequest{action: "run", scope: defaultServiceScope, configPath: "c.toml"}},
	}
	if runtime.GOOS == "windows" {
		tests = append(tests, serviceArgsCase{name: "no user services on Windows", args: []string{"install", "--user"}, status: exitUsage, err: "--user does not apply"})
	} else {
		tests = append(tests, serviceArgsCase{name: "user", args: []string{"stop", "--user"}, ok: true, want: serviceRequest{action: "stop", scope: scopeUser}})
	}
	t.Setenv("SUDO_USER", "") // not under sudo, whoever runs the tests
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got, status, ok := parseServiceArgs(tt.args, &stderr)
			if ok != tt.ok || (!ok && status != tt.status) {
				t.Fatalf("ok %v status %d, want ok %v status %d; stderr: %s", ok, status, tt.ok, tt.status, stderr.String())
			}
			if ok && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if !strings.Contains(stderr.String(), tt.err) {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.err)
			}
			// Main gives the same exit status.
			if !ok {
				code, _, _ := runMain(t, append([]string{"service"}, tt.args...)...)
				if code != tt.status {
					t.Errorf("Main exit %d, want %d", code, tt.status)
				}
			}
		})
	}
}

func TestServiceConfig(t *testing.T) {
	const exe, cfg = "/opt/orion bridge/orionbridge", "/home/ann/.config/OrionBridge/config.toml"
	run := []string{"run", "--config", cfg}
	tests := []struct {
		name      string
		goos      string
		spec      serviceSpec
		wantName  string
		wantArgs  []string
		wantUser  string
		wantEnv   map[string]string
		wantOpt   service.KeyValue
		wantUnit  string // in Option["SystemdScript"]
		notInUnit string
	}{
		{
			name: "linux user unit", goos: "linux",
			spec:     serviceSpec{scope: scopeUser, executable: exe, configPath: cfg, home: "/home/ann"},
			wantName: "orionbridge", wantArgs: run,
			wantOpt:  service.KeyValue{"UserService": true},
			wantUnit: "WantedBy=default.target\n", notInUnit: "multi-user",
		},
		{
			name: "linux system unit under sudo", goos: "linux",
			spec:     serviceSpec{scope: scopeSystem, executable: exe, configPath: cfg, runAs: "ann", home: "/home/ann"},
			wantName: "orionbridge", wantArgs: run, wantUser: "ann",
			wantOpt:  service.KeyValue{"UserService": false},
			wantUnit: "WantedBy=multi-user.target\n", notInUnit: "default.target",
		},
		{
			name: "macOS LaunchAgent", goos: "darwin",
			spec:     serviceSpec{scope: scopeUser, executable: exe, configPath: cfg, home: "/Users/ann"},
			wantName: "com.orionreport.bridge.service", wantArgs: run,
			wantOpt: service.KeyValue{"UserService": true, "RunAtLoad": true, "KeepAlive": true,
				"LogDirectory": "/Users/ann/Library/Logs"},
		},
		{
			name: "macOS LaunchDaemon as the sudo user", goos: "darwin",
			spec:     serviceSpec{scope: scopeSystem, executable: exe, configPath: cfg, runAs: "ann", home: "/Users/ann"},
			wantName: "com.orionreport.bridge.service", wantArgs: run, wantUser: "ann",
			wantEnv: map[string]string{"HOME": "/Users/ann"},
			wantOpt: service.KeyValue{"UserService": false, "RunAtLoad": true, "KeepAlive": true,
				"LogDirectory": "/Users/ann/Library/Logs"},
		},
		{
			name: "macOS LaunchDaemon as root", goos: "darwin",
			spec:     serviceSpec{scope: scopeSystem, executable: exe, configPath: cfg, home: "/var/root"},
			wantName: "com.orionreport.bridge.service", wantArgs: run,
			wantOpt: service.KeyValue{"UserService": false, "RunAtLoad": true, "KeepAlive": true},
		},
		{
			name: "Windows service", goos: "windows",
			spec:     serviceSpec{scope: scopeSystem, executable: `C:\Program Files\Orion Bridge\orionbridge.exe`, configPath: `C:\Users\ann\AppData\Roaming\OrionBridge\config.toml`, runAs: "ann"},
			wantName: "OrionBridge", wantArgs: []string{"service", "run", "--config", `C:\Users\ann\AppData\Roaming\OrionBridge\config.toml`},
			wantOpt: service.KeyValue{"StartType": "automatic", "OnFailure": "restart", "OnFailureDelayDuration": "5s",
				"OnFailureResetPeriod": 86400},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serviceConfig(tt.goos, tt.spec)
			if c.Name != tt.wantName || c.DisplayName != "Orion Bridge" || c.Description == "" {
				t.Errorf("Name %q DisplayName %q Description %q", c.Name, c.DisplayName, c.Description)
			}
			if c.Executable != tt.spec.executable {
				t.Errorf("Executable %q, want %q", c.Executable, tt.spec.executable)
			}
			if !reflect.DeepEqual(c.Arguments, tt.wantArgs) {
				t.Errorf("Arguments %q, want %q", c.Arguments, tt.wantArgs)
			}
			if c.UserName != tt.wantUser {
				t.Errorf("UserName %q, want %q", c.UserName, tt.wantUser)
			}
			if len(c.EnvVars) != 0 || len(tt.wantEnv) != 0 {
				if !reflect.DeepEqual(c.EnvVars, tt.wantEnv) {
					t.Errorf("EnvVars %v, want %v", c.EnvVars, tt.wantEnv)
				}
			}
			opt := service.KeyValue{}
			for k, v := range c.Option {
				opt[k] = v
			}
			unit, _ := opt["SystemdScript"].(string)
			delete(opt, "SystemdScript")
			if !reflect.DeepEqual(opt, tt.wantOpt) {
				t.Errorf("Option %v, want %v", opt, tt.wantOpt)
			}
			if tt.wantUnit == "" && unit != "" {
				t.Errorf("a SystemdScript on %s", tt.goos)
			}
			if !strings.Contains(unit, tt.wantUnit) || (tt.notInUnit != "" && strings.Contains(unit, tt.notInUnit)) {
				t.Errorf("unit lacks %q or has %q:\n%s", tt.wantUnit, tt.notInUnit, unit)
			}
		})
	}
}

// TestServiceExecutable lays out real files beside a program and checks
// which one a service is registered to run.
func TestServiceExecutable(t *testing.T) {
	type file struct {
		name string
		mode os.FileMode // 0 for a directory
		link string      // a symbolic link to this name instead
	}
	tests := []struct {
		name     string
		goos     string
		self     string
		files    []file
		want     string // the file name the service runs
		headless bool
	}{
		{name: "no headless build", goos: "linux", self: "orionbridge",
			files: []file{{name: "orionbridge", mode: 0o755}},
			want:  "orionbridge"},
		{name: "the headless build beside it", goos: "linux", self: "orionbridge",
			files: []file{{name: "orionbridge", mode: 0o755}, {name: "orionbridge-headless", mode: 0o755}},
			want:  "orionbridge-headless", headless: true},
		{name: "executable by its owner only", goos: "darwin", self: "orionbridge",
			files: []file{{name: "orionbridge", mode: 0o755}, {name: "orionbridge-headless", mode: 0o700}},
			want:  "orionbridge-headless", headless: true},
		{name: "not executable", goos: "linux", self: "orionbridge",
			files: []file{{name: "orionbridge", mode: 0o755}, {name: "orionbridge-headless", mode: 0o644}},
			want:  "orionbridge"},
		{name: "a directory of that name", goos: "linux", self: "orionbridge",
			files: []file{{name: "orionbridge", mode: 0o755}, {name: "orionbridge-headless"}},
			want:  "orionbridge"},
		{name: "a link to the headless build, kept as a link", goos: "linux", self: "orionbridge",
			files: []file{{name: "orionbridge", mode: 0o755}, {name: "real-headless", mode: 0o755}, {name: "orionbridge-headless", link: "real-headless"}},
			want:  "orionbridge-headless", headless: true},
		{name: "a dangling link", goos: "linux", self: "orionbridge",
			files: []file{{name: "orionbridge", mode: 0o755}, {name: "orionbridge-headless", link: "gone"}},
			want:  "orionbridge"},
		{name: "run by the headless build itself", goos: "linux", self: "orionbridge-headless",
			files: []file{{name: "orionbridge-headless", mode: 0o755}},
			want:  "orionbridge-headless", headless: true},
		{name: "Windows: the .exe beside it, no execute bit needed", goos: "windows", self: "orionbridge.exe",
			files: []file{{name: "orionbridge.exe", mode: 0o644}, {name: "orionbridge-headless.exe", mode: 0o644}},
			want:  "orionbridge-headless.exe", headless: true},
		{name: "Windows: only a name without .exe", goos: "windows", self: "orionbridge.exe",
			files: []file{{name: "orionbridge.exe", mode: 0o644}, {name: "orionbridge-headless", mode: 0o755}},
			want:  "orionbridge.exe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && tt.goos != "windows" {
				t.Skip("execute bits and symbolic links: not on Windows")
			}
			dir := t.TempDir()
			for _, f := range tt.files {
				p := filepath.Join(dir, f.name)
				var err error
				switch {
				case f.link != "":
					err = os.Symlink(filepath.Join(dir, f.link), p)
				case f.mode == 0:
					err = os.Mkdir(p, 0o755)
				default:
					if err = os.WriteFile(p, []byte("#!/bin/sh\n"), f.mode); err == nil {
						err = os.Chmod(p, f.mode) // whatever the umask
					}
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			exe, headless := serviceExecutable(filepath.Join(dir, tt.self), tt.goos)
			if want := filepath.Join(dir, tt.want); exe != want || headless != tt.headless {
				t.Errorf("got %s (headless %v), want %s (headless %v)", exe, headless, want, tt.headless)
			}
			// The install output names the build, and the file name to look for.
			note := serviceExecutableNote(tt.goos, headless)
			name := headlessExecutableName(tt.goos)
			if !strings.Contains(note, name) || strings.HasPrefix(note, "the headless build") != headless {
				t.Errorf("install note %q for headless %v", note, headless)
			}
		})
	}
}

// serveFakeHealth answers /health over TLS on a free loopback port, as a
// running bridge would, and returns the port.
func serveFakeHealth(t *testing.T, h bridge.Health) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(h)
	}))
	srv.Listener = ln
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return ln.Addr().(*net.TCPAddr).Port
}

func TestServiceStatusLine(t *testing.T) {
	bridgePort := serveFakeHealth(t, bridge.Health{App: bridge.AppName, PID: 4242})
	otherPort := serveFakeHealth(t, bridge.Health{App: "Something Else", PID: 1})
	silent := testutil.FreePort(t)
	tests := []struct {
		name  string
		state serviceStateValue
		ports []int
		want  string
	}{
		{"not installed", stateNotInstalled, nil, "not installed"},
		{"stopped", stateStopped, nil, "stopped"},
		{"running on its port", stateRunning, []int{bridgePort}, fmt.Sprintf("running (pid 4242, wss://localhost:%d)", bridgePort)},
		{"running on a fallback port", stateRunning, []int{silent, otherPort, bridgePort}, fmt.Sprintf("running (pid 4242, wss://localhost:%d)", bridgePort)},
		{"running but not answering", stateRunning, []int{silent}, fmt.Sprintf("running (but nothing answers on https://localhost:%d/health yet", silent)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			if len(tt.ports) > 0 {
				cfg.Port, cfg.FallbackPorts = tt.ports[0], tt.ports[1:]
			}
			if got := serviceStatusLine(tt.state, cfg); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBridgeProgram runs the Windows service's process body, the part that
// is not the service control manager's protocol, here.
func TestBridgeProgram(t *testing.T) {
	testutil.SetHome(t)
	t.Setenv("ORIONBRIDGE_MANAGED_CONFIG", filepath.Join(t.TempDir(), "none.toml"))
	port := testutil.FreePort(t)
	cfg := testutil.TempFile(t, "config.toml", fmt.Sprintf("port = %d\nfallback_ports = []\ndata_dir = %q\n", port, t.TempDir()))

	var stderr testutil.LockedBuffer
	prg := newBridgeProgram(Metadata{}, cfg, &stderr)
	var exited atomic.Int32
	exited.Store(-1)
	prg.exit = func(code int) { exited.Store(int32(code)) }
	if err := prg.Start(nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pid, got, ok := probeHealth([]int{port})
		if ok {
			if got != port || pid <= 0 {
				t.Fatalf("pid %d port %d", pid, got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bridge never answered on %d; stderr:\n%s", port, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := prg.Stop(nil); err != nil {
		t.Fatal(err)
	}
	if prg.code != exitOK || exited.Load() != -1 {
		t.Errorf("code %d, exit called with %d; stderr:\n%s", prg.code, exited.Load(), stderr.String())
	}
	if _, _, ok := probeHealth([]int{port}); ok {
		t.Error("still answering after Stop")
	}

	// A bridge that ends by itself ends the process with its status, so that
	// Windows applies the restart action.
	bad := testutil.TempFile(t, "bad.toml", "port = 70000\n")
	prg = newBridgeProgram(Metadata{}, bad, &stderr)
	done := make(chan int, 1)
	prg.exit = func(code int) { done <- code }
	if err := prg.Start(nil); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != exitUsage {
			t.Errorf("exit %d, want %d", code, exitUsage)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("exit was not called")
	}

	// A program built only to control the service refuses to run.
	if err := (&serviceProgram{}).Start(nil); err == nil {
		t.Error("Start without a bridge succeeded")
	}
	if err := (&serviceProgram{}).Stop(nil); err != nil {
		t.Errorf("Stop before Start: %v", err)
	}
}

// The tray's LaunchAgent (autostart) and the service's must not share a
// label, hence a file in ~/Library/LaunchAgents.
func TestLaunchAgentLabelsDiffer(t *testing.T) {
	if autostart.LaunchAgentLabel == serviceNameDarwin {
		t.Error("the tray's LaunchAgent and the service share a label, hence a file")
	}
}
