// The check drives wine, make, mingw-w64 and Chromium, and polices Wine's
// processes through /proc: it runs on Linux only.

//go:build linux

package wine

// The harness: gates, tools, the ProcessPrng shim, throwaway prefixes and
// bounded Wine processes.
//
// Bounds. Wine runs Windows programs as ordinary Linux processes, so a
// runaway one (the MSI's uninstall once grew to 21 GB in 100 s) can take
// the machine down with it. So every Wine command here
//   - runs under prlimit --as (asLimit), which every process it starts
//     inherits, wineserver and msiexec's custom actions included;
//   - has a time limit, after which the prefix's processes are killed;
//   - and is watched: a watchdog polls the resident memory of every process
//     of the prefix (found by WINEPREFIX in its environment, which Wine
//     passes on) and kills them all past rssLimit per process or
//     totalRSSLimit together, failing the test with what it saw.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	checkEnv = "ORIONBRIDGE_WINE_CHECK"

	// asLimit is each Wine process's address space (prlimit --as). Wine
	// reserves some address space up front; 8 GiB leaves it room and still
	// stops a runaway well before this machine's memory.
	asLimit = 8 << 30
	// rssLimit and totalRSSLimit bound resident memory, per process and for
	// the prefix's processes together. A bridge idles in tens of MiB, the
	// tray in about a hundred.
	rssLimit      = 1536 << 20
	totalRSSLimit = 3 << 30
	// pollEvery is the watchdog's period.
	pollEvery = 200 * time.Millisecond
)

// tool is a program the check runs and the Debian package providing it.
type tool = testutil.Tool

var (
	toolWine     = tool{Name: "wine", Deb: "wine"}
	toolWine64   = tool{Name: "/usr/lib/wine/wine64", Deb: "wine64"}
	toolPrlimit  = tool{Name: "prlimit", Deb: "util-linux"}
	toolMake     = tool{Name: "make", Deb: "make"}
	toolMingw    = tool{Name: "x86_64-w64-mingw32-gcc", Deb: "gcc-mingw-w64-x86-64"}
	toolWixl     = tool{Name: "wixl", Deb: "wixl"}
	toolMsiinfo  = tool{Name: "msiinfo", Deb: "msitools"}
	toolChromium = tool{Name: "/usr/bin/chromium", Deb: "chromium"}
	toolCertutil = tool{Name: "certutil", Deb: "libnss3-tools"}

	wineTools = []tool{toolWine, toolWine64, toolPrlimit, toolMingw}
	msiTools  = []tool{toolMake, toolWixl, toolMsiinfo}
)

// work is the check's scratch folder: the shim and a copy of the MSI.
var work string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "orionbridge-wine-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "wine check:", err)
		os.Exit(1)
	}
	work = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// setup gates the check and returns the repository root. Without
// ORIONBRIDGE_WINE_CHECK=1 it skips (`make wine-check` sets it: the first
// Windows build takes minutes); a missing tool skips with the command that
// installs it, except under CI=true, where that is a failure.
func setup(t *testing.T, tools ...tool) string {
	t.Helper()
	if os.Getenv(checkEnv) != "1" {
		// `make wine-check` (part of make test) sets it and runs this package
		// once; the generic test run leaves the package out. Under CI a
		// run without it is a mistake, never a pass.
		if os.Getenv("CI") == "true" {
			t.Fatalf("the Wine check runs with %s=1: make wine-check", checkEnv)
		}
		t.Skipf("the Wine check runs with %s=1: make wine-check", checkEnv)
	}
	testutil.RequireTools(t, append(slices.Clone(wineTools), tools...)...)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var shim struct {
	once sync.Once
	path string
	err  error
}

// shimDLL builds testdata/processprng.c into bcryptprimitives.dll, once.
func shimDLL(t *testing.T) string {
	t.Helper()
	shim.once.Do(func() {
		src, err := filepath.Abs(filepath.Join("testdata", "processprng.c"))
		if err != nil {
			shim.err = err
			return
		}
		shim.path = filepath.Join(work, "bcryptprimitives.dll")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "x86_64-w64-mingw32-gcc", "-shared", "-O2", "-s", "-Wall", "-Werror",
			"-o", shim.path, src, "-ladvapi32").CombinedOutput()
		if err != nil {
			shim.err = fmt.Errorf("build the ProcessPrng shim: x86_64-w64-mingw32-gcc %s: %w\n%s", src, err, out)
		}
	})
	if shim.err != nil {
		t.Fatal(shim.err)
	}
	return shim.path
}

