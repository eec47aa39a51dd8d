package browserpolicy

// Windows: the policies are HKLM registry values, where Group Policy puts
// them (each page cited in policy.go gives these paths):
//
//	HKLM\SOFTWARE\Policies\Google\Chrome\LocalNetworkAccessAllowedForUrls\1..N   REG_SZ
//	HKLM\SOFTWARE\Policies\Google\Chrome\LoopbackNetworkAllowedForUrls\1..N      REG_SZ
//	HKLM\SOFTWARE\Policies\Google\Chrome  LocalNetworkAccessPermissionsPolicyDefaultEnabled  REG_DWORD 1 (--iframe)
//	the same under HKLM\SOFTWARE\Policies\Chromium and HKLM\SOFTWARE\Policies\Microsoft\Edge
//	HKLM\SOFTWARE\Policies\Mozilla\Firefox\LocalNetworkAccess\SkipDomains\1..N  REG_SZ
//	(windows/firefox.admx: list key …\LocalNetworkAccess\SkipDomains, valuePrefix "")
//
// A list is read as the values named 1, 2, 3… in turn, so the lists stay
// numbered without gaps: install appends ours after IT's entries, and
// uninstall takes ours out and renumbers the rest. What install added is
// recorded under HKLM\SOFTWARE\OrionBridge\BrowserPolicy (value name: the
// list's key path; REG_MULTI_SZ: the entries we added; for the iframe
// DWORD, value name <browser key>\LocalNetworkAccessPermissionsPolicyDefaultEnabled),
// so uninstall removes exactly that and leaves IT's own entries.
//
// root is ignored: the registry has no prefix. The Wine harness is where
// this is tested (installer/wine/).

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// access: the 64-bit view, whatever this build is, since the browsers are
// 64-bit and read it.
const access = registry.ALL_ACCESS | registry.WOW64_64KEY

const recordKey = `SOFTWARE\OrionBridge\BrowserPolicy`

var chromiumKeys = []struct{ browser, key string }{
	{"Google Chrome", `SOFTWARE\Policies\Google\Chrome`},
	{"Chromium", `SOFTWARE\Policies\Chromium`},
	{"Microsoft Edge", `SOFTWARE\Policies\Microsoft\Edge`},
}

const firefoxList = `SOFTWARE\Policies\Mozilla\Firefox\LocalNetworkAccess\SkipDomains`

// CheckPrivilege: HKLM\SOFTWARE\Policies is writable only by an elevated
// administrator or SYSTEM (the MSI's deferred custom action).
func CheckPrivilege() error {
	if !windows.GetCurrentProcessToken().IsElevated() {
		return errors.New("needs an elevated prompt: open the terminal with \"Run as administrator\"")
	}
	return nil
}

// readList reads the values 1, 2… of key until one is missing.
func readList(key string) ([]string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, key, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf(`open HKLM\%s: %w`, key, err)
	}
	defer k.Close()
	var out []string
	for i := 1; ; i++ {
		s, _, err := k.GetStringValue(strconv.Itoa(i))
		if errors.Is(err, registry.ErrNotExist) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf(`read HKLM\%s\%d: %w`, key, i, err)
		}
		out = append(out, s)
	}
}

// writeList makes key hold exactly list as 1..N, deleting the values after
// it, and deletes the key when list is empty (an empty list key means
// nothing to the browsers).
func writeList(key string, list []string, oldLen int) error {
	if len(list) == 0 {
		err := registry.DeleteKey(registry.LOCAL_MACHINE, key)
		if err != nil && !errors.Is(err, registry.ErrNotExist) {
			return fmt.Errorf(`delete HKLM\%s: %w`, key, err)
		}
		return nil
	}
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, key, access)
	if err != nil {
		return fmt.Errorf(`create HKLM\%s: %w`, key, err)
	}
	defer k.Close()
	for i, s := range list {
		if err := k.SetStringValue(strconv.Itoa(i+1), s); err != nil {
			return fmt.Errorf(`set HKLM\%s\%d: %w`, key, i+1, err)
		}
	}
	for i := len(list) + 1; i <= oldLen; i++ {
		if err := k.DeleteValue(strconv.Itoa(i)); err != nil && !errors.Is(err, registry.ErrNotExist) {
			return fmt.Errorf(`delete HKLM\%s\%d: %w`, key, i, err)
		}
	}
	return nil
}

// listSpec is one list install writes.
type listSpec struct {
	browser, key string
	entries      []string
}

