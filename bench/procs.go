//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server process the load tool started. Each runs in its own
// process group, so stopping websockify also stops the child it forked for
// every session; nothing else is ever signalled.
type proc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	log   string
	done  chan struct{}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// start runs cmd with its output in logPath.
func start(name string, cmd *exec.Cmd, logPath string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	if cmd.Stdout == nil {
		cmd.Stdout = logf
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, stdin: stdin, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process group: stdin closed, then SIGTERM, then SIGKILL.
func (p *proc) stop() {
	if p == nil {
		return
	}
	p.stdin.Close()
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Children of the group (websockify's per-session processes) may outlive
	// their parent for a moment.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// startHelper re-runs this binary as one of its helper commands (engine,
// tls-relay) and parses the "name=addr ..." line it prints.
func startHelper(self, dir, sub string, args ...string) (*proc, map[string]string, error) {
	cmd := exec.Command(self, append([]string{sub}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	p, err := start(sub, cmd, filepath.Join(dir, sub+".log"))
	if err != nil {
		return nil, nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		p.stop()
		return nil, nil, fmt.Errorf("%s: %v: %s", sub, err, p.logTail())
	}
	addrs := map[string]string{}
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		addrs[k] = v
	}
	return p, addrs, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// bridgeProc is `orionbridge run` (or the tray app) with a config of its
// own: a free port, a temp data dir, one route per engine kind.
type bridgeProc struct {
	*proc
	port    int
	dataDir string
	pool    *x509.CertPool
	health  *http.Client
}

// writeBridgeConfig writes a config for the engine and returns its path and
// the port.
func writeBridgeConfig(dir string, engine map[string]string) (string, int, error) {
	port, err := freePort()
	if err != nil {
		return "", 0, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "port = %d\nfallback_ports = []\ndata_dir = %q\n", port, filepath.Join(dir, "data"))
	fmt.Fprintf(&b, "allowed_origins = [%q]\nask_unknown_origins = false\nmax_clients = 20000\n", benchOrigin)
	for _, k := range kinds {
		fmt.Fprintf(&b, "\n[[routes]]\npath = %q\ntarget = %q\nframing = \"raw\"\n", "/"+k, engine[k])
	}
	path := filepath.Join(dir, "config.toml")
	return path, port, os.WriteFile(path, []byte(b.String()), 0o600)
}

// bridgeEnv gives the bridge a home of its own, so it finds no browser
// trust stores, config or desktop session of the person running the
// benchmark.
func bridgeEnv(dir string, extra []string) []string {
	home := filepath.Join(dir, "home")
	_ = os.MkdirAll(home, 0o700)
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "GOGC", "GOMEMLIMIT", "GODEBUG":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_DATA_HOME="+filepath.Join(home, ".local", "share"))
	return append(env, extra...)
}

// startBridge runs `bin run` in a fresh directory under tmp.
func startBridge(bin, tmp, name string, engine map[string]string, extraEnv []string) (*bridgeProc, error) {
	dir := filepath.Join(tmp, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg, port, err := writeBridgeConfig(dir, engine)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Env = bridgeEnv(dir, extraEnv)
	p, err := start(name, cmd, filepath.Join(dir, "bridge.log"))
	if err != nil {
		return nil, err
	}
	b := &bridgeProc{proc: p, port: port, dataDir: filepath.Join(dir, "data")}
	if err := b.waitHealthy(30 * time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return b, nil
}

// waitHealthy waits for the CA to exist and /health to answer.
func (b *bridgeProc) waitHealthy(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if b.exited() {
			return fmt.Errorf("%s exited: %s", b.name, b.logTail())
		}
		if b.pool == nil {
			if pool, err := loadPool(filepath.Join(b.dataDir, "certs", "ca.pem")); err == nil {
				b.pool = pool
				b.health = &http.Client{
					Timeout: 5 * time.Second,
					Transport: &http.Transport{
						TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"},
						DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
							var d net.Dialer
							return d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(b.port))
						},
					},
				}
			}
		}
		if b.pool != nil {
			if _, err := b.sessions(); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no /health answer within %s: %s", b.name, limit, b.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// healthDoc is the part of /health the load tool reads.
type healthDoc struct {
	PID      int `json:"pid"`
	Sessions int `json:"sessions"`
}

func (b *bridgeProc) healthDoc() (healthDoc, error) {
	var h healthDoc
	resp, err := b.health.Get("https://localhost:" + strconv.Itoa(b.port) + "/health")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("/health: %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&h)
	return h, err
}

// sessions is the number of open sessions /health reports.
func (b *bridgeProc) sessions() (int, error) {
	h, err := b.healthDoc()
	return h.Sessions, err
}

func (b *bridgeProc) certFiles() (cert, key string) {
	return filepath.Join(b.dataDir, "certs", "leaf.pem"), filepath.Join(b.dataDir, "certs", "leaf-key.pem")
}

// startWebsockify runs websockify with --ssl-only and the bridge's leaf.
func startWebsockify(exe, dir, name, cert, key, target string) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(exe, "--ssl-only", "--cert", cert, "--key", key, addr, target)
	p, err := start(name, cmd, filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, "", err
	}
	if err := waitListening(p, addr, 20*time.Second); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}

// waitListening waits until the process's log says it listens (websockify
// prints "proxying from ...") or, failing that, until a connection succeeds.
func waitListening(p *proc, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if p.exited() {
			return fmt.Errorf("%s exited: %s", p.name, p.logTail())
		}
		if b, _ := os.ReadFile(p.log); bytes.Contains(b, []byte("proxying from")) {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not listening on %s after %s: %s", p.name, addr, limit, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// vmRSS is a process's resident set in bytes, from /proc/<pid>/status.
func vmRSS(pid int) (int64, error) {
	return procStatusField(pid, "VmRSS:")
}

func procStatusField(pid int, field string) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// groupPSS sums the proportional set size of every process in a process
// group: websockify forks one process per session, and their pages are
// mostly shared, so PSS (not the sum of RSS) is their real cost.
func groupPSS(pgid int) (int64, int, error) {
	var total int64
	var n int
	for _, pid := range groupPIDs(pgid) {
		roll, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(roll), "\n") {
			if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				total += kb << 10
				n++
				break
			}
		}
	}
	if n == 0 {
		return 0, 0, errors.New("no process in the group")
	}
	return total, n, nil
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux ABI Go supports).
const clockTick = 10 * time.Millisecond

// procCPU is the user and system CPU time a process has used.
func procCPU(pid int) time.Duration {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	// After the command: state(0) ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime(11) stime(12).
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * clockTick
}

// groupPIDs lists the processes of a process group.
func groupPIDs(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(string(stat[i+1:])); len(f) >= 3 && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// groupCPU is the CPU time of the live processes of a process group.
func groupCPU(pgid int) time.Duration {
	var total time.Duration
	for _, pid := range groupPIDs(pgid) {
		total += procCPU(pid)
	}
	return total
}

// smapsRSS sums the resident memory of a process's mappings of the files
// match accepts, from /proc/<pid>/smaps.
func smapsRSS(pid int, match func(path string) bool) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	counting := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "Rss:"); ok {
			if counting {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if err != nil {
					return 0, fmt.Errorf("/proc/%d/smaps: %q: %w", pid, line, err)
				}
				total += kb << 10
			}
			continue
		}
		// A mapping's header: "start-end perms offset dev inode [path]".
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			counting = len(fields) >= 6 && match(fields[5])
		}
	}
	return total, sc.Err()
}
