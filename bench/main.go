//go:build linux

// Command orionbench measures Orion Bridge side by side with the floors and
// with websockify, in one run on one machine, against the same echo engine:
//
//   - direct TCP to the engine (the floor);
//   - a plain TLS relay in front of the engine (the TLS floor);
//   - Orion Bridge: the real `orionbridge run` binary, with its own certificate;
//   - websockify --ssl-only with the bridge's leaf certificate.
//
// docs/benchmarks.md describes the method; `make bench` runs it.
//
// It reports round-trip latency, bulk throughput, sessions opened per second
// and the bridge's resident memory (idle, and holding 1,000 and 10,000 idle
// sessions), and the tray app's idle memory under Xvfb. Each figure is the
// median of -repeat runs. With -update FILE it rewrites the generated part
// of that Markdown file (between the orionbench markers) and keeps the rest.
//
// For reference it also measures a plain TCP relay (no TLS): the cost of
// the extra hop alone. `orionbench engine`, `orionbench tls-relay` and
// `orionbench tcp-relay` are the helper processes it starts itself.
//
// This file is long (its phases, one after the other, each a function
// with its own report rows) because it reads best as the run's script:
// the measurements themselves live in measure.go, client.go and procs.go.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "engine":
			os.Exit(engineMain(os.Args[2:]))
		case "tls-relay":
			os.Exit(relayMain(os.Args[2:], true))
		case "tcp-relay":
			os.Exit(relayMain(os.Args[2:], false))
		}
	}
	os.Exit(run(os.Args[1:]))
}

// config is the command line of a benchmark run.
type config struct {
	bridge, websockify, update, label string
	headless, fyneFloor               string
	compareBin, compareLabel          string
	keep                              bool
	repeat                            int
	warm, window, bulkWindow          time.Duration
	openWindow                        time.Duration
	openConc                          int
	idle                              []int
	settle, traySettle, steady        time.Duration
	only                              map[string]bool
	bridgeEnv, compareEnv             []string
	lat                               [][2]int // size, sessions
	targets                           map[string]bool
}

var phases = []string{"latency", "throughput", "open", "memory", "tray"}

func parseConfig(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("orionbench", flag.ContinueOnError)
	fs.StringVar(&c.bridge, "bridge", "bin/orionbridge", "the orionbridge binary (the tray build): the bridge measured unless -headless is set, and the tray app")
	fs.StringVar(&c.headless, "headless", "", "the orionbridge-headless binary (the service build, without the tray): when set, the bridge measured; the tray build's idle memory is then reported beside it")
	fs.StringVar(&c.fyneFloor, "fyne-floor", "", "a minimal Fyne app (bench/fynefloor, built like the tray): its memory under Xvfb is the toolkit's floor for the tray figures")
	fs.StringVar(&c.websockify, "websockify", "websockify", "the websockify command")
	fs.StringVar(&c.update, "update", "", "rewrite the generated section of this Markdown `file` (e.g. docs/benchmarks.md)")
	fs.StringVar(&c.label, "label", "", "a note printed with the results, e.g. what was changed")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directory with the servers' logs")
	fs.IntVar(&c.repeat, "repeat", 3, "runs per figure; the median is reported")
	fs.DurationVar(&c.warm, "warm", 300*time.Millisecond, "warm-up before each latency and throughput window")
	fs.DurationVar(&c.window, "window", 1500*time.Millisecond, "measuring window of each latency figure")
	fs.DurationVar(&c.bulkWindow, "bulk-window", 2*time.Second, "measuring window of each throughput figure")
	fs.DurationVar(&c.openWindow, "open-window", 2*time.Second, "measuring window of sessions opened per second")
	fs.IntVar(&c.openConc, "open-conc", 8, "sessions opened at once in the sessions-per-second figure")
	idle := fs.String("idle", "1000,10000", "idle session counts whose bridge memory is measured")
	fs.DurationVar(&c.settle, "settle", 5*time.Second, "wait before reading memory")
	fs.DurationVar(&c.steady, "steady", 130*time.Second, "how long the bridge holds the most idle sessions before its memory is read again (the Go runtime collects at least every 2 minutes); 0 skips it")
	fs.DurationVar(&c.traySettle, "tray-settle", 10*time.Second, "wait after the tray app answers before reading its memory")
	only := fs.String("only", strings.Join(phases, ","), "phases to run: "+strings.Join(phases, ","))
	lat := fs.String("lat", "64x1,64x50,4096x1,4096x50", "latency figures, SIZExSESSIONS")
	tgs := fs.String("targets", "tcp,tcprelay,tls,orion,websockify", "targets to measure")
	fs.StringVar(&c.compareBin, "compare-bin", "", "also run this second orionbridge binary (e.g. a build of the previous commit) as target \"orion-b\", for experiments")
	fs.StringVar(&c.compareLabel, "compare-label", "Orion Bridge (B)", "the column title of the second bridge")
	cmpEnv := fs.String("compare-env", "", "also run a second bridge with this environment (comma-separated), as target \"orion-b\", for experiments: an extra column")
	env := fs.String("bridge-env", "", "extra environment for the bridge, comma-separated (e.g. GOGC=50), for experiments")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, s := range strings.Split(*idle, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return c, fmt.Errorf("-idle: bad count %q", s)
		}
		c.idle = append(c.idle, n)
	}
	slices.Sort(c.idle)
	c.only = map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		if !slices.Contains(phases, p) {
			return c, fmt.Errorf("-only: unknown phase %q (known: %s)", p, strings.Join(phases, ","))
		}
		c.only[p] = true
	}
	for _, l := range strings.Split(*lat, ",") {
		var size, conc int
		if _, err := fmt.Sscanf(l, "%dx%d", &size, &conc); err != nil || size < 1 || conc < 1 {
			return c, fmt.Errorf("-lat: bad figure %q (want e.g. 64x1)", l)
		}
		c.lat = append(c.lat, [2]int{size, conc})
	}
	c.targets = map[string]bool{}
	for _, t := range strings.Split(*tgs, ",") {
		c.targets[t] = true
	}
	if *env != "" {
		c.bridgeEnv = strings.Split(*env, ",")
	}
	if *cmpEnv != "" {
		c.compareEnv = strings.Split(*cmpEnv, ",")
	}
	if c.compareEnv != nil || c.compareBin != "" {
		c.targets["orion-b"] = true
	}
	if c.repeat < 1 {
		return c, fmt.Errorf("-repeat must be at least 1")
	}
	return c, nil
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

