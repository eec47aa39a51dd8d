package cli

// `orionbridge certs profile [--ca FILE] [--out FILE]`: the configuration
// profile (.mobileconfig) that makes the machine CA a trusted root on a
// Mac (browserpolicy.CertificateProfile). macOS lets no unattended pkg add
// trust, so IT deploys this profile through its MDM instead (issue 15,
// point 3).

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"orionbridge/browserpolicy"
	"orionbridge/certs"
	"orionbridge/internal/machinedir"
	"orionbridge/internal/owneronly"
	"orionbridge/internal/replacefile"
)

const certsProfileUsage = "usage: orionbridge certs profile [--ca FILE] [--out FILE]"

// certsProfile runs `certs profile`; args are those after "profile".
func certsProfile(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("certs profile", stderr)
	defaultCA := certs.CAPath(certs.MachineCertsDir(machinedir.Path()))
	caPath := fs.String("ca", defaultCA, "the CA certificate `file` (PEM) to make a trusted root")
	out := fs.String("out", "", "write the profile to `file` (mode 0644) instead of standard output")
	if status, ok := parseOnlyFlags(fs, args, stderr, certsProfileUsage); !ok {
		return status
	}
	if *caPath == "" {
		fmt.Fprintf(stderr, "orionbridge certs profile: --ca is empty: give the CA certificate to trust (default: the machine CA's)\n%s\n", certsProfileUsage)
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "orionbridge certs profile: %v\n", err)
		return exitFailure
	}
	// The profile makes every browser on the Mac trust what the file
	// holds: read it only if nobody but its owner or root could have
	// changed it.
	pemData, err := owneronly.ReadMachineFile("CA certificate", *caPath)
	if errors.Is(err, os.ErrNotExist) && *caPath == defaultCA {
		return fail(fmt.Errorf("no machine certificate in %s: an administrator creates it with `orionbridge certs machine install`, or give --ca FILE", filepath.Dir(defaultCA)))
	}
	if err != nil {
		return fail(err)
	}
	profile, err := browserpolicy.CertificateProfile(pemData)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", *caPath, err))
	}
	if *out == "" {
		if _, err := stdout.Write(profile); err != nil {
			return fail(err)
		}
		return exitOK
	}
	// 0644: the profile holds only the public certificate. Written whole
	// or not at all, never through a link planted at the name.
	if err := replacefile.WriteFile(*out, profile, 0o644); err != nil {
		return fail(fmt.Errorf("write %s: %w", *out, err))
	}
	fmt.Fprintf(stdout, "wrote %s: deploy it to the Mac through your MDM (a device profile); macOS then trusts the CA for every user, with nothing to click\n", *out)
	return exitOK
}
