//go:build !windows

package browserpolicy

// Linux and macOS: the policies are files (layout_*.go says which). Every
// path is under root, "" for the real system; the tests pass a temporary
// folder.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"orionbridge/internal/owneronly"
	"orionbridge/internal/replacefile"
)

type kind int

const (
	chromiumFile kind = iota // our own JSON file in a managed folder
	firefoxMerge             // a policies.json we merge into
	profileFile              // the macOS configuration profile
)

type target struct {
	browser string
	path    string // absolute, before root is prepended
	kind    kind
}

// record is what install did, kept at recordPath, so that uninstall takes
// out exactly that: the Firefox entries that were not already listed, and
// the folders that did not exist. Our own files need no record: their
// name says they are ours. It has two parts, each keyed by the
// policies.json path: Firefox, what policy install added to SkipDomains,
// and Certificates, what InstallCertificate added to Certificates.Install.
// Either uninstall leaves the other's part, and the record goes only when
// both are gone.
type record struct {
	Version      int                     `json:"version"`
	Origins      []string                `json:"origins,omitempty"`
	Iframe       bool                    `json:"iframe,omitempty"`
	Dirs         []string                `json:"created_dirs,omitempty"`
	Firefox      map[string]firefoxAdded `json:"firefox,omitempty"`
	Certificates map[string]firefoxAdded `json:"firefox_certificates,omitempty"`
}

// part is the record of what was added to list l, per policies.json, and
// other the record of the other list.
func (r *record) part(l policiesList) (part, other map[string]firefoxAdded) {
	if l == certInstall {
		return r.Certificates, r.Firefox
	}
	return r.Firefox, r.Certificates
}

// CheckPrivilege: the files are in /etc, /var/lib and /Library, which only
// root may write.
func CheckPrivilege() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root: run with sudo")
	}
	return nil
}

func readRecord(root string) (record, bool, error) {
	path := filepath.Join(root, recordPath)
	data, err := owneronly.ReadFile("browser policy record", path)
	if errors.Is(err, fs.ErrNotExist) {
		return record{Version: 1, Firefox: map[string]firefoxAdded{}, Certificates: map[string]firefoxAdded{}}, false, nil
	}
	if err != nil {
		return record{}, false, err
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return record{}, false, fmt.Errorf("%s: %w; remove it and check the browsers' policy files by hand", path, err)
	}
	if r.Firefox == nil {
		r.Firefox = map[string]firefoxAdded{}
	}
	if r.Certificates == nil {
		r.Certificates = map[string]firefoxAdded{}
	}
	return r, true, nil
}

// mkdirs creates dir and its missing parents, world-readable (each user's
// browser reads the policy), and notes each folder it created.
func (r *record) mkdirs(root, dir string) error {
	var missing []string
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(root, d)); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		full := filepath.Join(root, missing[i])
		if err := os.Mkdir(full, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", full, err)
		}
		// Whatever the umask: a browser running as any user must read it.
		if err := os.Chmod(full, 0o755); err != nil {
			return err
		}
		if !slices.Contains(r.Dirs, missing[i]) {
			r.Dirs = append(r.Dirs, missing[i])
		}
	}
	// A folder that others can write, or a planted link, would let them
	// swap the policy.
	return owneronly.CheckDir("browser policy folder", filepath.Join(root, dir))
}

// readExisting reads a file we merge into, or nil when there is none.
func readExisting(what, path string) ([]byte, error) {
	data, err := owneronly.ReadFile(what, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// Install writes the policies for opts into every browser's place under
// root, replacing what an earlier install wrote, and returns the status.
func Install(root string, opts Options) ([]BrowserStatus, error) {
	if len(opts.Origins) == 0 {
		return nil, errNoOrigins
	}
	chromium, err := ChromiumPolicy(opts)
	if err != nil {
		return nil, err
	}
	domains, err := FirefoxDomains(opts.Origins)
	if err != nil {
		return nil, err
	}
	rec, _, err := readRecord(root)
	if err != nil {
		return nil, err
	}
	rec.Version, rec.Origins, rec.Iframe = 1, opts.Origins, opts.Iframe
	// The record is written even when a browser fails, so that uninstall
	// can take out what the others got.
	var errs []error
	for _, t := range layout {
		path := filepath.Join(root, t.path)
		if err := rec.mkdirs(root, filepath.Dir(t.path)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.browser, err))
			continue
		}
		var data []byte
		switch t.kind {
		case chromiumFile:
			data = chromium
		case profileFile:
			if data, err = MobileConfig(opts); err != nil {
				return nil, err
			}
		case firefoxMerge:
			if _, err := rec.merge(root, t.path, skipDomains, domains); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", t.browser, err))
			}
			continue
		}
		if err := replacefile.WriteFile(path, data, 0o644); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.browser, err))
		}
	}
	if err := writeRecord(root, &rec); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return Status(root, opts)
}

