package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"orionbridge/app"
	"orionbridge/bridge"
	"orionbridge/config"
)

// statusReport is what `orionbridge status --json` prints.
type statusReport struct {
	Running  bool   `json:"running"`
	Endpoint string `json:"endpoint,omitempty"`
	// User is whose bridge this is; Port its port, and PortNote why it is
	// not the configured one (another user of this computer has that).
	User        string                 `json:"user,omitempty"`
	Port        int                    `json:"port,omitempty"`
	PortNote    bridge.PortNote        `json:"port_note,omitzero"`
	Mode        string                 `json:"mode,omitempty"`
	PID         int                    `json:"pid,omitempty"`
	Version     string                 `json:"version,omitempty"`
	Uptime      string                 `json:"uptime,omitempty"`
	Routes      []bridge.RouteHealth   `json:"routes,omitempty"`
	Certificate *app.CertificateHealth `json:"certificate,omitempty"`
	Sessions    []bridge.SessionInfo   `json:"sessions"`
	Problem     string                 `json:"problem,omitempty"`
}

func statusCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", stderr)
	configPath := fs.String("config", "", "configuration `file`")
	asJSON := fs.Bool("json", false, "print machine-readable JSON")
	if status, ok := parseOnlyFlags(fs, args, stderr, ""); !ok {
		return status
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	rep := collectStatus(cfg)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		writeStatus(stdout, rep)
	}
	if !rep.Running {
		return exitFailure
	}
	return exitOK
}

// collectStatus asks the bridge on cfg's ports through the control API.
func collectStatus(cfg config.Config) statusReport {
	var rep statusReport
	var lastErr error
	for _, port := range statusPorts(cfg) {
		r, err := app.Attach(cfg, port)
		if err != nil {
			if lastErr == nil {
				lastErr = err
			}
			continue
		}
		defer r.Close()
		info := r.Info()
		ctx := context.Background() // each call is bounded by the Remote's client
		snap, err := r.Snapshot(ctx)
		var health bridge.Health
		if err == nil {
			health, err = r.Health(ctx)
		}
		if err != nil {
			// Attached, then it stopped answering: say so, never show a
			// zero snapshot as "stopped".
			return statusReport{Mode: info.Mode, PID: info.PID, Version: info.Version,
				Uptime:  time.Since(info.Started).Round(time.Second).String(),
				Problem: "not reachable: " + err.Error()}
		}
		rep = statusReport{
			Running: snap.Running, Endpoint: snap.Endpoint, Mode: info.Mode, PID: info.PID, Version: info.Version,
			Uptime: time.Since(info.Started).Round(time.Second).String(), Routes: health.Routes, Sessions: snap.Sessions,
			User: snap.User, Port: port, PortNote: snap.PortNote,
		}
		if b, err := json.Marshal(health.Certificate); err == nil {
			var c app.CertificateHealth
			if json.Unmarshal(b, &c) == nil {
				rep.Certificate = &c
			}
		}
		if !snap.Running {
			rep.Problem = "the bridge is stopped: start it from the tray"
		}
		return rep
	}
	rep.Problem = "not running"
	if lastErr != nil {
		rep.Problem += ": " + lastErr.Error()
	}
	return rep
}

// statusPorts are the ports to ask: where this user's bridge announced
// itself (on a shared computer it may be far up port_range), then the
// configured port and fallbacks. Another user's bridge on any of them
// refuses this process (403), so only this user's can answer.
func statusPorts(cfg config.Config) []int {
	ports := append([]int{cfg.Port}, cfg.FallbackPorts...)
	if a, ok, err := bridge.OwnAnnouncement(bridge.DefaultAnnounceDir()); err == nil && ok && !slices.Contains(ports, a.Port) {
		ports = append([]int{a.Port}, ports...)
	}
	return ports
}

func writeStatus(w io.Writer, rep statusReport) {
	if rep.PID == 0 {
		fmt.Fprintf(w, "Orion Bridge is %s\n", rep.Problem)
		return
	}
	state := "running"
	if !rep.Running {
		state = "stopped"
	}
	mode := map[string]string{"tray": "tray app", "headless": "headless (run or service)"}[rep.Mode]
	fmt.Fprintf(w, "Orion Bridge %s: %s, %s, pid %d, up %s\n", rep.Version, state, mode, rep.PID, rep.Uptime)
	fmt.Fprintf(w, "Endpoint:     %s\n", rep.Endpoint)
	if rep.User != "" {
		fmt.Fprintf(w, "User:         %s\n", rep.User)
	}
	if rep.Port != 0 {
		port := strconv.Itoa(rep.Port)
		if n := rep.PortNote; n.Wanted != 0 {
			port += fmt.Sprintf(" (%s has %d)", n.HeldBy, n.Wanted)
		}
		fmt.Fprintf(w, "Port:         %s\n", port)
	}
	for _, r := range rep.Routes {
		engine := "reachable"
		if !r.Reachable {
			engine = "NOT reachable: start the report engine"
		}
		fmt.Fprintf(w, "Route:        %s -> %s (%s), engine %s\n", r.Path, r.Target, r.Framing, engine)
	}
	if c := rep.Certificate; c != nil {
		trust := "trusted by this machine's browsers"
		if !c.Trusted {
			trust = "NOT trusted: run `orionbridge certs install`"
		}
		fmt.Fprintf(w, "Certificate:  %s, valid until %s\n", trust, c.NotAfter.Format(time.DateOnly))
	}
	fmt.Fprintf(w, "Sessions:     %d\n", len(rep.Sessions))
	if len(rep.Sessions) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tORIGIN\tROUTE\tTO ENGINE\tTO BROWSER\tDURATION")
		for _, s := range rep.Sessions {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d B\t%d B\t%s\n", s.ID, s.Origin, s.Route, s.BytesToEngine, s.BytesToBrowser, s.Duration.Round(time.Second))
		}
		tw.Flush()
	}
	if rep.Problem != "" {
		fmt.Fprintln(w, strings.ToUpper(rep.Problem[:1])+rep.Problem[1:])
	}
}