func lists(opts Options) ([]listSpec, error) {
	patterns, err := ChromiumPatterns(opts.Origins)
	if err != nil {
		return nil, err
	}
	domains, err := FirefoxDomains(opts.Origins)
	if err != nil {
		return nil, err
	}
	var out []listSpec
	for _, c := range chromiumKeys {
		out = append(out,
			listSpec{c.browser, c.key + `\` + LocalNetworkAccessAllowed, patterns},
			listSpec{c.browser, c.key + `\` + LoopbackNetworkAllowed, patterns})
	}
	return append(out, listSpec{"Firefox", firefoxList, domains}), nil
}

func openRecord() (registry.Key, error) {
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, recordKey, access)
	if err != nil {
		return 0, fmt.Errorf(`create HKLM\%s: %w`, recordKey, err)
	}
	return k, nil
}

// Install writes the lists (and the iframe DWORD when opts.Iframe), taking
// out first what an earlier install added.
func Install(root string, opts Options) ([]BrowserStatus, error) {
	if len(opts.Origins) == 0 {
		return nil, errNoOrigins
	}
	specs, err := lists(opts)
	if err != nil {
		return nil, err
	}
	rec, err := openRecord()
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	for _, l := range specs {
		current, err := readList(l.key)
		if err != nil {
			return nil, err
		}
		prev, _, err := rec.GetStringsValue(l.key)
		if err != nil && !errors.Is(err, registry.ErrNotExist) {
			return nil, fmt.Errorf(`read HKLM\%s %s: %w`, recordKey, l.key, err)
		}
		base := removeAll(current, prev)
		var added []string
		for _, e := range l.entries {
			if !slices.Contains(base, e) {
				base = append(base, e)
				added = append(added, e)
			}
		}
		if err := writeList(l.key, base, len(current)); err != nil {
			return nil, err
		}
		if err := rec.SetStringsValue(l.key, nonNil(added)); err != nil {
			return nil, fmt.Errorf(`write HKLM\%s: %w`, recordKey, err)
		}
	}
	for _, c := range chromiumKeys {
		name := c.key + `\` + IframeDefaultEnabled
		_, _, ours := rec.GetIntegerValue(name)
		if opts.Iframe {
			k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, c.key, access)
			if err != nil {
				return nil, fmt.Errorf(`create HKLM\%s: %w`, c.key, err)
			}
			_, _, had := k.GetIntegerValue(IframeDefaultEnabled)
			err = k.SetDWordValue(IframeDefaultEnabled, 1)
			k.Close()
			if err != nil {
				return nil, fmt.Errorf(`set HKLM\%s\%s: %w`, c.key, IframeDefaultEnabled, err)
			}
			// Ours only when IT had not set it already.
			if had != nil || ours == nil {
				if err := rec.SetDWordValue(name, 1); err != nil {
					return nil, err
				}
			}
		} else if ours == nil {
			if err := removeIframe(rec, c.key); err != nil {
				return nil, err
			}
		}
	}
	return Status(root, opts)
}

func removeIframe(rec registry.Key, key string) error {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, key, access)
	if err == nil {
		err = k.DeleteValue(IframeDefaultEnabled)
		k.Close()
	}
	if err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf(`delete HKLM\%s\%s: %w`, key, IframeDefaultEnabled, err)
	}
	if err := rec.DeleteValue(key + `\` + IframeDefaultEnabled); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return err
	}
	return nil
}

// Uninstall takes out what the record says install added.
func Uninstall(root string) ([]string, error) {
	rec, err := registry.OpenKey(registry.LOCAL_MACHINE, recordKey, access)
	if errors.Is(err, registry.ErrNotExist) {
		return []string{`nothing to remove: no record under HKLM\` + recordKey}, nil
	}
	if err != nil {
		return nil, fmt.Errorf(`open HKLM\%s: %w`, recordKey, err)
	}
	names, err := rec.ReadValueNames(0)
	if err != nil {
		rec.Close()
		return nil, err
	}
	var done []string
	for _, name := range names {
		if _, _, err := rec.GetIntegerValue(name); err == nil {
			// An iframe DWORD: name is <browser key>\<value>.
			key := name[:len(name)-len(IframeDefaultEnabled)-1]
			if err := removeIframe(rec, key); err != nil {
				rec.Close()
				return done, err
			}
			done = append(done, `removed HKLM\`+name)
			continue
		}
		added, _, err := rec.GetStringsValue(name)
		if err != nil {
			continue
		}
		current, err := readList(name)
		if err != nil {
			rec.Close()
			return done, err
		}
		if err := writeList(name, removeAll(current, added), len(current)); err != nil {
			rec.Close()
			return done, err
		}
		if err := rec.DeleteValue(name); err != nil {
			rec.Close()
			return done, err
		}
		done = append(done, fmt.Sprintf(`removed %d entries from HKLM\%s`, len(added), name))
	}
	rec.Close()
	if err := registry.DeleteKey(registry.LOCAL_MACHINE, recordKey); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return done, err
	}
	// SOFTWARE\OrionBridge itself stays: RegDeleteKey would take its values
	// with it, and the installer may keep its own there.
	return done, nil
}

// Status reads each browser's lists.
func Status(root string, opts Options) ([]BrowserStatus, error) {
	specs, err := lists(opts)
	if err != nil {
		return nil, err
	}
	byBrowser := map[string]*BrowserStatus{}
	var order []string
	for _, l := range specs {
		s := byBrowser[l.browser]
		if s == nil {
			s = &BrowserStatus{Browser: l.browser, Where: `HKLM\` + l.key, Current: true}
			byBrowser[l.browser] = s
			order = append(order, l.browser)
		}
		got, err := readList(l.key)
		if err != nil {
			s.Note, s.Current = err.Error(), false
			continue
		}
		s.Entries = got
		has := len(l.entries) > 0
		for _, e := range l.entries {
			has = has && slices.Contains(got, e)
		}
		s.InPlace = has
		s.Current = s.Current && has
	}
	for _, c := range chromiumKeys {
		s := byBrowser[c.browser]
		k, err := registry.OpenKey(registry.LOCAL_MACHINE, c.key, registry.QUERY_VALUE|registry.WOW64_64KEY)
		if err == nil {
			v, _, err := k.GetIntegerValue(IframeDefaultEnabled)
			s.Iframe = err == nil && v == 1
			k.Close()
		}
		s.Where = `HKLM\` + c.key
	}
	var out []BrowserStatus
	for _, b := range order {
		s := *byBrowser[b]
		if !s.InPlace && s.Note == "" {
			s.Note = "not installed"
		}
		out = append(out, s)
	}
	return out, nil
}
