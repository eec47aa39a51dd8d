package cli

// `orionbridge policy install|uninstall|status`: the browsers' managed
// policies that approve Local Network Access for the sites in
// allowed_origins (browserpolicy says what is written where). The policy
// follows allowed_origins when install runs again; status says when it no
// longer matches.

import (
	"fmt"
	"io"
	"strings"

	"orionbridge/browserpolicy"
	"orionbridge/config"
)

const policyUsage = "usage: orionbridge policy install|uninstall|status [--config FILE] [--iframe]"

func policyCommand(args []string, stdout, stderr io.Writer) int {
	return runPolicy("", args, stdout, stderr)
}

// runPolicy is policyCommand with every path under root; "" is the real
// system, and only then is root (or elevation) required.
func runPolicy(root string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, policyUsage)
		return exitUsage
	}
	sub := args[0]
	switch sub {
	case "install", "uninstall", "status":
	default:
		fmt.Fprintf(stderr, "orionbridge policy: unknown command %q\n%s\n", sub, policyUsage)
		return exitUsage
	}
	fs := newFlagSet("policy "+sub, stderr)
	configPath := fs.String("config", "", "configuration `file` whose allowed_origins (with the managed config over it) are approved")
	iframe := fs.Bool("iframe", false, "install: also let cross-origin iframes reach the bridge without allow=\"loopback-network\" (LocalNetworkAccessPermissionsPolicyDefaultEnabled, every site's iframes)")
	if status, ok := parseOnlyFlags(fs, args[1:], stderr, policyUsage); !ok {
		return status
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "orionbridge policy %s: %v\n", sub, err)
		return exitFailure
	}
	if *iframe && sub != "install" {
		fmt.Fprintf(stderr, "orionbridge policy %s: --iframe is for install (status shows whether it is set)\n", sub)
		return exitUsage
	}
	if sub != "status" && root == "" {
		if err := browserpolicy.CheckPrivilege(); err != nil {
			return fail(err)
		}
	}
	if sub == "uninstall" {
		// Uninstall needs no config: the record says what install added.
		done, err := browserpolicy.Uninstall(root)
		for _, line := range done {
			fmt.Fprintln(stdout, line)
		}
		if err != nil {
			return fail(err)
		}
		if len(done) == 0 {
			fmt.Fprintln(stdout, "no browser policy of Orion Bridge found: nothing to remove")
		}
		return exitOK
	}
	// Under sudo without --config, the origins are the invoking user's, as
	// their bridge has them (and as `certs install` does).
	if owner, underSudo := invokingUser(); underSudo && *configPath == "" {
		owner.useHome()
	}
	cfg, sources, err := config.LoadSources(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	from := sources["allowed_origins"]
	if from == "" {
		from = "the default"
	}
	fmt.Fprintf(stdout, "allowed_origins in force: %s (from %s)\n", originList(cfg.AllowedOrigins), from)
	opts := browserpolicy.Options{Origins: cfg.AllowedOrigins, Iframe: *iframe}
	var statuses []browserpolicy.BrowserStatus
	if sub == "install" {
		statuses, err = browserpolicy.Install(root, opts)
	} else {
		statuses, err = browserpolicy.Status(root, opts)
	}
	if err != nil {
		return fail(err)
	}
	ok := writePolicyStatus(stdout, statuses)
	if sub == "install" {
		fmt.Fprintln(stdout, "Browsers apply it at their next start (Chrome and Edge also pick up the lists while running; the iframe policy needs a restart).")
		fmt.Fprintln(stdout, "When allowed_origins changes, run `orionbridge policy install` again: the policy follows it.")
	}
	if !ok {
		if sub == "status" {
			fmt.Fprintln(stdout, "Run `sudo orionbridge policy install` (an elevated prompt on Windows) to write or update it.")
		}
		return exitFailure
	}
	return exitOK
}

// writePolicyStatus prints one line per browser; ok when every browser has
// the policy for the origins in force.
func writePolicyStatus(w io.Writer, statuses []browserpolicy.BrowserStatus) (ok bool) {
	ok = true
	for _, s := range statuses {
		var line string
		switch {
		case s.InPlace && s.Current:
			line = "in place for " + originList(s.Entries)
		case s.InPlace || len(s.Entries) > 0:
			line = "out of date: lists " + originList(s.Entries) + ", not what allowed_origins gives now"
		default:
			line = "not installed"
		}
		if s.Iframe {
			line += "; iframe policy (" + browserpolicy.IframeDefaultEnabled + ") set"
		}
		if s.Note != "" && s.Note != "not installed" {
			line += " (" + s.Note + ")"
		}
		fmt.Fprintf(w, "%-15s %s: %s\n", s.Browser, s.Where, line)
		ok = ok && s.InPlace && s.Current
	}
	return ok
}

func originList(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}
