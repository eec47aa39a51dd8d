package cli

import (
	"fmt"
	"io"
	"path/filepath"

	"orionbridge/certs"
	"orionbridge/config"
	"orionbridge/internal/machinedir"
)

const certsUsage = "usage: orionbridge certs path|install|uninstall|status|renew [--config FILE] [--scope user|system]\n" +
	"       orionbridge certs machine install|renew|uninstall|status [--force]\n" +
	"       orionbridge certs profile [--ca FILE] [--out FILE]"

func certsCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, certsUsage)
		return exitUsage
	}
	sub := args[0]
	switch sub {
	case "machine":
		return certsMachine(args[1:], stdout, stderr)
	case "profile":
		return certsProfile(args[1:], stdout, stderr)
	}
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

	// The machine certificate, when an administrator's install made one,
	// is what this user's bridge serves (certs.OpenServed).
	machineRoot := machinedir.Path()
	machine := !external && certs.MachineInstalled(machineRoot)
	switch sub {
	case "path":
		if machine {
			dir = certs.MachineCertsDir(machineRoot)
		}
		fmt.Fprintln(stdout, certs.CAPath(dir))
		return exitOK
	case "install", "uninstall":
		if machine {
			return certsMachineTrust(sub, certs.Scope(*scope), machineRoot, stdout, fail)
		}
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
		if machine {
			return fail(fmt.Errorf("this computer's certificate (%s) is renewed by its renewal task; an administrator can renew it now: orionbridge certs machine renew --force (with sudo, or from an elevated prompt)",
				certs.MachineCertsDir(machineRoot)))
		}
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
		// What the bridge serves, chosen as the bridge chooses it.
		src, err := certs.OpenServed(cfg.CertFile, cfg.KeyFile, dir, machineRoot, certs.Options{})
		if err != nil {
			return fail(err)
		}
		var stores []certs.StoreStatus
		if !external {
			if stores, err = certs.CheckTrust(src.CADir()); err != nil {
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

// certsMachineTrust is `certs install|uninstall` when the bridge serves the
// machine certificate: --scope user changes this user's own browser stores
// (the NSS databases the machine-wide trust does not reach); --scope system
// is `certs machine install|uninstall`'s trust part, for an administrator.
func certsMachineTrust(sub string, scope certs.Scope, root string, stdout io.Writer, fail func(error) int) int {
	var results []certs.StoreResult
	var err error
	switch {
	case scope == certs.ScopeSystem && sub == "install":
		return trustMachine(root, stdout, fail)
	case scope == certs.ScopeSystem:
		results, err = certs.UninstallMachineTrust(root)
	case sub == "install":
		results, err = certs.InstallForUser(certs.MachineCertsDir(root))
	default:
		results, err = certs.UninstallForUser(certs.MachineCertsDir(root))
	}
	writeResults(stdout, results)
	if err != nil {
		return fail(err)
	}
	return exitOK
}
