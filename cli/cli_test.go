package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"orionbridge/app"
	"orionbridge/app/apptest"
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

var testMetadata = []byte("[Details]\nName = \"Orion Bridge\"\nVersion = \"9.8.7\"\n")

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(testMetadata, args, &out, &errb, nil)
	return code, out.String(), errb.String()
}

func TestMainCommands(t *testing.T) {
	testutil.SetHome(t)
	good := testutil.TempFile(t, "good.toml", "port = 31443\n")
	bad := testutil.TempFile(t, "bad.toml", "\nport = 70000\n")
	tests := []struct {
		name       string
		args       []string
		code       int
		out, err   string
		notInOuts  string
		configHome bool
	}{
		{name: "version", args: []string{"version"}, out: "orionbridge 9.8.7\n"},
		{name: "help", args: []string{"help"}, out: "orionbridge run"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, err: `unknown command "frobnicate"`},
		{name: "config check ok", args: []string{"config", "check", good}, out: good + ": ok"},
		{name: "config check bad", args: []string{"config", "check", bad}, code: 2, err: `line 2: key "port": expected a port number 1-65535, got 70000`},
		{name: "config check missing file", args: []string{"config", "check", "/nonexistent.toml"}, code: 2, err: "/nonexistent.toml"},
		{name: "config without FILE", args: []string{"config", "check"}, code: 2, err: "usage: orionbridge config check FILE"},
		{name: "run with a bad config", args: []string{"run", "--config", bad}, code: 2, err: "expected a port number"},
		{name: "bare flags mean run", args: []string{"--config", bad}, code: 2, err: "expected a port number"},
		{name: "run with a bad log format", args: []string{"run", "--log-format", "xml"}, code: 2, err: `--log-format "xml": expected text or json`},
		{name: "run with a stray argument", args: []string{"run", "now"}, code: 2, err: `unexpected argument "now"`},
		{name: "run -h", args: []string{"run", "-h"}, code: 0, err: "-log-format"},
		{name: "demo-engine bad push", args: []string{"demo-engine", "--push", "-1s"}, code: 2, err: "positive interval"},
		{name: "certs without subcommand", args: []string{"certs"}, code: 2, err: "usage: orionbridge certs"},
		{name: "certs bad scope", args: []string{"certs", "install", "--scope", "galaxy"}, code: 2, err: `--scope "galaxy": expected user or system`},
		{name: "certs unknown", args: []string{"certs", "polish"}, code: 2, err: `unknown subcommand "polish"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runMain(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			if !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
				t.Fatalf("stdout %q (want %q), stderr %q (want %q)", out, tt.out, errOut, tt.err)
			}
		})
	}
}

func TestCertsPath(t *testing.T) {
	testutil.SetHome(t)
	data := t.TempDir()
	cfg := testutil.TempFile(t, "c.toml", fmt.Sprintf("data_dir = %q\n", data))
	code, out, errOut := runMain(t, "certs", "path", "--config", cfg)
	if code != 0 || strings.TrimSpace(out) != filepath.Join(data, "certs", "ca.pem") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
	ext := testutil.TempFile(t, "e.toml", "cert_file = \"/x/c.pem\"\nkey_file = \"/x/k.pem\"\n")
	if code, _, errOut := runMain(t, "certs", "path", "--config", ext); code != 1 || !strings.Contains(errOut, "externally managed") {
		t.Fatalf("external: exit %d, %q", code, errOut)
	}
}

func TestParseMetadataFromRepo(t *testing.T) {
	data, err := os.ReadFile("../FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Details.Name != "Orion Bridge" || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(m.Details.Version) {
		t.Fatalf("metadata %+v", m.Details)
	}
	if _, err := ParseMetadata([]byte("[Details]\nName = \"x\"\n")); err == nil {
		t.Fatal("metadata without a version was accepted")
	}
}

func TestDemoEngine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		DemoEngine{Push: 20 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}.Serve(ctx, ln)
		close(served)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	// Pushed lines arrive without being asked for.
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "demo engine time ") {
		t.Fatalf("pushed line %q, %v", line, err)
	}
	c.Write([]byte("echo me\n"))
	for line != "echo me\n" {
		if line, err = r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-served // Serve returns only after closing every connection
	if _, err := io.ReadAll(r); err != nil {
		t.Fatalf("connection not closed cleanly: %v", err)
	}
}

func TestTrayEntry(t *testing.T) {
	testutil.SetHome(t)
	bad := testutil.TempFile(t, "bad.toml", "port = 0\n")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	good := testutil.TempFile(t, "good.toml", fmt.Sprintf("port = %d\nfallback_ports = []\ndata_dir = %q\n", port, t.TempDir()))

	var got app.UIOptions
	var running bool
	ui := func(ctrl app.Controller, opts app.UIOptions) error {
		snap, err := ctrl.Snapshot(context.Background())
		got, running = opts, err == nil && snap.Running
		return nil
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	var out, errb bytes.Buffer
	if code := Main(testMetadata, []string{"--config", bad}, &out, &errb, ui); code != 2 || !strings.Contains(errb.String(), "running headless") {
		t.Fatalf("without a display: exit %d, %q", code, errb.String())
	}
	if running {
		t.Fatal("the UI ran without a display")
	}

	t.Setenv("DISPLAY", ":99")
	errb.Reset()
	if code := Main(testMetadata, []string{"--config", good, "--dashboard"}, &out, &errb, ui); code != 0 {
		t.Fatalf("with a display: exit %d, %s", code, errb.String())
	}
	if !running || !got.ShowDashboard || got.Version != "9.8.7" || got.Quit == nil {
		t.Fatalf("the UI got running=%v %+v", running, got)
	}
}

// The default command says why it runs headless: the headless build has no
// tray (whatever the display), the tray build has no display. A bad config
// stops each run right after that line.
func TestDefaultCommandHeadlessNotice(t *testing.T) {
	testutil.SetHome(t)
	bad := testutil.TempFile(t, "bad.toml", "port = 0\n")
	const (
		noTray    = "orionbridge: this build, orionbridge-headless, has no tray: running headless as `orionbridge run` would"
		noDisplay = "orionbridge: no display found (DISPLAY and WAYLAND_DISPLAY are unset), running headless as `orionbridge run` would"
	)
	tests := []struct {
		name    string
		tray    bool // the tray build: Main gets a UI
		display string
		want    string // the notice, "" for none
	}{
		{name: "headless build with a display", display: ":99", want: noTray},
		{name: "headless build without a display", want: noTray},
		{name: "tray build without a display", tray: true, want: noDisplay},
		{name: "tray build with a display", tray: true, display: ":99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == noDisplay && (runtime.GOOS == "windows" || runtime.GOOS == "darwin") {
				t.Skip("haveDisplay: Windows and macOS always have one")
			}
			t.Setenv("DISPLAY", tt.display)
			t.Setenv("WAYLAND_DISPLAY", "")
			var ui app.UI
			if tt.tray {
				ui = func(app.Controller, app.UIOptions) error {
					t.Error("the UI ran with a bad config")
					return nil
				}
			}
			var out, errb bytes.Buffer
			code := Main(testMetadata, []string{"--config", bad}, &out, &errb, ui)
			if code != exitUsage || !strings.Contains(errb.String(), "expected a port number") {
				t.Fatalf("exit %d, want %d for the bad config; stderr:\n%s", code, exitUsage, errb.String())
			}
			// The notice is the first line, before the config's error.
			notice, _, _ := strings.Cut(errb.String(), "config ")
			if strings.TrimSuffix(notice, "\n") != tt.want {
				t.Errorf("notice %q, want %q", notice, tt.want)
			}
			if got := headlessNotice(tt.tray, tt.display != ""); got != tt.want {
				t.Errorf("headlessNotice(%v, %v) = %q, want %q", tt.tray, tt.display != "", got, tt.want)
			}
		})
	}
}

// A second start of the tray app with the same config joins the first:
// a bridge running headless (a service) is attached to and the UI shows it;
// a tray app is asked to bring its dashboard forward, and no second UI opens.
func TestSecondTrayStartJoinsTheFirst(t *testing.T) {
	testutil.SetHome(t)
	t.Setenv("DISPLAY", ":99")
	for _, mode := range []string{"headless", "tray"} {
		t.Run(mode, func(t *testing.T) {
			first := apptest.StartInstance(t, nil)
			first.SetMode(mode)
			shown := make(chan struct{}, 1)
			first.OnShowDashboard(func() { shown <- struct{}{} })
			cfg := first.RunningConfig()
			path := testutil.TempFile(t, "c.toml", fmt.Sprintf("port = %d\nfallback_ports = []\ndata_dir = %q\n", cfg.Port, cfg.DataDir))

			var got app.Controller
			ui := func(ctrl app.Controller, _ app.UIOptions) error { got = ctrl; return nil }
			var out, errb bytes.Buffer
			if code := Main(testMetadata, []string{"--config", path}, &out, &errb, ui); code != 0 {
				t.Fatalf("second start: exit %d\n%s", code, errb.String())
			}
			switch mode {
			case "headless":
				if got == nil || got.Info().Mode != "headless" {
					t.Fatalf("the UI did not get the running service: %v\n%s", got, errb.String())
				}
				if snap, err := got.Snapshot(context.Background()); err != nil || !snap.Running {
					t.Fatalf("the service as the UI sees it: running %v, %v", snap.Running, err)
				}
				if !strings.Contains(errb.String(), "attached to the Orion Bridge service") {
					t.Errorf("stderr: %s", errb.String())
				}
			case "tray":
				if got != nil {
					t.Fatal("a second tray UI opened")
				}
				select {
				case <-shown:
				default:
					t.Fatalf("the first tray was not asked to show its dashboard\n%s", errb.String())
				}
			}
			if !first.Bridge.Snapshot().Running {
				t.Fatal("the second start stopped the first bridge")
			}
		})
	}
}