func run(args []string) int {
	cfg, err := parseConfig(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "orionbench:", err)
		return 2
	}
	for _, b := range []struct {
		path *string
		flag string
		hint string
	}{
		{&cfg.bridge, "-bridge", "go build -tags no_emoji -o bin/orionbridge ."},
		{&cfg.headless, "-headless", "CGO_ENABLED=0 go build -tags headless -o bin/orionbridge-headless ."},
		{&cfg.fyneFloor, "-fyne-floor", "go build -tags no_emoji -o bin/fynefloor ./bench/fynefloor"},
	} {
		if *b.path == "" {
			continue
		}
		abs, err := filepath.Abs(*b.path)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "orionbench: %s: %v (build it with `%s`, or run `make bench`)\n", b.flag, err, b.hint)
			return 2
		}
		*b.path = abs
	}
	// The bridge measured is what a service runs: the headless build when
	// there is one.
	bin := cfg.bridge
	if cfg.headless != "" {
		bin = cfg.headless
	}
	res := newResults(cfg)
	res.machine = describeMachine()
	res.loadStart = loadAvg()
	res.fdNote, res.fdLimit = raiseFileLimit(1 << 17)
	logf("machine: %s; load %s; %s", res.machine, res.loadStart, res.fdNote)

	tmp, err := os.MkdirTemp("", "orionbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "orionbench:", err)
		return 1
	}
	if cfg.keep {
		logf("keeping %s (the servers' logs)", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "orionbench:", err)
		return 1
	}
	ctx := context.Background()
	if err := runPhases(ctx, cfg, res, bin, self, tmp); err != nil {
		fmt.Fprintln(os.Stderr, "orionbench:", err)
		return 1
	}
	res.loadEnd = loadAvg()
	md := res.markdown()
	fmt.Println(md)
	if cfg.update != "" {
		if err := updateFile(cfg.update, md); err != nil {
			fmt.Fprintln(os.Stderr, "orionbench:", err)
			return 1
		}
		logf("wrote %s", cfg.update)
	}
	return 0
}

// servers are the long-running processes of the latency, throughput and
// sessions-per-second phases.
type servers struct {
	engine   map[string]string
	procs    []*proc
	bridge   *bridgeProc
	bridgeB  *bridgeProc // -compare-env
	relay    map[string]string
	tcpRelay map[string]string
	wsify    map[string]string
	wsifyPID map[string]int // by engine kind
}

