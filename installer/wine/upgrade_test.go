//go:build linux

package wine

// The major upgrade under Wine: an older MSI, built here from marked copies
// of the exes, installed with IT's properties, then this MSI over it; and
// the older one refused over the newer.

import (
	"context"
	"errors"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

const (
	// upgradeCode is OrionBridge.wxs's Product/@UpgradeCode.
	upgradeCode  = "C438D1B7-178C-49FB-8BC9-24943E136863"
	uninstallKey = `HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall`
	productsKey  = `HKLM\Software\Classes\Installer\Products`
	upgradesKey  = `HKLM\Software\Classes\Installer\UpgradeCodes`
	// olderVersion is the version of the MSI built to be upgraded.
	olderVersion = "0.0.1"
	// olderMark ends every exe of the older MSI, so that the upgrade's
	// files can be told from the older ones byte for byte. Data after a PE
	// image is an overlay the loader ignores: the marked exes still run
	// (the older MSI's custom actions run them).
	olderMark = "\nORIONBRIDGE-WINE-CHECK-OLDER-BUILD\n"
	// errInstallFailure is msiexec's exit status for a failed install
	// (ERROR_INSTALL_FAILURE), which a false LaunchCondition gives.
	errInstallFailure = 1603
)

// squished is a GUID as Windows Installer names its registry keys: the
// first three groups reversed, each byte of the rest nibble-swapped.
func squished(guid string) string {
	g := strings.ToUpper(strings.Trim(guid, "{}"))
	parts := strings.Split(g, "-")
	reverse := func(s string) string {
		r := []byte(s)
		slices.Reverse(r)
		return string(r)
	}
	var b strings.Builder
	for _, part := range parts[:3] {
		b.WriteString(reverse(part))
	}
	rest := parts[3] + parts[4]
	for i := 0; i+1 < len(rest); i += 2 {
		b.WriteByte(rest[i+1])
		b.WriteByte(rest[i])
	}
	return b.String()
}

func TestSquished(t *testing.T) {
	// The example of the Windows Installer documentation's format, as
	// Wine's msi (squash_guid) writes it.
	if got, want := squished("{"+upgradeCode+"}"), "7B1D834CC871BF94B89C4249E3318636"; got != want {
		t.Errorf("squished(%s) = %s, want %s", upgradeCode, got, want)
	}
}

// olderMSI builds OrionBridge-<olderVersion>-x64.msi with
// installer/windows/build-msi.sh from copies of the exes beside msi (in
// windows/), each ending in olderMark, and returns its path and the marked
// orionbridge-headless.exe. wixl takes relative paths only, so the copies
// live in a folder under dist/, removed at the end.
func olderMSI(t *testing.T, root, msi string) (older, markedHeadless string) {
	t.Helper()
	dir, err := os.MkdirTemp(filepath.Join(root, "dist"), "wine-older-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	exes := filepath.Join(dir, "windows")
	if err := os.Mkdir(exes, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"orionbridge.exe", "orionbridge-headless.exe", "orionbridge-icon.exe"} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(msi), "windows", name))
		if err != nil {
			t.Fatalf("the built exes: %v", err)
		}
		if err := os.WriteFile(filepath.Join(exes, name), append(data, olderMark...), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	out := filepath.Join(rel, "OrionBridge-"+olderVersion+"-x64.msi")
	cmd := exec.CommandContext(ctx, "installer/windows/build-msi.sh", olderVersion, filepath.Join(rel, "windows"), out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("installer/windows/build-msi.sh %s %s/windows %s: %v\n%s", olderVersion, rel, out, err, b)
	}
	return filepath.Join(root, out), filepath.Join(exes, "orionbridge-headless.exe")
}

// product is one installed product, as Windows Installer records it.
type product struct{ code, name, version string }

// orionProducts lists the installed products named Orion Bridge from the
// three places Windows Installer (and Wine's msi) records one: the
// Uninstall key (Apps & Features: {ProductCode} with DisplayName,
// DisplayVersion), Installer\Products (squished code, ProductName) and
// Installer\UpgradeCodes (a value per squished product code under the
// squished UpgradeCode). The three must agree.
func orionProducts(t *testing.T, p *prefix) []product {
	t.Helper()
	var uninstall []product
	var squishedCodes []string
	for _, code := range p.regSubkeys(uninstallKey) {
		name, _ := p.regQuery(uninstallKey+`\`+code, "DisplayName")
		if name != "Orion Bridge" {
			continue
		}
		version, _ := p.regQuery(uninstallKey+`\`+code, "DisplayVersion")
		uninstall = append(uninstall, product{code, name, version})
		squishedCodes = append(squishedCodes, squished(code))
	}
	var published []string
	for _, sq := range p.regSubkeys(productsKey) {
		if name, _ := p.regQuery(productsKey+`\`+sq, "ProductName"); name == "Orion Bridge" {
			published = append(published, sq)
		}
	}
	related := p.regValueNames(upgradesKey + `\` + squished(upgradeCode))
	for _, list := range [][]string{squishedCodes, published, related} {
		slices.Sort(list)
	}
	if !slices.Equal(squishedCodes, published) || !slices.Equal(squishedCodes, related) {
		t.Errorf("the product records disagree: Uninstall %v (squished %v), Installer\\Products %v, Installer\\UpgradeCodes %v",
			uninstall, squishedCodes, published, related)
	}
	return uninstall
}

// TestMSIUpgrade installs an older MSI with IT's properties, then this one
// with none: one product remains, at this version, with this build's
// files, the managed config is kept and a machine CA is trusted. Then the
// older MSI is refused over the newer one (MajorUpgrade's downgrade check,
// which wixl writes as the LaunchCondition NOT WIX_DOWNGRADE_DETECTED).
func TestMSIUpgrade(t *testing.T) {
	root, msi := builtMSI(t)
	if msiBuild.version == olderVersion {
		t.Fatalf("FyneApp.toml's version is %s, the older MSI's: raise olderVersion's counterpart", olderVersion)
	}
	older, markedHeadless := olderMSI(t, root, msi)
	port := testutil.FreePort(t)

	p := newPrefix(t, "")
	copyFile(t, older, p.path(`C:\Older.msi`))
	copyFile(t, msi, p.path(`C:\OrionBridge.msi`))
	p.msiexec(t, "older.log", "/i", `C:\Older.msi`,
		"PORT="+strconv.Itoa(port), "ALLOWED_ORIGINS=https://shop.example.com")

	onlyProduct := func(t *testing.T, version string) {
		t.Helper()
		got := orionProducts(t, p)
		if len(got) != 1 || got[0].version != version {
			t.Fatalf("installed Orion Bridge products: %+v; want exactly one, version %s", got, version)
		}
	}
	t.Run("older installed", func(t *testing.T) {
		onlyProduct(t, olderVersion)
		sameFile(t, p.path(headless), markedHeadless)
	})
	_, thumb := caOf(t, p)

	// The upgrade's `certs machine install` loads the machine CA's key.
	p.machineKeyAsWindowsKeepsIt(t)
	p.msiexec(t, "upgrade.log", "/i", `C:\OrionBridge.msi`)
	upgraded := func(t *testing.T) {
		t.Helper()
		onlyProduct(t, msiBuild.version)
		built := filepath.Join(filepath.Dir(msi), "windows")
		sameFile(t, p.path(installDir+`\orionbridge.exe`), filepath.Join(built, "orionbridge.exe"))
		sameFile(t, p.path(headless), filepath.Join(built, "orionbridge-headless.exe"))
		if v, ok := p.regQuery(runKey, "Orion Bridge"); !ok || v != `"`+installDir+`\orionbridge.exe" --at-login` {
			t.Errorf(`%s "Orion Bridge" = %q (exists %v), want "%s\orionbridge.exe" --at-login, the path in quotes`, runKey, v, ok, installDir)
		}
		if _, ok := startMenuShortcut(p); !ok {
			t.Error("no Start Menu shortcut Orion Bridge.lnk")
		}
		var cfg struct {
			Port           int      `toml:"port"`
			AllowedOrigins []string `toml:"allowed_origins"`
		}
		data, err := os.ReadFile(p.path(managed))
		if err != nil {
			t.Fatalf("the managed config: %v", err)
		}
		if err := toml.Unmarshal(data, &cfg); err != nil {
			t.Fatalf("%s: %v\n%s", managed, err, data)
		}
		if cfg.Port != port || !slices.Equal(cfg.AllowedOrigins, []string{"https://shop.example.com"}) {
			t.Errorf("%s after the upgrade:\n%s\nwant the older install's port %d and allowed_origins [https://shop.example.com] kept", managed, data, port)
		}
		// The machine certificate stays trusted through the upgrade. On
		// Windows the older package's CertsUninstall is skipped
		// (UPGRADINGPRODUCTCODE is set) and the CA is the same one. Wine
		// 8's msi runs it (its removal of the older product runs every
		// `NOT UPGRADINGPRODUCTCODE` action: docs/wine-findings.md), so
		// the new install makes a new CA. Either way: the CA in place now
		// is trusted, and one it replaced is not left trusted.
		_, now := caOf(t, p)
		if !p.regKeyExists(rootCerts + `\` + now) {
			t.Errorf("the machine CA (SHA-1 %s) is not in LocalMachine\\Root after the upgrade", now)
		}
		if now != thumb && p.regKeyExists(rootCerts+`\`+thumb) {
			t.Errorf("the older install's CA (SHA-1 %s) is still in LocalMachine\\Root beside the new one %s", thumb, now)
		}
		t.Logf("machine CA before the upgrade %s, after %s (kept: %v)", thumb, now, now == thumb)
	}
	t.Run("upgraded", upgraded)

	t.Run("older refused over newer", func(t *testing.T) {
		out, err := p.msiexecErr("downgrade.log", "/i", `C:\Older.msi`)
		// A Windows exit status reaches Linux as its low 8 bits.
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != errInstallFailure&0xff {
			t.Errorf("msiexec /i the older MSI over the newer: %v\n%s\nwant exit status %d (ERROR_INSTALL_FAILURE %d)", err, out, errInstallFailure&0xff, errInstallFailure)
		}
		// FindRelatedProducts sets WIX_DOWNGRADE_DETECTED (the Upgrade
		// row OnlyDetect, from this version up), and the LaunchCondition
		// NOT WIX_DOWNGRADE_DETECTED fails: Wine 8 logs a failed action's
		// "Return value" as 0, where Windows logs 3. (Wine's verbose log
		// does not hold the DowngradeErrorMessage text under /qn.)
		log := p.msiLog("downgrade.log")
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`Property\(S\): WIX_DOWNGRADE_DETECTED = \{[0-9A-F-]{36}\}`),
			regexp.MustCompile(`LaunchConditions\. Return value [03]\.`),
		} {
			if !want.MatchString(log) {
				var related []string
				for line := range strings.SplitSeq(log, "\n") {
					if strings.Contains(line, "DOWNGRADE") || strings.Contains(line, "LaunchCondition") || strings.Contains(line, "FindRelated") || strings.Contains(line, "newer") {
						related = append(related, line)
					}
				}
				t.Errorf("downgrade.log has no line matching %s; its lines about the check:\n%s", want, strings.Join(related, "\n"))
			}
		}
		// Nothing changed.
		upgraded(t)
	})
}