// merge adds entries to list l of the policies.json at path (under root),
// replacing what an earlier install added there, and records what it
// added. The record is updated before the file is written: if the write
// fails, uninstall takes out entries that are not there, which is harmless.
func (r *record) merge(root, path string, l policiesList, entries []string) (firefoxAdded, error) {
	full := filepath.Join(root, path)
	old, err := readExisting("Firefox policies", full)
	if err != nil {
		return firefoxAdded{}, err
	}
	part, _ := r.part(l)
	data, added, err := mergeList(full, old, l, entries, part[path])
	if err != nil {
		return firefoxAdded{}, err
	}
	part[path] = added
	return added, replacefile.WriteFile(full, data, 0o644)
}

func writeRecord(root string, rec *record) error {
	if err := rec.mkdirs(root, filepath.Dir(recordPath)); err != nil {
		return fmt.Errorf("browser policy record: %w", err)
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return replacefile.WriteFile(filepath.Join(root, recordPath), append(data, '\n'), 0o644)
}

// Uninstall removes what Install added under root and says what it did,
// one line each. Without a record (never installed, or removed by hand) it
// still removes our own files, which only we write, but leaves Firefox's
// policies.json alone: nothing says which of its domains were ours.
func Uninstall(root string) ([]string, error) {
	rec, found, err := readRecord(root)
	if err != nil {
		return nil, err
	}
	var done []string
	var errs []error
	for _, t := range layout {
		path := filepath.Join(root, t.path)
		switch t.kind {
		case chromiumFile, profileFile:
			err := os.Remove(path)
			switch {
			case err == nil:
				done = append(done, t.browser+": removed "+path)
			case !errors.Is(err, fs.ErrNotExist):
				errs = append(errs, fmt.Errorf("%s: %w", t.browser, err))
			}
		case firefoxMerge:
			if _, ok := rec.Firefox[t.path]; !ok {
				if _, err := os.Lstat(path); !found && err == nil {
					done = append(done, t.browser+": "+path+" left as it is (no record of what policy install added)")
				}
				continue
			}
			line, err := rec.unmerge(root, t.path, skipDomains)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", t.browser, err))
				continue
			}
			done = append(done, t.browser+": "+line)
		}
	}
	rec.Origins, rec.Iframe = nil, false
	return rec.finish(root, found, done, errs)
}

// unmerge takes what was added to list l out of the policies.json at path
// (under root), drops it from the record, and says what it did.
func (r *record) unmerge(root, path string, l policiesList) (string, error) {
	part, other := r.part(l)
	added := part[path]
	full := filepath.Join(root, path)
	if err := unmergeFile(full, l, added); err != nil {
		return "", err
	}
	delete(part, path)
	// The file and its "policies" object are shared by both lists: when
	// the list that created them leaves first, the other list's record
	// takes them over, so that its uninstall removes them once empty.
	if rest, ok := other[path]; ok {
		rest.CreatedFile = rest.CreatedFile || added.CreatedFile
		rest.CreatedRoot = rest.CreatedRoot || added.CreatedRoot
		other[path] = rest
	}
	if len(added.Entries) == 0 {
		return full + ": nothing of ours left in " + l.section + "." + l.list, nil
	}
	return "removed " + strings.Join(added.Entries, ", ") + " from " + l.section + "." + l.list + " in " + full, nil
}