func (s *servers) stop() {
	for _, p := range slices.Backward(s.procs) {
		p.stop()
	}
}

// startServers starts the engine, the bridge, the TLS relay and websockify
// (one per engine kind: websockify has one target per process).
func startServers(cfg config, bin, self, dir string, withWebsockify bool, kindsWanted []string) (*servers, error) {
	s := &servers{}
	ep, addrs, err := startHelper(self, dir, "engine")
	if err != nil {
		return nil, err
	}
	s.procs, s.engine = append(s.procs, ep), addrs
	b, err := startBridge(bin, dir, "bridge", s.engine, cfg.bridgeEnv)
	if err != nil {
		s.stop()
		return nil, err
	}
	s.procs, s.bridge = append(s.procs, b.proc), b
	if cfg.compareEnv != nil || cfg.compareBin != "" {
		binB := bin
		if cfg.compareBin != "" {
			binB = cfg.compareBin
		}
		bb, err := startBridge(binB, dir, "bridge-b", s.engine, cfg.compareEnv)
		if err != nil {
			s.stop()
			return nil, err
		}
		s.procs, s.bridgeB = append(s.procs, bb.proc), bb
	}
	cert, key := b.certFiles()
	relayArgs := []string{"-cert", cert, "-key", key}
	for _, k := range kindsWanted {
		relayArgs = append(relayArgs, k+"="+s.engine[k])
	}
	rp, raddrs, err := startHelper(self, dir, "tls-relay", relayArgs...)
	if err != nil {
		s.stop()
		return nil, err
	}
	s.procs, s.relay = append(s.procs, rp), raddrs
	tp, taddrs, err := startHelper(self, dir, "tcp-relay", relayArgs[4:]...)
	if err != nil {
		s.stop()
		return nil, err
	}
	s.procs, s.tcpRelay = append(s.procs, tp), taddrs
	if withWebsockify {
		s.wsify, s.wsifyPID = map[string]string{}, map[string]int{}
		for _, k := range kindsWanted {
			wp, addr, err := startWebsockify(cfg.websockify, dir, "websockify-"+k, cert, key, s.engine[k])
			if err != nil {
				s.stop()
				return nil, err
			}
			s.procs, s.wsify[k], s.wsifyPID[k] = append(s.procs, wp), addr, wp.pid()
		}
	}
	return s, nil
}

// targets lists the four servers in table order.
func (s *servers) targets() []*target {
	pathOf := map[string]string{}
	for _, k := range kinds {
		pathOf[k] = "/" + k
	}
	relayPID, tcpRelayPID, bridgePID := s.procByName("tls-relay").pid(), s.procByName("tcp-relay").pid(), s.bridge.pid()
	ts := []*target{
		{key: "tcp", label: "direct TCP", addrs: s.engine},
		{key: "tcprelay", label: "TCP relay", addrs: s.tcpRelay,
			cpu: func(string) time.Duration { return procCPU(tcpRelayPID) }},
		{key: "tls", label: "TLS relay", addrs: s.relay, tls: true, conf: newTLSConfig(s.bridge.pool),
			cpu: func(string) time.Duration { return procCPU(relayPID) }},
		{key: "orion", label: "Orion Bridge", addrs: map[string]string{}, ws: true, tls: true, path: pathOf, conf: newTLSConfig(s.bridge.pool),
			cpu: func(string) time.Duration { return procCPU(bridgePID) }},
	}
	for _, k := range kinds {
		ts[3].addrs[k] = "127.0.0.1:" + strconv.Itoa(s.bridge.port) // Orion Bridge: one port, a route per kind
	}
	if b := s.bridgeB; b != nil {
		t := &target{key: "orion-b", label: "Orion (B)", addrs: map[string]string{}, ws: true, tls: true, path: pathOf, conf: newTLSConfig(b.pool),
			cpu: func(string) time.Duration { return procCPU(b.pid()) }}
		for _, k := range kinds {
			t.addrs[k] = "127.0.0.1:" + strconv.Itoa(b.port)
		}
		ts = append(ts, t)
	}
	if s.wsify != nil {
		ts = append(ts, &target{key: "websockify", label: "websockify", addrs: s.wsify, ws: true, tls: true, path: map[string]string{}, conf: newTLSConfig(s.bridge.pool),
			cpu: func(kind string) time.Duration { return groupCPU(s.wsifyPID[kind]) }})
	}
	return ts
}

