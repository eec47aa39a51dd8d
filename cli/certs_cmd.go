package cli

import (
	"fmt"
	"io"
	"path/filepath"

	"orionbridge/certs"
	"orionbridge/config"
)

const certsUsage = "usage: orionbridge certs path|install|uninstall|status|renew [--config FILE] [--scope user|system]"

func certsCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, certsUsage)
		return exitUsage
	}
	sub := args[0]
	fs := newFlagSet("certs "+sub, stderr)
	configPath := fs.String("config", "", "configuration `file`")
	scope := fs.String("scope", "user", "trust scope for install/uninstall: user or system")
	if status, ok := parseOnlyFlags(fs, args[1:], stderr, certsUsage); !ok {
		return status
	}
	if *scope != string(certs.ScopeUser) && *scope != string(certs.ScopeSystem) {
		fmt.Fprintf(stderr, "orionbridge certs: --scope %q: expected user or system\n", *scope)
		return exitUsage
	}
	// Under sudo without --config, act on the invoking user's CA.
	owner, underSudo := invokingUser()
	underSudo = underSudo && *configPath == ""
	if underSudo {
		owner.useHome()
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	dir := filepath.Join(cfg.DataDir, "certs")
	external := cfg.CertFile != ""
	fail := func(err error) int {
		fmt.Fprintf(stderr, "orionbridge certs %s: %v\n", sub, err)
		return exitFailure
	}
	if external && sub != "status" {
		return fail(fmt.Errorf("the certificate is externally managed (cert_file = %s): Orion Bridge has no CA to %s", cfg.CertFile, sub))
	}

	switch sub {
	case "path":
		fmt.Fprintln(stdout, certs.CAPath(dir))
		return exitOK
	case "install", "uninstall":
		// Install creates the CA first if the bridge has never run.
		if _, err := certs.OpenLocal(dir, certs.Options{}); err != nil {
			return fail(err)
		}
		if underSudo {
			if err := owner.own(dir); err != nil {
				return fail(fmt.Errorf("give %s back to its owner: %w", dir, err))
			}
		}
		do := certs.Install
		if sub == "uninstall" {
			do = certs.Uninstall
		}
		results, err := do(dir, certs.Scope(*scope))
		writeResults(stdout, results)
		if err != nil {
			return fail(err)
		}
		return exitOK
	case "renew":
		src, err := certs.OpenLocal(dir, certs.Options{})
		if err != nil {
			return fail(err)
		}
		if err := src.RenewLeaf(); err != nil {
			return fail(err)
		}
		if underSudo {
			if err := owner.own(dir); err != nil {
				return fail(fmt.Errorf("give %s back to its owner: %w", dir, err))
			}
		}
		st := src.Status()
		fmt.Fprintf(stdout, "renewed: serial %s, valid until %s\n", st.LeafSerial, st.LeafNotAfter.Format("2006-01-02"))
		return exitOK
	case "status":
		var src *certs.Source
		if external {
			src, err = certs.OpenExternal(cfg.CertFile, cfg.KeyFile, certs.Options{})
		} else {
			src, err = certs.OpenLocal(dir, certs.Options{})
		}
		if err != nil {
			return fail(err)
		}
		var stores []certs.StoreStatus
		if !external {
			if stores, err = certs.CheckTrust(dir); err != nil {
				return fail(err)
			}
		}
		certs.WriteStatus(stdout, src.Status(), stores)
		if external || certs.Trusted(stores) {
			return exitOK
		}
		return exitFailure
	}
	fmt.Fprintf(stderr, "orionbridge certs: unknown subcommand %q\n%s\n", sub, certsUsage)
	return exitUsage
}

// writeResults prints one line per trust store an install or uninstall
// touched, with the reason for anything that failed or was skipped.
func writeResults(w io.Writer, results []certs.StoreResult) {
	for _, r := range results {
		line := fmt.Sprintf("%-16s %s (%s)", r.Action, r.Name, r.Path)
		if r.Detail != "" {
			line += ": " + r.Detail
		}
		if r.Err != nil {
			line += ": " + r.Err.Error()
		}
		fmt.Fprintln(w, line)
	}
}