// finish ends an uninstall: on errors the record is kept whole, so that a
// second uninstall finishes the job; otherwise it is rewritten while the
// other part still has entries to take out, and removed when nothing is
// left. Then the folders install created go, deepest first, if empty: a
// folder someone has put something into since (or that still holds the
// other part's file) stays, and stays recorded while the record does.
func (r *record) finish(root string, found bool, done []string, errs []error) ([]string, error) {
	if err := errors.Join(errs...); err != nil {
		return done, errors.Join(err, writeRecord(root, r))
	}
	left := len(r.Firefox) > 0 || len(r.Certificates) > 0
	if found && !left {
		if err := os.Remove(filepath.Join(root, recordPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return done, err
		}
	}
	dirs := slices.Clone(r.Dirs)
	slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
	r.Dirs = nil
	for _, d := range dirs {
		full := filepath.Join(root, d)
		if err := os.Remove(full); err == nil {
			done = append(done, "removed the folder "+full)
		} else if _, err := os.Lstat(full); err == nil {
			r.Dirs = append(r.Dirs, d)
		}
	}
	if left {
		return done, writeRecord(root, r)
	}
	return done, nil
}

func unmergeFile(path string, l policiesList, added firefoxAdded) error {
	old, err := readExisting("Firefox policies", path)
	if err != nil || old == nil {
		return err // gone already: nothing of ours is left
	}
	data, err := unmergeList(path, old, l, added)
	if err != nil {
		return err
	}
	if data == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return replacefile.WriteFile(path, data, 0o644)
}

// Status reads each browser's policy under root and compares it with what
// Install would write for opts now.
func Status(root string, opts Options) ([]BrowserStatus, error) {
	patterns, err := ChromiumPatterns(opts.Origins)
	if err != nil {
		return nil, err
	}
	domains, err := FirefoxDomains(opts.Origins)
	if err != nil {
		return nil, err
	}
	var out []BrowserStatus
	for _, t := range layout {
		path := filepath.Join(root, t.path)
		s := BrowserStatus{Browser: t.browser, Where: path}
		data, err := readExisting("browser policy", path)
		switch {
		case err != nil:
			s.Note = err.Error()
		case data == nil:
			s.Note = "not installed"
		case t.kind == chromiumFile:
			s.Entries, s.Iframe, s.Current, err = chromiumStatus(data, patterns)
			s.InPlace = err == nil && len(s.Entries) > 0
			if err != nil {
				s.Note = fmt.Sprintf("unreadable: %v", err)
			}
		case t.kind == firefoxMerge:
			s.Entries, s.Current, err = firefoxStatus(path, data, skipDomains, domains)
			s.InPlace = err == nil && s.Current
			if err != nil {
				s.Note = err.Error()
			}
		case t.kind == profileFile:
			s.InPlace, s.Entries = true, patterns
			s.Iframe = strings.Contains(string(data), IframeDefaultEnabled)
			want, err := MobileConfig(Options{Origins: opts.Origins, Iframe: s.Iframe})
			s.Current = err == nil && string(want) == string(data)
			s.Note = "written for an MDM to deploy; the browsers read it only once it is installed as a profile"
		}
		out = append(out, s)
	}
	return out, nil
}

// chromiumStatus reads our file back.
func chromiumStatus(data []byte, want []string) (entries []string, hasIframe, current bool, err error) {
	var m struct {
		Local    []string `json:"LocalNetworkAccessAllowedForUrls"`
		Loopback []string `json:"LoopbackNetworkAllowedForUrls"`
		Iframe   *bool    `json:"LocalNetworkAccessPermissionsPolicyDefaultEnabled"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, false, false, err
	}
	hasIframe = m.Iframe != nil && *m.Iframe
	current = len(want) > 0 && slices.Equal(m.Local, want) && slices.Equal(m.Loopback, want)
	return m.Loopback, hasIframe, current, nil
}

// firefoxStatus lists list l and whether it holds every entry wanted.
func firefoxStatus(path string, data []byte, l policiesList, want []string) (entries []string, current bool, err error) {
	d, err := parseFirefox(path, data, l)
	if err != nil {
		return nil, false, err
	}
	current = len(want) > 0
	for _, w := range want {
		current = current && slices.Contains(d.entries, w)
	}
	return d.entries, current, nil
}