func runPhases(ctx context.Context, cfg config, res *results, bin, self, tmp string) error {
	if cfg.only["latency"] || cfg.only["throughput"] || cfg.only["open"] {
		if err := runTraffic(ctx, cfg, res, bin, self, filepath.Join(tmp, "traffic")); err != nil {
			return err
		}
	}
	if cfg.only["memory"] {
		if err := runMemory(ctx, cfg, res, bin, self, filepath.Join(tmp, "memory")); err != nil {
			return err
		}
	}
	if cfg.only["tray"] {
		runTray(cfg, res, filepath.Join(tmp, "tray"))
	}
	return nil
}

func runTraffic(ctx context.Context, cfg config, res *results, bin, self, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	srv, err := startServers(cfg, bin, self, dir, true, kinds)
	if err != nil {
		return err
	}
	defer srv.stop()
	ts := srv.targets()
	logf("servers up: bridge pid %d on :%d", srv.bridge.pid(), srv.bridge.port)
	meter := cpuMeter{engine: srv.procByName("engine").pid()}

	ts = slices.DeleteFunc(ts, func(t *target) bool { return !cfg.targets[t.key] })
	if cfg.only["latency"] {
		for _, l := range cfg.lat {
			size, conc := l[0], l[1]
			k := latKey(size, conc)
			for r := range cfg.repeat {
				ls, err := measureLatency(ctx, ts, size, conc, cfg.warm, cfg.window)
				if err != nil {
					return err
				}
				for i, t := range ts {
					l := ls[i]
					res.add(k+"-p50", t.key, us(l.p50))
					res.add(k+"-p90", t.key, us(l.p90))
					res.add(k+"-p99", t.key, us(l.p99))
					logf("latency %s run %d %-12s p50 %7.1f µs  p90 %7.1f  p99 %7.1f  (%d round trips)", k, r+1, t.label, us(l.p50), us(l.p90), us(l.p99), l.samples)
				}
			}
		}
	}
	if cfg.only["throughput"] {
		for r := range cfg.repeat {
			for _, t := range ts {
				up, upCPU, err := measureUpload(ctx, t, meter, cfg.warm, cfg.bulkWindow)
				if err != nil {
					return err
				}
				down, downCPU, err := measureDownload(ctx, t, meter, cfg.warm, cfg.bulkWindow)
				if err != nil {
					return err
				}
				res.add("bulk-up", t.key, up)
				res.add("bulk-down", t.key, down)
				res.addCPU("bulk-up", t.key, upCPU, up*cfg.bulkWindow.Seconds())
				res.addCPU("bulk-down", t.key, downCPU, down*cfg.bulkWindow.Seconds())
				logf("throughput run %d %-12s to engine %7.1f MB/s (CPU ms/100 MB: %s)  to browser %7.1f MB/s (%s)", r+1, t.label, up, fmtCPU(upCPU, up*cfg.bulkWindow.Seconds()), down, fmtCPU(downCPU, down*cfg.bulkWindow.Seconds()))
			}
		}
	}
	if cfg.only["open"] {
		for r := range cfg.repeat {
			for _, t := range ts {
				rate, err := measureOpens(ctx, t, cfg.openConc, cfg.openWindow)
				if err != nil {
					return err
				}
				res.add("opens", t.key, rate)
				logf("sessions/s run %d %-12s %7.0f", r+1, t.label, rate)
				time.Sleep(500 * time.Millisecond) // let closes finish before the next target
			}
		}
	}
	return nil
}

func fmtCPU(u cpuUse, mb float64) string {
	per := func(d time.Duration) float64 { return float64(d.Milliseconds()) / mb * 100 }
	return fmt.Sprintf("client %.0f, server %.0f, engine %.0f", per(u.client), per(u.server), per(u.engine))
}

func latKey(size, conc int) string { return fmt.Sprintf("lat-%d-%d", size, conc) }

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

const mib = 1 << 20