// prefix is one throwaway WINEPREFIX with the shim installed, and the
// watchdog over its processes.
type prefix struct {
	t    *testing.T
	dir  string
	home string
	env  []string

	stopWatch chan struct{}
	watchDone chan struct{}
	mu        sync.Mutex
	tripped   string     // why the watchdog killed the prefix's processes
	killMu    sync.Mutex // held while killAll runs
}

// settled waits until no kill of the prefix's processes is in progress.
func (p *prefix) settled() {
	p.killMu.Lock()
	//lint:ignore SA2001 an empty critical section: waiting for the holder is the point
	p.killMu.Unlock()
}

// newPrefix makes a prefix under the test's temporary folder and runs
// wineboot in it. display, if not empty, is the X display its programs get;
// without one they have none (msiexec /qn and the console programs need
// none).
func newPrefix(t *testing.T, display string) *prefix {
	t.Helper()
	dll := shimDLL(t)
	base := t.TempDir()
	p := &prefix{t: t, dir: filepath.Join(base, "prefix"), home: filepath.Join(base, "home"),
		stopWatch: make(chan struct{}), watchDone: make(chan struct{})}
	for _, dir := range []string{p.home, p.dir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "WINE") || strings.HasPrefix(name, "XDG_") || name == "DISPLAY" || name == "HOME" || name == "WAYLAND_DISPLAY" {
			continue
		}
		p.env = append(p.env, kv)
	}
	p.env = append(p.env,
		"WINEPREFIX="+p.dir, "WINEARCH=win64", "WINEDEBUG=-all",
		// No Mono or Gecko download prompts, and no Linux menu entries or
		// file associations for what the MSI installs: the prefix must not
		// reach outside itself (winemenubuilder writes to ~/.local).
		"WINEDLLOVERRIDES=mscoree,mshtml=;winemenubuilder.exe=d",
		// Wine links the user's shell folders to XDG folders in HOME.
		"HOME="+p.home, "XDG_CONFIG_HOME="+filepath.Join(p.home, ".config"), "XDG_DATA_HOME="+filepath.Join(p.home, ".local", "share"))
	if display != "" {
		p.env = append(p.env, "DISPLAY="+display)
	}
	go p.watch()
	t.Cleanup(p.close)

	start := time.Now()
	p.mustWine(3*time.Minute, "wineboot", "-i")
	// Wait for wineboot's session to end (its wineserver exits with the
	// last process). A program started while it is ending gets a session
	// with two services.exe, each with its own copy of the service
	// database and both answering \pipe\svcctl: a service that
	// CreateService made is then found by every second OpenService only
	// (`sc query` alternates), which rolled back an install with
	// SERVICE=1 ("not installed" right after "installed").
	p.mustWineserver(time.Minute, "-w")
	t.Logf("wineboot -i: %v", time.Since(start).Round(100*time.Millisecond))
	system32 := filepath.Join(p.dir, "drive_c", "windows", "system32")
	data, err := os.ReadFile(dll)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(system32, "bcryptprimitives.dll"), data, 0o644); err != nil {
		t.Fatalf("install the ProcessPrng shim: %v", err)
	}
	return p
}

