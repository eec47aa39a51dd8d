package cli

// `orionbridge certs machine install|renew|uninstall|status`: the machine
// certificate (certs/machine.go) that an elevated install creates so that
// every user's bridge serves a certificate the computer already trusts.
// The installers run it: the MSI's deferred custom actions (as
// LocalSystem), the deb/rpm's postinst and prerm, the pkg's postinstall;
// the renewal task runs `certs machine renew` (systemd timer, scheduled
// task, LaunchDaemon).

import (
	"fmt"
	"io"
	"time"

	"orionbridge/browserpolicy"
	"orionbridge/certs"
	"orionbridge/internal/machinedir"
)

const certsMachineUsage = "usage: orionbridge certs machine install|renew|uninstall|status [--force]"

func certsMachine(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, certsMachineUsage)
		return exitUsage
	}
	sub := args[0]
	fs := newFlagSet("certs machine "+sub, stderr)
	force := fs.Bool("force", false, "renew: issue a new leaf even when the current one is not due")
	if status, ok := parseOnlyFlags(fs, args[1:], stderr, certsMachineUsage); !ok {
		return status
	}
	if *force && sub != "renew" {
		fmt.Fprintf(stderr, "orionbridge certs machine %s: --force is for renew\n", sub)
		return exitUsage
	}
	root := machinedir.Path()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "orionbridge certs machine %s: %v\n", sub, err)
		return exitFailure
	}
	switch sub {
	case "install":
		res, err := certs.MaintainMachine(root, false, certs.Options{})
		if err != nil {
			return fail(err)
		}
		writeMachineResult(stdout, res)
		if status := trustMachine(root, stdout, fail); status != exitOK {
			return status
		}
		// Windows: the scheduled task that runs `certs machine renew` as
		// SYSTEM (cli/renewtask_windows.go); elsewhere the package ships it.
		if err := installRenewTask(root, stdout); err != nil {
			return fail(err)
		}
		return exitOK
	case "renew":
		res, err := certs.MaintainMachine(root, *force, certs.Options{})
		if err != nil {
			return fail(err)
		}
		writeMachineResult(stdout, res)
		if res.CARenewed || res.CACreated {
			// A new CA is trusted by nobody yet: do what install does.
			return trustMachine(root, stdout, fail)
		}
		return exitOK
	case "uninstall":
		if !certs.MachineInstalled(root) {
			fmt.Fprintf(stdout, "no machine certificate in %s: nothing to remove\n", certs.MachineCertsDir(root))
		}
		// The renewal task first: it would otherwise run, and fail, daily.
		taskErr := removeRenewTask(stdout)
		// The stores first, while ca.pem still says what to take out.
		results, trustErr := certs.UninstallMachineTrust(root)
		writeResults(stdout, results)
		lines, policyErr := browserpolicy.UninstallCertificate("")
		for _, l := range lines {
			fmt.Fprintln(stdout, l)
		}
		if trustErr != nil || policyErr != nil {
			// Keep the files: a second uninstall needs them to finish.
			if trustErr != nil {
				return fail(trustErr)
			}
			return fail(policyErr)
		}
		done, err := certs.RemoveMachine(root)
		for _, l := range done {
			fmt.Fprintln(stdout, l)
		}
		if err != nil {
			return fail(err)
		}
		if taskErr != nil {
			return fail(taskErr)
		}
		return exitOK
	case "status":
		if !certs.MachineInstalled(root) {
			fmt.Fprintf(stdout, "No machine certificate in %s: each user's bridge serves its own CA.\n", certs.MachineCertsDir(root))
			fmt.Fprintln(stdout, "An administrator creates one with: orionbridge certs machine install")
			return exitFailure
		}
		src, err := certs.OpenMachine(root, certs.Options{})
		if err != nil {
			return fail(err)
		}
		stores, err := certs.CheckTrust(src.CADir())
		if err != nil {
			return fail(err)
		}
		certs.WriteStatus(stdout, src.Status(), stores)
		writeRenewTaskStatus(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "orionbridge certs machine: unknown subcommand %q\n%s\n", sub, certsMachineUsage)
	return exitUsage
}

// trustMachine trusts the machine CA machine-wide and in Firefox's
// policies.json.
func trustMachine(root string, stdout io.Writer, fail func(error) int) int {
	results, err := certs.InstallMachineTrust(root)
	writeResults(stdout, results)
	if err != nil {
		return fail(err)
	}
	lines, err := browserpolicy.InstallCertificate("", certs.CAPath(certs.MachineCertsDir(root)))
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if err != nil {
		return fail(err)
	}
	return exitOK
}

func writeMachineResult(w io.Writer, res certs.MachineResult) {
	switch {
	case res.CACreated:
		fmt.Fprintf(w, "created the machine CA %s (SHA-256 %s)\n", certs.CAPath(res.CertsDir), certs.Fingerprint(res.CA))
	case res.CARenewed:
		fmt.Fprintf(w, "renewed the machine CA %s (SHA-256 %s): it expired within a year\n", certs.CAPath(res.CertsDir), certs.Fingerprint(res.CA))
	}
	if res.LeafIssued {
		fmt.Fprintf(w, "issued the machine leaf (%s): valid until %s\n", res.Reason, res.Leaf.NotAfter.Format(time.DateOnly))
	} else if res.Leaf != nil {
		fmt.Fprintf(w, "the machine leaf is not due: valid until %s\n", res.Leaf.NotAfter.Format(time.DateOnly))
	}
}