// runMemory measures each server's memory idle and with idle sessions; the
// servers are started afresh for every run.
func runMemory(ctx context.Context, cfg config, res *results, bin, self, dir string) error {
	for r := range cfg.repeat {
		rdir := filepath.Join(dir, strconv.Itoa(r))
		if err := os.MkdirAll(rdir, 0o700); err != nil {
			return err
		}
		srv, err := startServers(cfg, bin, self, rdir, true, []string{kindEcho})
		if err != nil {
			return err
		}
		err = func() error {
			defer srv.stop()
			time.Sleep(cfg.settle)
			// Direct TCP has no process in the middle; the TCP relay's memory
			// says nothing about TLS sessions.
			ts := slices.DeleteFunc(srv.targets(), func(t *target) bool { return !cfg.targets[t.key] || t.key == "tcp" || t.key == "tcprelay" })
			for _, t := range ts {
				mem, err := t.memory(srv)
				if err != nil {
					return err
				}
				res.add("rss-idle", t.key, float64(mem)/mib)
				anon := "" // the private part, without the executable's and libraries' pages
				if pid := t.serverPID(srv); pid > 0 {
					if a, err := procStatusField(pid, "RssAnon:"); err == nil {
						res.add("anon-idle", t.key, float64(a)/mib)
						anon = fmt.Sprintf(" (RssAnon %.1f MiB)", float64(a)/mib)
					}
				}
				logf("memory run %d %-12s idle %7.1f MiB%s", r+1, t.label, float64(mem)/mib, anon)
			}
			if cfg.headless != "" && cfg.targets["orion"] {
				if err := traybuildIdle(cfg, res, srv, rdir, r); err != nil {
					return err
				}
			}
			for _, t := range ts {
				if err := holdIdle(ctx, cfg, res, srv, t, r); err != nil {
					return err
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// traybuildIdle reads the idle memory of the tray build running headless
// (`orionbridge run`), beside the headless build's: the same bridge, with
// the tray's toolkit and GL libraries linked in.
func traybuildIdle(cfg config, res *results, srv *servers, dir string, run int) error {
	b, err := startBridge(cfg.bridge, dir, "bridge-traybuild", srv.engine, cfg.bridgeEnv)
	if err != nil {
		return err
	}
	defer b.stop()
	time.Sleep(cfg.settle)
	mem, err := vmRSS(b.pid())
	if err != nil {
		return err
	}
	res.add("rss-idle-traybuild", "orion", float64(mem)/mib)
	anon, err := procStatusField(b.pid(), "RssAnon:")
	if err != nil {
		return err
	}
	res.add("anon-idle-traybuild", "orion", float64(anon)/mib)
	logf("memory run %d %-12s idle %7.1f MiB (RssAnon %.1f MiB)", run+1, "tray build", float64(mem)/mib, float64(anon)/mib)
	return nil
}

// holdIdle opens the idle session counts one after the other on one server
// and reads its memory at each.
func holdIdle(ctx context.Context, cfg config, res *results, srv *servers, t *target, run int) error {
	var held []*client
	defer func() { closeAll(held); time.Sleep(time.Second) }()
	for _, want := range cfg.idle {
		key := fmt.Sprintf("rss-%d", want)
		if t.key == "websockify" && want > 1000 {
			res.note(key, t.key, "not measured: one process per session")
			res.note(fmt.Sprintf("per-%d", want), t.key, "—")
			continue
		}
		n := want
		// The server holds two descriptors per session (browser and engine).
		if limit := t.sessionLimit(srv, res.fdLimit, len(held)); n > limit {
			n = limit
			res.capped(want, t.key, n)
		}
		if n <= len(held) {
			continue
		}
		more, err := openSessions(ctx, t, kindEcho, n-len(held), 32)
		if err != nil && t.key == "websockify" {
			// websockify serves each session with select(), limited to
			// descriptors below 1024: past about 500 sessions it fails.
			why := lastLogLine(srv.procByName("websockify-" + kindEcho))
			res.note(key, t.key, fmt.Sprintf("fails after %d sessions (%s)", len(held)+openedBefore(err), strings.TrimPrefix(why, "handler exception: ")))
			res.note(fmt.Sprintf("per-%d", want), t.key, "—")
			logf("memory run %d %-12s %5d sessions: %v; its log: %s", run+1, t.label, n, err, why)
			return nil
		}
		if err != nil {
			return err
		}
		for _, c := range more {
			c.answerPings() // as a browser does, or the bridge ends the session
		}
		held = append(held, more...)
		time.Sleep(cfg.settle)
		if t.key == "orion" || t.key == "orion-b" {
			if got, err := t.sessionsHeld(srv); err != nil || got != n {
				return fmt.Errorf("%s holds %d sessions, want %d (%v)", t.label, got, n, err)
			}
		}
		mem, err := t.memory(srv)
		if err != nil {
			return err
		}
		res.add(key, t.key, float64(mem)/mib)
		res.add(fmt.Sprintf("per-%d", want), t.key, float64(mem)/float64(n)/1024)
		logf("memory run %d %-12s %5d sessions %7.1f MiB  (%.1f KiB per session), %s after opening", run+1, t.label, n, float64(mem)/mib, float64(mem)/float64(n)/1024, cfg.settle)
		// The steady state of a Go server: its runtime collects garbage at
		// least every 2 minutes, shrinks idle goroutine stacks at each
		// collection and then returns free memory to the OS.
		if want == cfg.idle[len(cfg.idle)-1] && cfg.steady > 0 && (t.key == "orion" || t.key == "orion-b") {
			time.Sleep(cfg.steady)
			got, err := t.sessionsHeld(srv)
			if err != nil {
				return err
			}
			if got != n {
				// Reported, not hidden: the figure is then per session held,
				// with the bridge's own reasons for the others.
				why := closeReasons(t.bridgeLog(srv))
				res.lostIdle(t.key, run, n-got, why)
				logf("memory run %d %-12s %d of %d sessions closed while idle (the load tool failed to send %d pongs): %s", run+1, t.label, n-got, n, pongsLost.Load(), why)
				n = got
			}
			mem, err := t.memory(srv)
			if err != nil {
				return err
			}
			res.add(fmt.Sprintf("steady-%d", want), t.key, float64(mem)/mib)
			res.add(fmt.Sprintf("steadyper-%d", want), t.key, float64(mem)/float64(n)/1024)
			logf("memory run %d %-12s %5d sessions %7.1f MiB  (%.1f KiB per session), %s idle", run+1, t.label, n, float64(mem)/mib, float64(mem)/float64(n)/1024, cfg.steady)
		}
	}
	return nil
}

// bridgeLog is the path of a bridge target's log (its stderr).
func (t *target) bridgeLog(s *servers) string {
	if t.key == "orion-b" {
		return s.bridgeB.log
	}
	return s.bridge.log
}

// closeReasons counts the close codes and reasons of the sessions a
// bridge's log says it closed, most frequent first.
func closeReasons(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return err.Error()
	}
	counts := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, `msg="session closed"`) {
			continue
		}
		code, reason := logField(line, "code"), logField(line, "reason")
		counts[code+" "+reason]++
	}
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b string) int { return counts[b] - counts[a] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d × %s", counts[k], k)
	}
	if len(parts) == 0 {
		return "no close in the bridge's log"
	}
	return strings.Join(parts, "; ")
}

// logField is the value of key in a log/slog text line.
func logField(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if strings.HasPrefix(v, `"`) {
		if s, err := strconv.QuotedPrefix(v); err == nil {
			u, _ := strconv.Unquote(s)
			return strconv.Quote(u)
		}
	}
	v, _, _ = strings.Cut(v, " ")
	return v
}

// sessionsHeld is the session count a bridge reports in /health.
func (t *target) sessionsHeld(s *servers) (int, error) {
	if t.key == "orion-b" {
		return s.bridgeB.sessions()
	}
	return s.bridge.sessions()
}

// sessionLimit is how many sessions the server's open-file limit allows:
// two descriptors each, beside those it holds idle. held sessions are open
// now.
func (t *target) sessionLimit(s *servers, fdLimit uint64, held int) int {
	if t.key == "websockify" || fdLimit == 0 {
		return 1 << 30
	}
	pid := s.bridge.pid()
	if t.key == "orion-b" {
		pid = s.bridgeB.pid()
	}
	if t.key == "tls" {
		pid = s.procByName("tls-relay").pid()
	}
	open := 16
	if ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd"); err == nil {
		open = len(ents) - 2*held + 2 // and a little room for /health and the log
	}
	return (int(fdLimit) - open) / 2
}

