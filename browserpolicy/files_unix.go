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
// out exactly that: the Firefox domains that were not already listed, and
// the folders that did not exist. Our own files need no record: their
// name says they are ours.
type record struct {
	Version int                     `json:"version"`
	Origins []string                `json:"origins"`
	Iframe  bool                    `json:"iframe,omitempty"`
	Dirs    []string                `json:"created_dirs,omitempty"`
	Firefox map[string]firefoxAdded `json:"firefox,omitempty"`
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
		return record{Firefox: map[string]firefoxAdded{}}, false, nil
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
			old, err := readExisting("Firefox policies", path)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", t.browser, err))
				continue
			}
			var added firefoxAdded
			data, added, err = MergeFirefox(path, old, domains, rec.Firefox[t.path])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", t.browser, err))
				continue
			}
			rec.Firefox[t.path] = added
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
			added, ok := rec.Firefox[t.path]
			if !ok {
				if _, err := os.Lstat(path); !found && err == nil {
					done = append(done, t.browser+": "+path+" left as it is (no record of what policy install added)")
				}
				continue
			}
			if err := unmergeFile(path, added); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", t.browser, err))
				continue
			}
			what := "removed " + strings.Join(added.Domains, ", ") + " from " + path
			if len(added.Domains) == 0 {
				what = path + ": nothing of ours left in it"
			}
			done = append(done, t.browser+": "+what)
			delete(rec.Firefox, t.path)
		}
	}
	if err := errors.Join(errs...); err != nil {
		// Keep the record: a second uninstall finishes the job.
		return done, errors.Join(err, writeRecord(root, &rec))
	}
	if found {
		if err := os.Remove(filepath.Join(root, recordPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return done, err
		}
	}
	// Deepest first; a folder someone has put something into since stays.
	dirs := slices.Clone(rec.Dirs)
	slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
	for _, d := range dirs {
		if err := os.Remove(filepath.Join(root, d)); err == nil {
			done = append(done, "removed the folder "+filepath.Join(root, d))
		}
	}
	return done, nil
}

func unmergeFile(path string, added firefoxAdded) error {
	old, err := readExisting("Firefox policies", path)
	if err != nil || old == nil {
		return err // gone already: nothing of ours is left
	}
	data, err := UnmergeFirefox(path, old, added)
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
			s.Entries, s.Current, err = firefoxStatus(path, data, domains)
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

// firefoxStatus lists SkipDomains and whether it holds every domain wanted.
func firefoxStatus(path string, data []byte, want []string) (domains []string, current bool, err error) {
	d, err := parseFirefox(path, data)
	if err != nil {
		return nil, false, err
	}
	current = len(want) > 0
	for _, w := range want {
		current = current && slices.Contains(d.domains, w)
	}
	return d.domains, current, nil
}
