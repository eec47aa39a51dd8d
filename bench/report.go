//go:build linux

package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// results holds every run of every figure, per target.
type results struct {
	cfg                 config
	vals                map[string]map[string][]float64
	notes               map[string]map[string]string
	machine             string
	loadStart, loadEnd  string
	fdNote              string
	fdLimit             uint64
	started             time.Time
	targetOrder, labels []string
	// heldAt records, per idle count asked for and target, the sessions
	// actually held when the open-file limit allowed fewer.
	heldAt map[int]map[string]int
	// lost records, per target, the sessions the server closed while they
	// sat idle before the steady-state reading, per run, and why.
	lost map[string][]string
}

func (r *results) lostIdle(target string, run, n int, why string) {
	if r.lost == nil {
		r.lost = map[string][]string{}
	}
	r.lost[target] = append(r.lost[target], fmt.Sprintf("run %d: %s sessions (%s)", run+1, thousands(n), why))
}

func newResults(cfg config) *results {
	return &results{
		cfg: cfg, vals: map[string]map[string][]float64{}, notes: map[string]map[string]string{}, started: time.Now(),
		targetOrder: []string{"tcp", "tcprelay", "tls", "orion", "websockify", "orion-b"},
		labels:      []string{"direct TCP", "TCP relay", "TLS relay", "Orion Bridge", "websockify", cfg.compareLabel},
	}
}

func (r *results) capped(want int, target string, held int) {
	if r.heldAt == nil {
		r.heldAt = map[int]map[string]int{}
	}
	if r.heldAt[want] == nil {
		r.heldAt[want] = map[string]int{}
	}
	r.heldAt[want][target] = held
}

// addCPU records the CPU each process spent per 100 MB moved, as the
// figures "<fig>-cpu-<process>".
func (r *results) addCPU(fig, target string, u cpuUse, mb float64) {
	if mb <= 0 {
		return
	}
	per := func(d time.Duration) float64 { return float64(d.Milliseconds()) / mb * 100 }
	r.add(fig+"-cpu-client", target, per(u.client))
	r.add(fig+"-cpu-server", target, per(u.server))
	r.add(fig+"-cpu-engine", target, per(u.engine))
}