func (s *servers) procByName(name string) *proc {
	for _, p := range s.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// serverPID is the single server process of a Go target; 0 for websockify
// (one process per session) and direct TCP.
func (t *target) serverPID(s *servers) int {
	switch t.key {
	case "orion":
		return s.bridge.pid()
	case "orion-b":
		return s.bridgeB.pid()
	case "tls":
		return s.procByName("tls-relay").pid()
	}
	return 0
}

// memory is the server's resident memory: VmRSS for the bridge and the TLS
// relay, the PSS of every process for websockify.
func (t *target) memory(s *servers) (int64, error) {
	switch t.key {
	case "orion":
		return vmRSS(s.bridge.pid())
	case "orion-b":
		return vmRSS(s.bridgeB.pid())
	case "tls":
		return vmRSS(s.procByName("tls-relay").pid())
	case "websockify":
		pss, _, err := groupPSS(s.wsifyPID[kindEcho])
		return pss, err
	}
	return 0, fmt.Errorf("%s: no process", t.label)
}

// trayCase is one way of running a Fyne app under Xvfb for the tray
// figures.
type trayCase struct {
	key  string
	what string
	// dbus runs the app with a D-Bus session bus of its own, so it sits in
	// the tray with its dashboard closed; without one it has no tray and
	// keeps its dashboard open.
	dbus  bool
	floor bool // the minimal Fyne app rather than the tray app
}

var trayCases = []trayCase{
	{key: "tray", what: "idle in the tray", dbus: true},
	{key: "tray-dash", what: "with its dashboard open"},
	{key: "fyne-floor", what: "the minimal Fyne app", floor: true},
}

// runTray measures the tray app's idle memory under xvfb-run, with a config
// on a free port: sitting in the tray (its dashboard closed), and with its
// dashboard open; then a minimal Fyne app, the toolkit's floor.
func runTray(cfg config, res *results, dir string) {
	xvfb, err := exec.LookPath("xvfb-run")
	if err != nil {
		for _, c := range trayCases {
			res.note(c.key, "orion", "not measured: xvfb-run not found (apt-get install xvfb)")
		}
		return
	}
	for _, c := range trayCases {
		if c.floor && cfg.fyneFloor == "" {
			res.note(c.key, "orion", "not measured: no -fyne-floor binary")
			continue
		}
		for r := range cfg.repeat {
			rdir := filepath.Join(dir, c.key, strconv.Itoa(r))
			note := measureTray(cfg, res, c, xvfb, rdir)
			if note != "" {
				res.note(c.key, "orion", note)
				logf("tray %s: %s", c.key, note)
				break
			}
			logf("tray run %d %-10s %7.1f MiB (RssAnon %.1f MiB, Mesa's OpenGL %.1f MiB)", r+1, c.key,
				res.lastValue(c.key, "orion"), res.lastValue(c.key+"-anon", "orion"), res.lastValue(c.key+"-gl", "orion"))
		}
	}
}

// measureTray runs one case once and records its memory; a non-empty
// result says why it could not.
func measureTray(cfg config, res *results, c trayCase, xvfb, dir string) string {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "not measured: " + err.Error()
	}
	var argv []string
	if c.dbus {
		drs, err := exec.LookPath("dbus-run-session")
		if err != nil {
			return "not measured: dbus-run-session not found (apt-get install dbus-daemon)"
		}
		argv = append(argv, drs, "--")
	}
	argv = append(argv, xvfb, "-a")
	pidFile := filepath.Join(dir, "pid")
	var port int
	if c.floor {
		argv = append(argv, cfg.fyneFloor, "-pidfile", pidFile)
	} else {
		// The tray needs no engine; the route only has to be valid.
		cfgPath, p, err := writeBridgeConfig(dir, map[string]string{kindEcho: "127.0.0.1:9", kindSink: "127.0.0.1:9", kindSource: "127.0.0.1:9"})
		if err != nil {
			return "not measured: " + err.Error()
		}
		port = p
		argv = append(argv, cfg.bridge, "--config", cfgPath)
		if !c.dbus {
			argv = append(argv, "--dashboard")
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = bridgeEnv(dir, cfg.bridgeEnv)
	p, err := start(c.key, cmd, filepath.Join(dir, "app.log"))
	if err != nil {
		return "not measured: " + err.Error()
	}
	defer p.stop()
	pid, err := trayPID(p, c, pidFile, port, dir)
	if err != nil {
		return "not measured: " + firstLine(err.Error())
	}
	time.Sleep(cfg.traySettle)
	log, _ := os.ReadFile(p.log)
	switch {
	case strings.Contains(string(log), "running headless"):
		return "not measured: tray not built (the binary runs headless under Xvfb)"
	case c.dbus && strings.Contains(string(log), "no system tray here"):
		return "not measured: the app found no D-Bus session bus, so it has no tray"
	}
	m, err := vmRSS(pid)
	if err != nil {
		return "not measured: " + err.Error()
	}
	anon, err := procStatusField(pid, "RssAnon:")
	if err != nil {
		return "not measured: " + err.Error()
	}
	gl, err := smapsRSS(pid, isMesaLibrary)
	if err != nil {
		return "not measured: " + err.Error()
	}
	res.add(c.key, "orion", float64(m)/mib)
	res.add(c.key+"-anon", "orion", float64(anon)/mib)
	res.add(c.key+"-gl", "orion", float64(gl)/mib)
	return ""
}

// trayPID waits for the app to be up and returns its pid: the tray app's
// from its /health, the floor's from the file it writes once its window is
// up (xvfb-run's own pid is a shell's).
func trayPID(p *proc, c trayCase, pidFile string, port int, dir string) (int, error) {
	if !c.floor {
		b := &bridgeProc{proc: p, port: port, dataDir: filepath.Join(dir, "data")}
		if err := b.waitHealthy(60 * time.Second); err != nil {
			return 0, err
		}
		h, err := b.healthDoc()
		return h.PID, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(pidFile); err == nil {
			return strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if p.exited() {
			return 0, fmt.Errorf("%s exited: %s", c.key, p.logTail())
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: no window within 60s: %s", c.key, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// isMesaLibrary matches the files of Mesa's software OpenGL driver, which
// Xvfb's GLX uses: the DRI driver and the LLVM it compiles shaders with.
func isMesaLibrary(path string) bool {
	return strings.Contains(path, "/dri/") || strings.Contains(path, "libLLVM") || strings.Contains(path, "libgallium") || strings.Contains(path, "libglapi")
}

// openedBefore is how many sessions openSessions had opened when it failed
// ("opening session N of M" means N-1).
func openedBefore(err error) int {
	var n, of int
	s := err.Error()
	if i := strings.Index(s, "opening session "); i >= 0 {
		if _, err := fmt.Sscanf(s[i:], "opening session %d of %d", &n, &of); err == nil && n > 0 {
			return n - 1
		}
	}
	return 0
}

// lastLogLine is the last line of a server's log that says something.
func lastLogLine(p *proc) string {
	if p == nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(p.logTail()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "exception") || strings.Contains(lines[i], "rror") {
			return strings.TrimSpace(lines[i])
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// raiseFileLimit lifts RLIMIT_NOFILE to want (capped by fs.nr_open): the
// load tool, the engine and the bridge each hold a descriptor per session.
// Children inherit the limit.
func raiseFileLimit(want uint64) (string, uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return "open-file limit unknown: " + err.Error(), 0
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n < want {
			want = n
		}
	}
	if lim.Cur >= want {
		return fmt.Sprintf("open-file limit %d", lim.Cur), lim.Cur
	}
	before := lim.Cur
	raised := syscall.Rlimit{Cur: want, Max: max(want, lim.Max)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
		return fmt.Sprintf("open-file limit raised from %d to %d with setrlimit", before, want), want
	}
	// Without CAP_SYS_RESOURCE (not root, or a container that drops it) the
	// soft limit can still go up to the hard one.
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Sprintf("open-file limit %d: setrlimit not allowed (%v)", before, err), before
	}
	return fmt.Sprintf("open-file limit %d: raising the hard limit %d to %d is not allowed (setrlimit needs CAP_SYS_RESOURCE, which this process %s)", lim.Cur, lim.Max, want, capSysResource()), lim.Cur
}

// capSysResource says whether this process holds CAP_SYS_RESOURCE, from
// the effective set in /proc/self/status.
func capSysResource() string {
	const capSysResource = 24 // linux/capability.h
	eff, err := procStatusHex("CapEff:")
	switch {
	case err != nil:
		return "may lack (" + err.Error() + ")"
	case eff&(1<<capSysResource) != 0:
		return "holds, yet the kernel refused"
	case os.Geteuid() == 0:
		return "lacks even as root: its container drops it"
	}
	return "lacks: it is not root"
}

func procStatusHex(field string) (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			return strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
		}
	}
	return 0, fmt.Errorf("/proc/self/status: no %s", field)
}

func describeMachine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("nproc %d, %s%s, %s, %s", runtime.NumCPU(), model, mem, kernel, runtime.Version())
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
