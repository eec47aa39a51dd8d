//go:build !windows

package browserpolicy

// Firefox's Certificates.Install on Linux, merged into the system
// policies.json that policy install also merges into (layout_linux.go).
// macOS has no such file to merge into (firefoxCertificateNote says why
// nothing is needed there).

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"orionbridge/internal/owneronly"
)

// certInstall is the list InstallCertificate merges.
var certInstall = policiesList{FirefoxCertificates, FirefoxInstall, "install the machine certificate again"}

// firefoxTarget is the policies.json this OS merges into, if any.
func firefoxTarget() (target, bool) {
	i := slices.IndexFunc(layout, func(t target) bool { return t.kind == firefoxMerge })
	if i < 0 {
		return target{}, false
	}
	return layout[i], true
}

// InstallCertificate adds caPath to Firefox's Certificates.Install list in
// the system policies.json under root ("" = the real system), recording
// what it added. caPath is the path Firefox reads, without root: an
// absolute path (a bare name would be looked up in Firefox's own folders)
// to a name-constrained CA certificate that every user can read and only
// root can change (checked at root+caPath). Every other policy, and every
// certificate already listed, stays. Installing again with another caPath
// replaces the one an earlier install added.
func InstallCertificate(root, caPath string) ([]string, error) {
	t, ok := firefoxTarget()
	if !ok {
		return []string{firefoxCertificateNote}, nil
	}
	if err := checkCAFile(root, caPath); err != nil {
		return nil, err
	}
	rec, _, err := readRecord(root)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(root, t.path)
	dirs := len(rec.Dirs)
	var added firefoxAdded
	err = rec.mkdirs(root, filepath.Dir(t.path))
	if err == nil {
		added, err = rec.merge(root, t.path, certInstall, []string{caPath})
	}
	// The record is written when the merge went through, or when it failed
	// after creating folders, which uninstall then removes; a refused
	// install (a broken policies.json) leaves the machine as it was.
	if err == nil || len(rec.Dirs) > dirs {
		if werr := writeRecord(root, &rec); err == nil {
			err = werr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.browser, err)
	}
	line := fmt.Sprintf("%s: %s lists %s", t.browser, path, caPath)
	if len(added.Entries) == 0 {
		line += " (it was there before: uninstall leaves it)"
	}
	return []string{line + "; Firefox installs it into every profile at its next start"}, nil
}

// checkCAFile checks the certificate Firefox will read at caPath (under
// root): a CA parseCA accepts, owned by root (or us) and writable by
// nobody else, folders above included, since Firefox trusts whatever the
// file holds at each start; and readable by every user, folders above
// included up to root, since each user's Firefox reads it itself.
func checkCAFile(root, caPath string) error {
	if !filepath.IsAbs(caPath) {
		return fmt.Errorf("CA certificate %q: not an absolute path, and Firefox looks a bare name up in its own folders; give the full path, as in /var/lib/orionbridge/certs/ca.pem", caPath)
	}
	full := filepath.Join(root, caPath)
	data, err := owneronly.ReadMachineFile("CA certificate for Firefox", full)
	if err != nil {
		return err
	}
	if _, err := parseCA("CA certificate for Firefox "+full, data); err != nil {
		return err
	}
	top := filepath.Clean(root)
	if root == "" {
		top = "/"
	}
	for p, need := full, os.FileMode(0o004); ; p, need = filepath.Dir(p), 0o001 {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("CA certificate for Firefox %s: %w", full, err)
		}
		if fi.Mode().Perm()&need == 0 {
			what, fix := "read the file", "chmod o+r "+p
			if need == 0o001 {
				what, fix = "enter the folder "+p, "chmod o+x "+p
			}
			return fmt.Errorf("CA certificate for Firefox %s: Firefox, running as any user, cannot %s (mode %04o); run %s (the certificate is public; its key stays private)", full, what, fi.Mode().Perm(), fix)
		}
		if p == top || p == filepath.Dir(p) {
			return nil
		}
	}
}

// UninstallCertificate removes exactly what InstallCertificate added: the
// path it added to Certificates.Install (not one that was there before),
// and the levels of policies.json it created, the file included, once
// nothing else is in them. Policy install's part of the record stays.
func UninstallCertificate(root string) ([]string, error) {
	t, ok := firefoxTarget()
	if !ok {
		return []string{firefoxCertificateNote}, nil
	}
	rec, found, err := readRecord(root)
	if err != nil {
		return nil, err
	}
	if _, ok := rec.Certificates[t.path]; !ok {
		return []string{t.browser + ": no record of a certificate added to " + filepath.Join(root, t.path) + ": nothing to remove"}, nil
	}
	var done []string
	var errs []error
	line, err := rec.unmerge(root, t.path, certInstall)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", t.browser, err))
	} else {
		done = append(done, t.browser+": "+line)
	}
	return rec.finish(root, found, done, errs)
}

// CertificateStatus says whether policies.json lists caPath, and which
// file it read; path is "" where there is no policies.json to merge into
// (macOS: the configuration profile holds the CA instead).
func CertificateStatus(root, caPath string) (listed bool, path string, err error) {
	t, ok := firefoxTarget()
	if !ok {
		return false, "", nil
	}
	path = filepath.Join(root, t.path)
	data, err := readExisting("Firefox policies", path)
	if err != nil || data == nil {
		return false, path, err
	}
	entries, _, err := firefoxStatus(path, data, certInstall, nil)
	return slices.Contains(entries, caPath), path, err
}