// lastValue is the latest run of a figure, 0 if none.
func (r *results) lastValue(fig, target string) float64 {
	v := r.vals[fig][target]
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

func (r *results) add(fig, target string, v float64) {
	if r.vals[fig] == nil {
		r.vals[fig] = map[string][]float64{}
	}
	r.vals[fig][target] = append(r.vals[fig][target], v)
}

func (r *results) note(fig, target, note string) {
	if r.notes[fig] == nil {
		r.notes[fig] = map[string]string{}
	}
	r.notes[fig][target] = note
}

// median of the runs, and whether there were any.
func (r *results) median(fig, target string) (float64, bool) {
	v := slices.Clone(r.vals[fig][target])
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

// figure is one row of the table.
type figure struct {
	key, label, unit string
	digits           int
	higherBetter     bool
	idle             int // the idle session count of a memory figure
}

func (r *results) figures() []figure {
	var fs []figure
	for _, size := range []int{64, 4096} {
		for _, conc := range []int{1, 50} {
			for _, p := range []string{"p50", "p90", "p99"} {
				name := "64 B"
				if size == 4096 {
					name = "4 KiB"
				}
				sess := "1 session"
				if conc > 1 {
					sess = fmt.Sprintf("%d sessions", conc)
				}
				fs = append(fs, figure{key: latKey(size, conc) + "-" + p, label: fmt.Sprintf("round trip %s, %s, %s", name, sess, p), unit: "µs", digits: 1})
			}
		}
	}
	fs = append(fs,
		figure{key: "bulk-up", label: "throughput to the engine, 64 KiB messages", unit: "MB/s", higherBetter: true},
		figure{key: "bulk-down", label: "throughput to the browser, 64 KiB writes", unit: "MB/s", higherBetter: true},
		figure{key: "opens", label: "sessions opened per second (8 at a time)", unit: "/s", higherBetter: true},
		figure{key: "rss-idle", label: "server memory, idle", unit: "MiB", digits: 1},
		figure{key: "anon-idle", label: "  of which private (RssAnon; the rest is the executable's and libraries' pages)", unit: "MiB", digits: 1},
	)
	if r.cfg.headless != "" {
		fs = append(fs,
			figure{key: "rss-idle-traybuild", label: "the tray build running headless (`orionbridge run`), idle", unit: "MiB", digits: 1},
			figure{key: "anon-idle-traybuild", label: "  of which private (RssAnon)", unit: "MiB", digits: 1},
		)
	}
	for _, n := range r.cfg.idle {
		fs = append(fs,
			figure{key: fmt.Sprintf("rss-%d", n), label: fmt.Sprintf("server memory, %s idle sessions, %s after opening", thousands(n), r.cfg.settle), unit: "MiB", digits: 1, idle: n},
			figure{key: fmt.Sprintf("per-%d", n), label: fmt.Sprintf("  per session, at %s, %s after opening", thousands(n), r.cfg.settle), unit: "KiB", digits: 1, idle: n},
		)
	}
	if n := r.maxIdle(); n > 0 && r.cfg.steady > 0 {
		fs = append(fs,
			figure{key: fmt.Sprintf("steady-%d", n), label: fmt.Sprintf("server memory, %s idle sessions, after %s idle", thousands(n), r.cfg.steady), unit: "MiB", digits: 1, idle: n},
			figure{key: fmt.Sprintf("steadyper-%d", n), label: fmt.Sprintf("  per session, at %s, after %s idle", thousands(n), r.cfg.steady), unit: "KiB", digits: 1, idle: n},
		)
	}
	for _, c := range []struct{ key, label string }{
		{"tray", "tray app under Xvfb, idle in the tray (dashboard closed)"},
		{"tray-dash", "tray app under Xvfb, dashboard open"},
		{"fyne-floor", "a minimal Fyne app under Xvfb (one window, one label): the toolkit's floor"},
	} {
		fs = append(fs,
			figure{key: c.key, label: c.label, unit: "MiB", digits: 1},
			figure{key: c.key + "-anon", label: "  of which private (RssAnon)", unit: "MiB", digits: 1},
			figure{key: c.key + "-gl", label: "  of which Mesa's software OpenGL (libLLVM, the DRI driver)", unit: "MiB", digits: 1},
		)
	}
	return fs
}

func (r *results) maxIdle() int {
	if len(r.cfg.idle) == 0 {
		return 0
	}
	return r.cfg.idle[len(r.cfg.idle)-1]
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (r *results) cell(f figure, target string) string {
	if v, ok := r.median(f.key, target); ok {
		s := strconv.FormatFloat(v, 'f', f.digits, 64)
		if held := r.heldAt[f.idle][target]; held > 0 {
			s += fmt.Sprintf(" (at %s¹)", thousands(held))
		}
		if strings.HasPrefix(f.key, "steady") && len(r.lost[target]) > 0 {
			s += " ²"
		}
		return s
	}
	if n := r.notes[f.key][target]; n != "" {
		return n
	}
	return "—"
}

func (r *results) ratio(f figure, a, b string) string {
	x, ok1 := r.median(f.key, a)
	y, ok2 := r.median(f.key, b)
	if !ok1 || !ok2 || y == 0 {
		return "—"
	}
	return strconv.FormatFloat(x/y, 'f', 2, 64) + "×"
}

func (r *results) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("%s\n\n", beginMarker)
	p("Generated by `make bench` (`bin/orionbench -update docs/benchmarks.md`) on %s.\n\n", r.started.UTC().Format("2006-01-02 15:04 MST"))
	p("- Machine: %s.\n", r.machine)
	p("- Load average (1, 5, 15 min): %s at the start, %s at the end.\n", r.loadStart, r.loadEnd)
	p("- %s.\n", capitalize(r.fdNote))
	p("- Each figure is the median of %d runs; every run is listed below the tables.\n", r.cfg.repeat)
	if r.cfg.headless != "" {
		p("- Orion Bridge: `%s` (the headless build a service runs) for the bridge figures; `%s` (the tray build) for the tray figures.\n", filepath.Base(r.cfg.headless), filepath.Base(r.cfg.bridge))
	}
	if len(r.cfg.bridgeEnv) > 0 {
		p("- Bridge environment: `%s`.\n", strings.Join(r.cfg.bridgeEnv, " "))
	}
	if r.cfg.label != "" {
		p("- Note: %s.\n", r.cfg.label)
	}
	p("\nLower is better for round trips and memory, higher for throughput and sessions per second. ")
	p("Memory is VmRSS of the server process (websockify: the PSS of all its processes, one per session); ")
	p("\"per session\" is that memory divided by the sessions held.\n\n")
	withB := len(r.vals) > 0 && r.hasTarget("orion-b")
	head, rule := "", ""
	if withB {
		head, rule = fmt.Sprintf(" %s | Orion ÷ B |", r.cfg.compareLabel), "--:|--:|"
	}
	p("| figure | unit | direct TCP | TCP relay | TLS relay | Orion Bridge | websockify | Orion ÷ websockify | Orion ÷ TCP | Orion ÷ TLS |%s\n", head)
	p("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|%s\n", rule)
	for _, f := range r.figures() {
		extra := ""
		if withB {
			extra = fmt.Sprintf(" %s | %s |", r.cell(f, "orion-b"), r.ratio(f, "orion", "orion-b"))
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |%s\n", strings.TrimSpace(f.label), f.unit,
			r.cell(f, "tcp"), r.cell(f, "tcprelay"), r.cell(f, "tls"), r.cell(f, "orion"), r.cell(f, "websockify"),
			r.ratio(f, "orion", "websockify"), r.ratio(f, "orion", "tcp"), r.ratio(f, "orion", "tls"), extra)
	}
	if note := r.capNote(); note != "" {
		p("\n¹ %s\n", note)
	}
	for _, t := range slices.Sorted(maps.Keys(r.lost)) {
		p("\n² %s closed sessions while they sat idle before the reading \"after %s idle\", which is then per session still held: %s.\n", r.label(t), r.cfg.steady, strings.Join(r.lost[t], "; "))
	}
	if _, ok := r.median("bulk-up-cpu-client", "tcp"); ok {
		p("\nCPU time per 100 MB moved in the throughput figures (ms, user + system, from /proc/<pid>/stat; the 2 cores give 2,000 ms per second):\n\n")
		cols := []string{"tcp", "tcprelay", "tls", "orion", "websockify"}
		if withB {
			cols = append(cols, "orion-b")
		}
		p("| direction | process |")
		for _, c := range cols {
			p(" %s |", r.label(c))
		}
		p("\n|---|---|%s\n", strings.Repeat("--:|", len(cols)))
		for _, dir := range []struct{ key, name string }{{"bulk-up", "to the engine"}, {"bulk-down", "to the browser"}} {
			for _, proc := range []string{"client", "server", "engine"} {
				f := figure{key: dir.key + "-cpu-" + proc}
				p("| %s | %s |", dir.name, proc)
				for _, c := range cols {
					p(" %s |", r.cell(f, c))
				}
				p("\n")
			}
		}
	}
	p("\n### Targets (issue 8), in this run\n\n")
	p("| target | measured | holds |\n|---|---|---|\n")
	for _, t := range r.targets() {
		p("| %s | %s | %s |\n", t.what, t.measured, t.verdict)
	}
	p("\n<details><summary>Every run</summary>\n\n")
	p("| figure | target | runs |\n|---|---|---|\n")
	for _, f := range r.figures() {
		for i, t := range r.targetOrder {
			v := r.vals[f.key][t]
			if len(v) == 0 {
				continue
			}
			s := make([]string, len(v))
			for j, x := range v {
				s[j] = strconv.FormatFloat(x, 'f', f.digits, 64)
			}
			p("| %s | %s | %s |\n", strings.TrimSpace(f.label), r.labels[i], strings.Join(s, ", "))
		}
	}
	p("\n</details>\n\n%s\n", endMarker)
	return b.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (r *results) hasTarget(t string) bool {
	for _, by := range r.vals {
		if len(by[t]) > 0 {
			return true
		}
	}
	return false
}

// capNote explains the memory figures taken at fewer sessions than asked.
func (r *results) capNote() string {
	var parts []string
	for _, want := range slices.Sorted(maps.Keys(r.heldAt)) {
		for _, t := range slices.Sorted(maps.Keys(r.heldAt[want])) {
			parts = append(parts, fmt.Sprintf("%s held %s of %s sessions", r.label(t), thousands(r.heldAt[want][t]), thousands(want)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ") + ": " + r.fdNote + ", and a relay needs two descriptors per session (browser and engine) beside the few it holds idle."
}

func (r *results) label(target string) string {
	if i := slices.Index(r.targetOrder, target); i >= 0 {
		return r.labels[i]
	}
	return target
}

type targetResult struct{ what, measured, verdict string }

// targets checks the goals of issue 8 against this run's medians.
func (r *results) targets() []targetResult {
	var out []targetResult
	verdict := func(ok, known bool) string {
		switch {
		case !known:
			return "not measured"
		case ok:
			return "yes"
		}
		return "**no**"
	}
	for _, size := range []int{64, 4096} {
		for _, conc := range []int{1, 50} {
			k := latKey(size, conc) + "-p50"
			o, ok1 := r.median(k, "orion")
			w, ok2 := r.median(k, "websockify")
			t, ok3 := r.median(k, "tcp")
			name := fmt.Sprintf("%d B, %d session(s)", size, conc)
			if size == 4096 {
				name = fmt.Sprintf("4 KiB, %d session(s)", conc)
			}
			out = append(out,
				targetResult{"p50 round trip ≤ 0.6× websockify (" + name + ")", fmt.Sprintf("%.2f×", safeDiv(o, w)), verdict(o <= 0.6*w, ok1 && ok2)},
				targetResult{"p50 round trip ≤ 2.5× direct TCP (" + name + ")", fmt.Sprintf("%.2f×", safeDiv(o, t)), verdict(o <= 2.5*t, ok1 && ok3)},
			)
		}
	}
	for _, dir := range []struct{ key, name string }{{"bulk-up", "to the engine"}, {"bulk-down", "to the browser"}} {
		o, ok1 := r.median(dir.key, "orion")
		w, ok2 := r.median(dir.key, "websockify")
		t, ok3 := r.median(dir.key, "tls")
		out = append(out,
			targetResult{"throughput ≥ 2× websockify (" + dir.name + ")", fmt.Sprintf("%.2f×", safeDiv(o, w)), verdict(o >= 2*w, ok1 && ok2)},
			targetResult{"throughput ≥ 60% of the TLS relay (" + dir.name + ")", fmt.Sprintf("%.0f%%", 100*safeDiv(o, t)), verdict(o >= 0.6*t, ok1 && ok3)},
		)
	}
	if n := r.maxIdle(); n > 0 {
		key, when := fmt.Sprintf("steadyper-%d", n), fmt.Sprintf("after %s idle", r.cfg.steady)
		if _, ok := r.median(key, "orion"); !ok {
			key, when = fmt.Sprintf("per-%d", n), fmt.Sprintf("%s after opening", r.cfg.settle)
		}
		per, ok := r.median(key, "orion")
		what := fmt.Sprintf("%s idle sessions held at ≤ 32 KiB of bridge RSS each", thousands(n))
		m := fmt.Sprintf("%.1f KiB, %s", per, when)
		v := verdict(per <= 32 && n >= 10000, ok)
		if held := r.heldAt[n]["orion"]; held > 0 && ok {
			m = fmt.Sprintf("%.1f KiB at %s sessions, %s", per, thousands(held), when)
			v = fmt.Sprintf("%s at %s; %s not reachable here (¹)", verdict(per <= 32, ok), thousands(held), thousands(n))
		}
		if len(r.lost["orion"]) > 0 {
			m += " (²)"
		}
		out = append(out, targetResult{what, m, v})
	}
	idle, ok := r.median("rss-idle", "orion")
	m := fmt.Sprintf("%.1f MiB", idle)
	if tb, ok := r.median("rss-idle-traybuild", "orion"); ok {
		m += fmt.Sprintf(" (%s; the tray build running headless: %.1f MiB)", filepath.Base(r.cfg.headless), tb)
	}
	out = append(out, targetResult{"idle headless RSS ≤ 20 MiB", m, verdict(idle <= 20, ok)})
	tray, ok := r.median("tray", "orion")
	m = fmt.Sprintf("%.1f MiB in the tray", tray)
	if !ok {
		m = r.notes["tray"]["orion"]
	}
	if v, ok := r.median("tray-dash", "orion"); ok {
		m += fmt.Sprintf("; %.1f MiB with the dashboard open", v)
	}
	if v, ok := r.median("fyne-floor", "orion"); ok {
		gl, _ := r.median("fyne-floor-gl", "orion")
		m += fmt.Sprintf("; a minimal Fyne app: %.1f MiB, %.1f MiB of it Mesa's software OpenGL", v, gl)
	}
	out = append(out, targetResult{"tray app idle RSS ≤ 80 MiB", m, verdict(tray <= 80, ok)})
	return out
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

const (
	beginMarker = "<!-- orionbench:begin (generated by `make bench`; edit outside these markers) -->"
	endMarker   = "<!-- orionbench:end -->"
)

// updateFile replaces the generated section of path, or creates the file.
func updateFile(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	var out string
	switch {
	case i >= 0 && j > i:
		out = s[:i] + strings.TrimSuffix(section, "\n") + s[j+len(endMarker):]
	case len(old) == 0:
		out = "# Benchmarks\n\n" + section
	default:
		out = strings.TrimRight(s, "\n") + "\n\n" + section
	}
	return os.WriteFile(path, []byte(out), 0o644)
}
