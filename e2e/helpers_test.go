//go:build linux

package e2e

// Helpers shared by the end-to-end tests: building the binaries, running
// them as child processes with a temporary HOME, and driving a headless
// Chromium that trusts only what `orionbridge certs install` put in that
// HOME.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const (
	chromiumPath = "/usr/bin/chromium"
	// waitLimit bounds every wait, so a broken test fails instead of hanging.
	waitLimit = 30 * time.Second
)

// binDir holds the binaries, each built once.
var binDir string

// binary is a build of the main package, made with `go build` from the
// module root on first use, as the Makefile makes it.
type binary struct {
	name string   // its file name in binDir
	env  []string // added to the go command's environment
	tags string

	once sync.Once
	path string
	err  error
}

var (
	// trayBuild is orionbridge, the tray app (make build: -tags no_emoji).
	trayBuild = &binary{name: "orionbridge", tags: "no_emoji"}
	// headlessBuild is orionbridge-headless: no tray, no cgo.
	headlessBuild = &binary{name: "orionbridge-headless", tags: "headless", env: []string{"CGO_ENABLED=0"}}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "orionbridge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// orionbridge returns the path of the orionbridge binary, the tray build.
func orionbridge(t *testing.T) string {
	t.Helper()
	return trayBuild.build(t)
}

// build returns the binary's path, building it on first use.
func (b *binary) build(t *testing.T) string {
	t.Helper()
	b.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil {
			b.err = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		mod := strings.TrimSpace(string(gomod))
		if mod == "" || mod == os.DevNull {
			b.err = errors.New("go env GOMOD: not inside the orionbridge module")
			return
		}
		b.path = filepath.Join(binDir, b.name)
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", b.tags, "-o", b.path, ".")
		cmd.Dir = filepath.Dir(mod)
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("%s go build -tags %s -o %s . (in %s): %w\n%s", strings.Join(b.env, " "), b.tags, b.path, cmd.Dir, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// requireTools fails (CI=true) or skips when Chromium or certutil is missing.
func requireTools(t *testing.T) {
	t.Helper()
	missing := func(reason string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatal(reason)
		}
		t.Skip(reason)
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		missing("chromium not found: apt-get install chromium")
	}
	if _, err := exec.LookPath("certutil"); err != nil {
		if _, err := os.Stat("/usr/bin/certutil"); err != nil {
			missing("certutil not found: apt-get install libnss3-tools")
		}
	}
}

// homeEnv is this process's environment with HOME replaced by home, and
// without the variables that would point a child at the real user's files
// (sudo's SUDO_USER makes `certs install` pick that user's home).
func homeEnv(home string) []string {
	drop := map[string]bool{
		"HOME": true, "SUDO_USER": true, "SUDO_UID": true, "SUDO_GID": true, "SUDO_COMMAND": true,
		"XDG_CONFIG_HOME": true, "XDG_DATA_HOME": true, "XDG_CACHE_HOME": true, "XDG_STATE_HOME": true,
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+home)
}

// process is a long-running orionbridge child process.
type process struct {
	name    string
	cmd     *exec.Cmd
	out     *testutil.LockedBuffer
	done    chan struct{}
	err     error // the result of Wait, once done is closed
	stopped bool  // stop has run; the cleanup has nothing left to do
}

// start runs orionbridge with args until the test ends; the cleanup sends
// SIGTERM, waits, and fails the test unless the process exits with status 0.
func start(t *testing.T, home, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(orionbridge(t), args...)
	cmd.Env = homeEnv(home)
	cmd.Dir = home
	return startCmd(t, name, cmd)
}

// startCmd starts cmd as start does, for a command set up otherwise (another
// binary, another environment).
func startCmd(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, out: new(testutil.LockedBuffer), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	// Should the test binary die, the kernel kills the child too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM and fails the test unless the process exits with
// status 0. It runs at cleanup, or earlier when a test stops a process.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if p.stopped {
		return
	}
	p.stopped = true
	select {
	case <-p.done:
		t.Errorf("%s exited before the test ended: %v", p.name, p.err)
	default:
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM %s: %v", p.name, err)
		}
		select {
		case <-p.done:
			if p.err != nil {
				t.Errorf("%s after SIGTERM: %v (want exit status 0)", p.name, p.err)
			}
		case <-time.After(waitLimit):
			t.Errorf("%s still runs %v after SIGTERM: killing it", p.name, waitLimit)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if t.Failed() {
		t.Logf("output of %s:\n%s", p.name, p.out)
	}
}

// waitForOutput waits until the process has printed want.
func (p *process) waitForOutput(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !strings.Contains(p.out.String(), want) {
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before printing %q:\n%s", p.name, p.err, want, p.out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within %v:\n%s", p.name, want, waitLimit, p.out)
		}
	}
}

// orion runs a short orionbridge command with HOME set to home.
func orion(t *testing.T, home string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, orionbridge(t), args...)
	cmd.Env = homeEnv(home)
	cmd.Dir = home
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustOrion(t *testing.T, home string, args ...string) {
	t.Helper()
	out, err := orion(t, home, args...)
	if err != nil {
		t.Fatalf("orionbridge %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("orionbridge %s:\n%s", strings.Join(args, " "), out)
}

// browser is one headless Chromium with a fresh profile, and what it
// reported over the DevTools protocol.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	urls     map[network.RequestID]string // from requestWillBeSent and webSocketCreated
	failures map[network.RequestID]string // loadingFailed and webSocketFrameError: the error text
	logs     []string                     // Log.entryAdded: what DevTools' console shows
}

// record runs in chromedp's event loop: it must return fast.
func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.urls[ev.RequestID] = ev.Request.URL
	case *network.EventWebSocketCreated:
		b.urls[ev.RequestID] = ev.URL
	case *network.EventLoadingFailed:
		b.failures[ev.RequestID] = ev.ErrorText
	case *network.EventWebSocketFrameError:
		// A failed handshake, e.g. "Error in connection establishment:
		// net::ERR_CERT_AUTHORITY_INVALID"; WebSockets get no loadingFailed.
		if _, seen := b.failures[ev.RequestID]; !seen {
			b.failures[ev.RequestID] = ev.ErrorMessage
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry != nil {
			b.logs = append(b.logs, fmt.Sprintf("%s %s: %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text))
		}
	}
}

// loadFailure returns the error text of the failed load (or WebSocket
// handshake) of url, waiting for the event if it has not arrived yet.
func (b *browser) loadFailure(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if text, ok := b.failureOf(url); ok {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("Chromium reported no failed load of %s within %v; console:\n%s", url, waitLimit, b.console())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *browser) failureOf(url string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, text := range b.failures {
		if b.urls[id] == url {
			return text, true
		}
	}
	return "", false
}

func (b *browser) console() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.logs, "\n")
}

// openBrowser starts Chromium with a new profile under home, which is also
// its HOME, with the extra options given. The cleanup closes it, waits for
// it, and kills any of its processes that are left (found by the profile
// directory, which only they have on their command line).
func openBrowser(t *testing.T, home string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	profile, err := os.MkdirTemp(home, "chromium-profile-")
	if err != nil {
		t.Fatal(err)
	}
	out := new(testutil.LockedBuffer)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.NoInheritEnv,
		chromedp.Env(homeEnv(home)...), // Chromium reads $HOME/.pki/nssdb
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox, // we may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // /dev/shm is small in containers
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
		// Never --ignore-certificate-errors: trust must come from the NSS db.
	}
	opts = append(opts, extra...)
	// base caps the browser's whole life.
	base, cancelBase := context.WithTimeout(context.Background(), 5*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	b := &browser{urls: map[network.RequestID]string{}, failures: map[network.RequestID]string{}}
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.record))
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		if err := chromedp.Cancel(cctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("close Chromium: %v", err)
		}
		cancel()
		cancelTab()
		cancelAlloc() // waits until the browser process has exited
		cancelBase()
		if n := killLeftovers(profile); n > 0 {
			t.Logf("killed %d Chromium processes left over from %s", n, profile)
		}
		if t.Failed() {
			t.Logf("Chromium output:\n%s\nDevTools console:\n%s", out, b.console())
		}
	})
	// The first Do starts the browser and binds its life to ctx, so it must
	// not get a context with a short timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v\n%s", chromiumPath, err, out)
	}
	sctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if _, err := chromedp.Call(sctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("Network.enable: %v", err)
	}
	if _, err := chromedp.Call(sctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("Log.enable: %v", err)
	}
	b.ctx = ctx
	return b
}

// killLeftovers SIGKILLs the processes that have --user-data-dir=profile on
// their command line: Chromium helpers that outlived the main process. The
// profile directory is unique to one browser of this test, so nothing else
// matches.
func killLeftovers(profile string) int {
	want := []byte("--user-data-dir=" + profile)
	killed := 0
	for range 10 {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return killed
		}
		found := 0
		for _, ent := range entries {
			pid, err := strconv.Atoi(ent.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
			if err != nil {
				continue
			}
			for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
				if bytes.Equal(arg, want) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					found++
					break
				}
			}
		}
		if found == 0 {
			return killed
		}
		killed += found
		time.Sleep(50 * time.Millisecond)
	}
	return killed
}