// path maps a C:\ path to the Linux file in the prefix.
func (p *prefix) path(win string) string {
	rest, ok := strings.CutPrefix(win, `C:\`)
	if !ok {
		p.t.Fatalf("not a C: path: %s", win)
	}
	return filepath.Join(p.dir, "drive_c", filepath.FromSlash(strings.ReplaceAll(rest, `\`, "/")))
}

// command is `wine args…` under prlimit in its own process group.
func (p *prefix) command(args ...string) *exec.Cmd {
	return p.programCommand("wine", args...)
}

// programCommand is `program args…` (wine or wineserver) under prlimit in
// its own process group, with the prefix's environment.
func (p *prefix) programCommand(program string, args ...string) *exec.Cmd {
	cmd := exec.Command("prlimit", append([]string{"--as=" + strconv.Itoa(asLimit), "--", program}, args...)...)
	cmd.Env = p.env
	cmd.Dir = p.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// outputFile is a new file for a program's stdout and stderr. A file, not
// a pipe: the wineserver and the services a Wine program starts inherit
// its output and outlive it, and Wait would wait for them to close a pipe.
func (p *prefix) outputFile() *os.File {
	p.t.Helper()
	f, err := os.CreateTemp(filepath.Dir(p.dir), "output-*.log")
	if err != nil {
		p.t.Fatal(err)
	}
	return f
}

// wine runs `wine args…` to its end, at most limit, and returns its output
// (stdout and stderr) and its error. A timeout kills the prefix's processes
// and is an error.
func (p *prefix) wine(limit time.Duration, args ...string) (string, error) {
	p.t.Helper()
	return p.run(limit, "wine", args...)
}

// mustWineserver runs `wineserver args…` (-w: wait for the session's end;
// -p: keep it, see keepSession) and fails the test on an error.
func (p *prefix) mustWineserver(limit time.Duration, args ...string) {
	p.t.Helper()
	if out, err := p.run(limit, "wineserver", args...); err != nil {
		p.t.Fatalf("%v\n%s", err, out)
	}
}

// keepSession makes the prefix's wineserver persistent. Without it, the
// wineserver ends the session (services.exe and every service it started
// included) as soon as the last ordinary program has ended: a service
// started by msiexec would die with msiexec. Call it before any other
// program of the session (newPrefix has waited for wineboot's to end), so
// that the persistent wineserver is the session's; close's wineserver -k
// ends it.
func (p *prefix) keepSession() {
	p.t.Helper()
	p.mustWineserver(time.Minute, "-p")
}

// run runs program (wine or wineserver) with args to its end, at most
// limit; see wine.
func (p *prefix) run(limit time.Duration, program string, args ...string) (string, error) {
	p.t.Helper()
	f := p.outputFile()
	defer f.Close()
	out := outputOf{f.Name()}
	cmd := p.programCommand(program, args...)
	cmd.Stdout, cmd.Stderr = f, f
	p.settled()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("%s %s: %w", program, strings.Join(args, " "), err)
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(limit, func() {
		timedOut.Store(true)
		p.killAll()
	})
	err := cmd.Wait()
	timer.Stop()
	p.settled()
	if why := p.takeTripped(); why != "" {
		return out.String(), fmt.Errorf("%s %s: memory bound: killed every Wine process of the prefix: %s", program, strings.Join(args, " "), why)
	}
	if timedOut.Load() {
		return out.String(), fmt.Errorf("%s %s: still running after %v: killed the prefix's processes", program, strings.Join(args, " "), limit)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w", program, strings.Join(args, " "), err)
	}
	return out.String(), nil
}

func (p *prefix) mustWine(limit time.Duration, args ...string) string {
	p.t.Helper()
	out, err := p.wine(limit, args...)
	if err != nil {
		p.t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// winProcess is a Windows program running in the background.
type winProcess struct {
	p    *prefix
	name string
	cmd  *exec.Cmd
	out  outputOf
	done chan struct{}
	err  error
}

// start runs `wine args…` in the background; the test's cleanup (or stop)
// ends it.
func (p *prefix) start(name string, args ...string) *winProcess {
	p.t.Helper()
	return p.startEnv(name, nil, args...)
}

// startEnv is start with changes to the prefix's environment ("NAME=value"
// replaces NAME; "NAME=" empties it, which Wine's X11 driver takes as no
// display).
func (p *prefix) startEnv(name string, env []string, args ...string) *winProcess {
	p.t.Helper()
	f := p.outputFile()
	defer f.Close()
	w := &winProcess{p: p, name: name, cmd: p.command(args...), out: outputOf{f.Name()}, done: make(chan struct{})}
	w.cmd.Env = append(w.cmd.Env, env...) // the last of a name wins
	w.cmd.Stdout, w.cmd.Stderr = f, f
	p.settled()
	if err := w.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", name, err)
	}
	go func() { w.err = w.cmd.Wait(); close(w.done) }()
	p.t.Cleanup(func() {
		w.stop()
		if p.t.Failed() {
			p.t.Logf("%s output:\n%s", name, w.out)
		}
	})
	return w
}

// stop kills the program (Wine has no SIGTERM for a Windows program to
// catch) and waits for it.
func (w *winProcess) stop() {
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		w.p.t.Errorf("%s did not end 30 s after SIGKILL", w.name)
	}
}

// wait waits for the program to end by itself, at most limit.
func (w *winProcess) wait(limit time.Duration) error {
	select {
	case <-w.done:
		return w.err
	case <-time.After(limit):
		w.stop()
		return fmt.Errorf("%s: still running after %v: killed", w.name, limit)
	}
}

// waitForOutput waits until the program has printed want.
func (w *winProcess) waitForOutput(t *testing.T, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(w.out.String(), want) {
		select {
		case <-w.done:
			t.Fatalf("%s ended (%v) before printing %q:\n%s", w.name, w.err, want, w.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within %v:\n%s", w.name, want, limit, w.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processes lists the pids whose environment names this prefix.
func (p *prefix) processes() []int {
	want := []byte("WINEPREFIX=" + p.dir)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + ent.Name() + "/environ")
		if err != nil {
			continue
		}
		for kv := range bytes.SplitSeq(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// killAll SIGKILLs the prefix's processes until none is left (a dying
// process may still start another), at most a few rounds. Commands wait
// for a kill in progress (settled) before they start, so that it cannot
// hit them.
func (p *prefix) killAll() {
	p.killMu.Lock()
	defer p.killMu.Unlock()
	for range 20 {
		pids := p.processes()
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rss is a process's resident memory in bytes (0 if it is gone).
func rss(pid int) int64 {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
}

// watch is the watchdog: until close, it kills every process of the prefix
// as soon as one of them, or all together, pass the memory bounds.
func (p *prefix) watch() {
	defer close(p.watchDone)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-p.stopWatch:
			return
		case <-tick.C:
		}
		var total int64
		why := ""
		for _, pid := range p.processes() {
			r := rss(pid)
			total += r
			if r > rssLimit && why == "" {
				why = fmt.Sprintf("pid %d (%s) reached %d MiB resident, past the bound of %d MiB", pid, cmdline(pid), r>>20, rssLimit>>20)
			}
		}
		if why == "" && total > totalRSSLimit {
			why = fmt.Sprintf("the prefix's processes reached %d MiB resident together, past the bound of %d MiB", total>>20, totalRSSLimit>>20)
		}
		if why != "" {
			// Recorded before the kill, so that whoever waits for a killed
			// process finds the reason.
			p.mu.Lock()
			if p.tripped == "" {
				p.tripped = why
			}
			p.mu.Unlock()
			p.killAll()
		}
	}
}

// takeTripped returns why the watchdog killed, if it did since the last
// call.
func (p *prefix) takeTripped() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	why := p.tripped
	p.tripped = ""
	return why
}

// close ends the prefix's Wine processes (wineserver -k, then SIGKILL for
// any left) and the watchdog.
func (p *prefix) close() {
	cmd := exec.Command("wineserver", "-k")
	cmd.Env = p.env
	done := make(chan struct{})
	if cmd.Start() == nil {
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
	p.killAll()
	close(p.stopWatch)
	<-p.watchDone
	if why := p.takeTripped(); why != "" {
		p.t.Errorf("memory bound: killed every Wine process of the prefix: %s", why)
	}
}

// regQuery returns the data of a registry value as `wine reg query` prints
// it, and whether it exists.
func (p *prefix) regQuery(key, name string) (string, bool) {
	p.t.Helper()
	out, err := p.wine(time.Minute, "reg", "query", key, "/v", name)
	if err != nil {
		return "", false
	}
	for line := range strings.SplitSeq(out, "\n") {
		fields := strings.Fields(strings.TrimSpace(line))
		// NAME REG_TYPE DATA…, where NAME may hold spaces.
		for i, f := range fields {
			if strings.HasPrefix(f, "REG_") && strings.Join(fields[:i], " ") == name {
				line = strings.TrimSpace(line)
				idx := strings.Index(line, f) + len(f)
				return strings.TrimSpace(line[idx:]), true
			}
		}
	}
	return "", false
}

// regSubkeys lists the names of a registry key's direct subkeys, as
// `wine reg query KEY` prints them (full paths, one a line).
func (p *prefix) regSubkeys(key string) []string {
	p.t.Helper()
	out, err := p.wine(time.Minute, "reg", "query", key)
	if err != nil {
		return nil
	}
	var names []string
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "HKEY_") {
			continue
		}
		// The key itself heads the listing.
		if strings.EqualFold(trimHive(line), trimHive(key)) {
			continue
		}
		if i := strings.LastIndex(line, `\`); i >= 0 && i+1 < len(line) {
			names = append(names, line[i+1:])
		}
	}
	return names
}

// regValueNames lists the names of a registry key's values.
func (p *prefix) regValueNames(key string) []string {
	p.t.Helper()
	out, err := p.wine(time.Minute, "reg", "query", key)
	if err != nil {
		return nil
	}
	var names []string
	for line := range strings.SplitSeq(out, "\n") {
		fields := strings.Fields(line)
		for i, f := range fields {
			if strings.HasPrefix(f, "REG_") && i > 0 {
				names = append(names, strings.Join(fields[:i], " "))
				break
			}
		}
	}
	return names
}

// trimHive drops the hive (HKLM or HKEY_LOCAL_MACHINE) from a key's path.
func trimHive(key string) string {
	_, rest, _ := strings.Cut(key, `\`)
	return rest
}

// regKeyExists reports whether a registry key exists.
func (p *prefix) regKeyExists(key string) bool {
	p.t.Helper()
	_, err := p.wine(time.Minute, "reg", "query", key)
	return err == nil
}

// outputOf reads a program's output file.
type outputOf struct{ path string }

func (o outputOf) String() string {
	data, _ := os.ReadFile(o.path)
	return string(data)
}

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// allowLinuxClients adds allow_other_users = true to the managed config
// the MSI wrote. The tests' clients (Go, Chromium) are Linux processes,
// and Wine's GetExtendedTcpTable reports no owner for their connections
// (docs/wine-findings.md), so the bridge cannot tell they are its own
// user's and refuses them, as it must on Windows for an owner it cannot
// determine. The documented switch lets them in; bridge/peer_windows_test.go
// (run by TestPackageTestsUnderWine) tests the check itself under Wine.
func (p *prefix) allowLinuxClients(t *testing.T) {
	t.Helper()
	path := p.path(`C:\ProgramData\OrionBridge\config.toml`)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the managed config: %v", err)
	}
	// At the top: after a [[routes]] table the key would be the route's.
	data = append([]byte("# The Wine tests' clients are Linux processes: see allowLinuxClients.\nallow_other_users = true\n\n"), data...)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
