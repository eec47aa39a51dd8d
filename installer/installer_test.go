// The check drives make, wixl, msitools and dpkg-deb, and stops its builds
// through process groups: it runs on Linux only.

//go:build linux

package installer

// The installer check: builds the MSI and the deb with the Makefile's rules
// (which reuse dist/ outputs whose inputs have not changed) and inspects
// them the way Windows Installer and dpkg will see them. It runs when
// ORIONBRIDGE_INSTALLER_CHECK=1, as `make installer-check` (and so
// `make test`) sets, because the first Windows build takes minutes: a plain
// `go test ./...` skips it. A missing tool skips it too, with the command
// that installs it, except under CI=true, where that is a failure.

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"debug/pe"
	"io/fs"
	"orionbridge/cli"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	checkEnv = "ORIONBRIDGE_INSTALLER_CHECK"
	// upgradeCode is OrionBridge.wxs's, fixed for the product's lifetime:
	// a changed one would make a new MSI install beside the old one.
	upgradeCode = "{C438D1B7-178C-49FB-8BC9-24943E136863}"
)

// tool is a program the check runs and the Debian package providing it.
type tool = testutil.Tool

var (
	toolMake     = tool{Name: "make", Deb: "make"}
	toolMingw    = tool{Name: "x86_64-w64-mingw32-gcc", Deb: "gcc-mingw-w64-x86-64"}
	toolWixl     = tool{Name: "wixl", Deb: "wixl"}
	toolMsiinfo  = tool{Name: "msiinfo", Deb: "msitools"}
	toolMsiext   = tool{Name: "msiextract", Deb: "msitools"}
	toolMsibuild = tool{Name: "msibuild", Deb: "msitools"}
	toolGCC      = tool{Name: "gcc", Deb: "gcc"}
	toolDpkgDeb  = tool{Name: "dpkg-deb", Deb: "dpkg"}
	toolShell    = tool{Name: "shellcheck", Deb: "shellcheck"}
	toolXmllint  = tool{Name: "xmllint", Deb: "libxml2-utils"}
	toolDesktop  = tool{Name: "desktop-file-validate", Deb: "desktop-file-utils"}
)

// setup gates the check and returns the repository root.
func setup(t *testing.T, tools ...tool) string {
	t.Helper()
	if os.Getenv(checkEnv) != "1" {
		// `make installer-check` (part of make test) sets it and runs this package
		// once; the generic test run leaves the package out. Under CI a
		// run without it is a mistake, never a pass.
		if os.Getenv("CI") == "true" {
			t.Fatalf("the installer check runs with %s=1: make installer-check", checkEnv)
		}
		t.Skipf("the installer check runs with %s=1: make installer-check", checkEnv)
	}
	testutil.RequireTools(t, tools...)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// version is FyneApp.toml's, read as the app reads it.
func version(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "FyneApp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := cli.ParseMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	return meta.Details.Version
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// msiTable is one table of an MSI as `msiinfo export` prints it: a line of
// column names, one of column types, one naming the table and its keys,
// then one tab-separated line per row.
type msiTable struct {
	columns []string
	rows    []map[string]string
}

func exportTable(t *testing.T, msi, name string) msiTable {
	t.Helper()
	lines := strings.Split(strings.TrimRight(run(t, "msiinfo", "export", msi, name), "\r\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("msiinfo export %s: %q", name, lines)
	}
	tab := msiTable{columns: strings.Split(strings.TrimRight(lines[0], "\r"), "\t")}
	for _, line := range lines[3:] {
		fields := strings.Split(strings.TrimRight(line, "\r"), "\t")
		row := map[string]string{}
		for i, c := range tab.columns {
			if i < len(fields) {
				row[c] = fields[i]
			}
		}
		tab.rows = append(tab.rows, row)
	}
	return tab
}

// byKey indexes rows by a column.
func (tab msiTable) byKey(col string) map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, r := range tab.rows {
		m[r[col]] = r
	}
	return m
}

// Custom action types (msidbCustomActionType*): an exe from the package's
// File table, run in the install script (deferred), as LocalSystem.
const (
	caExeFromFile    = 18
	caSetProperty    = 51
	caContinue       = 0x40
	caInScript       = 0x400
	caNoImpersonate  = 0x800
	deferredElevated = caExeFromFile | caInScript | caNoImpersonate
	compWin64        = 256 // msidbComponentAttributes64bit
)

func TestMSI(t *testing.T) {
	root := setup(t, toolMake, toolMingw, toolWixl, toolMsiinfo, toolMsiext, toolMsibuild)
	v := version(t, root)
	testutil.Make(t, root, "installer-check", "dist-msi")
	msi := filepath.Join(root, "dist", "OrionBridge-"+v+"-x64.msi")

	tables := strings.Fields(run(t, "msiinfo", "tables", msi))
	for _, want := range []string{"File", "Component", "Directory", "Feature", "Shortcut", "Registry", "CustomAction", "InstallExecuteSequence", "Property", "Upgrade", "Icon"} {
		if !slices.Contains(tables, want) {
			t.Errorf("no %s table (tables: %v)", want, tables)
		}
	}

	props := exportTable(t, msi, "Property").byKey("Property")
	prop := func(name string) string { return props[name]["Value"] }
	for name, want := range map[string]string{
		"ProductName":    "Orion Bridge",
		"ProductVersion": v,
		"Manufacturer":   "Orion Report",
		"UpgradeCode":    upgradeCode,
		"ALLUSERS":       "1", // per machine
		"ARPPRODUCTICON": "OrionBridge.exe",
	} {
		if got := prop(name); got != want {
			t.Errorf("Property %s = %q, want %q", name, got, want)
		}
	}
	// The public properties have no default (no row), and must be secure to
	// reach the custom actions from an unelevated msiexec.
	secure := strings.Split(prop("SecureCustomProperties"), ";")
	for _, p := range []string{"PORT", "ALLOWED_ORIGINS", "ENGINE_ADDRESS", "SERVICE", "GRANT_LOCAL_NETWORK", "GRANT_LOCAL_NETWORK_IFRAME", "WIX_UPGRADE_DETECTED"} {
		if !slices.Contains(secure, p) {
			t.Errorf("SecureCustomProperties %v lacks %s", secure, p)
		}
	}

	dirs := exportTable(t, msi, "Directory").byKey("Directory")
	if d := dirs["INSTALLDIR"]; d["Directory_Parent"] != "ProgramFiles64Folder" || !strings.HasSuffix(d["DefaultDir"], "Orion Bridge") {
		t.Errorf("INSTALLDIR = %v, want Orion Bridge in ProgramFiles64Folder", d)
	}

	comps := exportTable(t, msi, "Component").byKey("Component")
	for name, c := range comps {
		attr, _ := strconv.Atoi(c["Attributes"])
		if attr&compWin64 == 0 {
			t.Errorf("component %s is not 64-bit (Attributes %s): its registry values would land in WOW6432Node", name, c["Attributes"])
		}
	}

	// Two files, each the key of its own component in INSTALLDIR, both in
	// the feature Main: the tray app, and the headless build that the
	// service runs (`service install` registers it when it is beside
	// orionbridge.exe).
	files := exportTable(t, msi, "File")
	if len(files.rows) != 2 {
		t.Errorf("File rows %v, want orionbridge.exe and orionbridge-headless.exe", files.rows)
	}
	featureOf := exportTable(t, msi, "FeatureComponents").byKey("Component_")
	for id, name := range map[string]string{"OrionBridgeExe": "orionbridge.exe", "OrionBridgeHeadlessExe": "orionbridge-headless.exe"} {
		f, c := files.byKey("File")[id], comps[id]
		if f["FileName"] != name || f["Component_"] != id || c["Directory_"] != "INSTALLDIR" || c["KeyPath"] != id {
			t.Errorf("File %s = %v in component %v, want %s, the key of its own component in INSTALLDIR", id, f, c, name)
		}
		if got := featureOf[id]["Feature_"]; got != "Main" {
			t.Errorf("component %s belongs to %q, want Main", id, got)
		}
	}

	sc := exportTable(t, msi, "Shortcut").byKey("Shortcut")["StartMenuShortcut"]
	if sc["Directory_"] != "ProgramMenuFolder" || sc["Name"] != "Orion Bridge" || sc["Component_"] != "OrionBridgeExe" ||
		sc["Target"] != "Main" || sc["Icon_"] != "OrionBridge.exe" || sc["WkDir"] != "INSTALLDIR" {
		t.Errorf("Start Menu shortcut = %v", sc)
	}

	var runKey map[string]string
	for _, r := range exportTable(t, msi, "Registry").rows {
		if r["Key"] == `Software\Microsoft\Windows\CurrentVersion\Run` {
			runKey = r
		}
	}
	switch {
	case runKey == nil:
		t.Error("no Run key in the Registry table")
	case runKey["Root"] != "2" || runKey["Name"] != "Orion Bridge" || runKey["Value"] != `"[INSTALLDIR]orionbridge.exe" --at-login`:
		// Root 2 is HKLM: every user's sign-in; the path is quoted because
		// Windows splits an unquoted command line at "Program Files".
		t.Errorf("Run value = %v, want HKLM (2) \"Orion Bridge\" = \"[INSTALLDIR]orionbridge.exe\" --at-login, the path quoted", runKey)
	}

	features := exportTable(t, msi, "Feature").byKey("Feature")
	if f := features["Main"]; f["Level"] != "1" {
		t.Errorf("feature Main = %v, want level 1", f)
	}
	if f := features["Service"]; f["Feature_Parent"] != "Main" || f["Level"] != "1000" {
		t.Errorf("feature Service = %v, want off by default (level 1000) under Main", f)
	}
	if got := featureOf["ServiceMarker"]["Feature_"]; got != "Service" {
		t.Errorf("ServiceMarker belongs to %q, want Service", got)
	}

	// Each custom action: its type, its exe and its command line.
	cas := exportTable(t, msi, "CustomAction").byKey("Action")
	for name, want := range map[string]struct {
		typ            int
		source, target string
	}{
		"WriteManagedConfig":  {deferredElevated, "OrionBridgeExe", `config write-managed --port "[PORT]" --allowed-origins "[ALLOWED_ORIGINS]" --engine-address "[ENGINE_ADDRESS]"`},
		"CertsInstall":        {deferredElevated, "OrionBridgeExe", "certs machine install"},
		"ServiceClear":        {deferredElevated | caContinue, "OrionBridgeExe", "service uninstall --system"},
		"ServiceInstall":      {deferredElevated, "OrionBridgeExe", "service install --system"},
		"ServiceStart":        {deferredElevated, "OrionBridgeExe", "service start --system"},
		"ServiceUninstall":    {deferredElevated | caContinue, "OrionBridgeExe", "service uninstall --system"},
		"CertsUninstall":      {deferredElevated | caContinue, "OrionBridgeExe", "certs machine uninstall"},
		"PolicyInstall":       {deferredElevated, "OrionBridgeExe", "policy install"},
		"PolicyInstallIframe": {deferredElevated, "OrionBridgeExe", "policy install --iframe"},
		"PolicyUninstall":     {deferredElevated | caContinue, "OrionBridgeExe", "policy uninstall"},
		"SelectService":       {caSetProperty, "INSTALLLEVEL", "1000"},
	} {
		ca, ok := cas[name]
		if !ok {
			t.Errorf("no custom action %s", name)
			continue
		}
		if typ, _ := strconv.Atoi(ca["Type"]); typ != want.typ || ca["Source"] != want.source || ca["Target"] != want.target {
			t.Errorf("custom action %s = type %s %q %q, want type %d %q %q", name, ca["Type"], ca["Source"], ca["Target"], want.typ, want.source, want.target)
		}
	}
	if len(cas) != 11 {
		t.Errorf("%d custom actions, want 11: %v", len(cas), cas)
	}

	// When each runs: installing ones after InstallFiles (the exe is there),
	// removing ones before RemoveFiles (it still is), all inside the script.
	seq := exportTable(t, msi, "InstallExecuteSequence").byKey("Action")
	at := func(action string) int {
		n, err := strconv.Atoi(seq[action]["Sequence"])
		if err != nil {
			t.Fatalf("InstallExecuteSequence has no %s", action)
		}
		return n
	}
	between := func(action, after, before, cond string) {
		if n := at(action); n <= at(after) || n >= at(before) {
			t.Errorf("%s at %d, want between %s (%d) and %s (%d)", action, n, after, at(after), before, at(before))
		}
		if got := seq[action]["Condition"]; got != cond {
			t.Errorf("%s runs when %q, want %q", action, got, cond)
		}
	}
	between("WriteManagedConfig", "InstallFiles", "InstallFinalize", `NOT REMOVE~="ALL"`)
	between("CertsInstall", "InstallFiles", "InstallFinalize", "NOT Installed")
	for _, a := range []string{"ServiceClear", "ServiceInstall", "ServiceStart"} {
		between(a, "InstallFiles", "InstallFinalize", "&Service=3 AND NOT !Service=3")
	}
	if !(at("ServiceClear") < at("ServiceInstall") && at("ServiceInstall") < at("ServiceStart") && at("WriteManagedConfig") < at("ServiceStart")) {
		t.Error("the service is not cleared, installed, then started after the managed config is written")
	}
	// A bridge picks its certificate when it starts: the service must find
	// the machine certificate in place (#15).
	if at("CertsInstall") > at("ServiceStart") {
		t.Errorf("ServiceStart (%d) runs before CertsInstall (%d): the service would serve its own CA, which nothing trusts", at("ServiceStart"), at("CertsInstall"))
	}
	between("ServiceUninstall", "InstallInitialize", "RemoveFiles", "(!Service=3 OR !Service=4) AND &Service=2")
	between("CertsUninstall", "InstallInitialize", "RemoveFiles", `REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE`)
	// The browser policy: off unless GRANT_LOCAL_NETWORK=1, after the
	// managed config whose allowed_origins it approves; removed at every
	// uninstall (its record says what is ours), kept through an upgrade.
	between("PolicyInstall", "WriteManagedConfig", "CertsInstall", `GRANT_LOCAL_NETWORK="1" AND NOT GRANT_LOCAL_NETWORK_IFRAME="1" AND NOT REMOVE~="ALL"`)
	between("PolicyInstallIframe", "WriteManagedConfig", "CertsInstall", `GRANT_LOCAL_NETWORK="1" AND GRANT_LOCAL_NETWORK_IFRAME="1" AND NOT REMOVE~="ALL"`)
	between("PolicyUninstall", "InstallInitialize", "RemoveFiles", `REMOVE~="ALL" AND NOT UPGRADINGPRODUCTCODE`)
	between("SelectService", "FileCost", "CostFinalize", `SERVICE="1" AND NOT Installed`)
	// MajorUpgrade: the older product goes before this one installs.
	between("RemoveExistingProducts", "InstallValidate", "InstallInitialize", "")
	var upgrades []string
	for _, r := range exportTable(t, msi, "Upgrade").rows {
		if r["UpgradeCode"] == upgradeCode {
			upgrades = append(upgrades, r["ActionProperty"])
		}
	}
	if !slices.Contains(upgrades, "WIX_UPGRADE_DETECTED") {
		t.Errorf("Upgrade rows for %s: %v, want WIX_UPGRADE_DETECTED", upgradeCode, upgrades)
	}

	// The icon of the shortcut and of Apps & Features: a small PE with the
	// icon resources, not a second copy of the 28 MB exe.
	icon := run(t, "msiinfo", "extract", msi, "Icon.OrionBridge.exe")
	if f, err := pe.NewFile(strings.NewReader(icon)); err != nil {
		t.Errorf("Icon OrionBridge.exe is not a PE file: %v", err)
	} else if res, err := peResources(f); err != nil || len(res[rtGroupIcon]) == 0 || len(icon) > 1<<20 {
		t.Errorf("Icon OrionBridge.exe: %d bytes, resources %v (%v); want a small PE with an icon", len(icon), len(res), err)
	}

	// What the MSI installs: the exes just built; the tray app a 64-bit GUI
	// program carrying its version, the headless build a cgo-free one.
	dir := t.TempDir()
	run(t, "msiextract", "-C", dir, msi)
	var extracted []string
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			extracted = append(extracted, filepath.ToSlash(rel))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// msiextract names ProgramFiles64Folder by nothing: INSTALLDIR is
	// "Orion Bridge".
	const exePath, headlessPath = "Orion Bridge/orionbridge.exe", "Orion Bridge/orionbridge-headless.exe"
	if !slices.Equal(extracted, []string{headlessPath, exePath}) { // in WalkDir's lexical order
		t.Fatalf("msiextract: %v, want %s and %s", extracted, exePath, headlessPath)
	}
	for _, p := range []string{exePath, headlessPath} {
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		built, err := os.ReadFile(filepath.Join(root, "dist", "windows", filepath.Base(p)))
		if err != nil || !bytes.Equal(got, built) {
			t.Errorf("the MSI's %s differs from dist/windows/%[1]s (%v)", filepath.Base(p), err)
		}
	}
	checkWindowsExe(t, filepath.Join(dir, exePath), v)
	checkGoBuild(t, filepath.Join(dir, exePath), map[string]string{"GOOS": "windows", "CGO_ENABLED": "1", "-tags": "no_emoji", "-trimpath": "true"})
	checkGoBuild(t, filepath.Join(dir, headlessPath), headlessBuild("windows"))
	// A console program: typed in a console, its commands print there.
	if f, err := pe.Open(filepath.Join(dir, headlessPath)); err != nil {
		t.Error(err)
	} else {
		oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
		if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 || !ok || oh.Subsystem != pe.IMAGE_SUBSYSTEM_WINDOWS_CUI {
			t.Errorf("orionbridge-headless.exe: machine %#x, optional header %T, want a PE32+ AMD64 console program", f.Machine, f.OptionalHeader)
		}
		f.Close()
	}
}

// headlessBuild is how orionbridge-headless is built for goos: without
// cgo, without the tray, with the release flags (Go records no -ldflags
// with -trimpath).
func headlessBuild(goos string) map[string]string {
	return map[string]string{"GOOS": goos, "GOARCH": "amd64", "CGO_ENABLED": "0", "-tags": "headless", "-trimpath": "true"}
}

// checkGoBuild compares a Go binary's build settings, as `go version -m`
// prints them, with want.
func checkGoBuild(t *testing.T, path string, want map[string]string) {
	t.Helper()
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	got := map[string]string{}
	for _, s := range info.Settings {
		got[s.Key] = s.Value
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: build setting %s=%q, want %q (all: %v)", filepath.Base(path), k, got[k], w, got)
		}
	}
}

// checkWindowsExe: PE32+ for x86-64, GUI subsystem (no console window), with
// an icon, a manifest and a version resource naming v.
func checkWindowsExe(t *testing.T, path, v string) {
	t.Helper()
	f, err := pe.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
		t.Errorf("machine %#x, want AMD64", f.Machine)
	}
	oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	if !ok {
		t.Fatalf("optional header %T, want PE32+", f.OptionalHeader)
	}
	if oh.Subsystem != pe.IMAGE_SUBSYSTEM_WINDOWS_GUI {
		t.Errorf("subsystem %d, want %d (GUI): a console window would open with the tray app", oh.Subsystem, pe.IMAGE_SUBSYSTEM_WINDOWS_GUI)
	}
	res, err := peResources(f)
	if err != nil {
		t.Fatal(err)
	}
	for typ, what := range map[uint32]string{rtGroupIcon: "icon", rtManifest: "manifest", rtVersion: "version"} {
		if len(res[typ]) == 0 {
			t.Errorf("no %s resource", what)
		}
	}
	info, err := parseVersionInfo(res[rtVersion])
	if err != nil {
		t.Fatalf("version resource: %v", err)
	}
	t.Logf("version resource: %+v", info)
	var want [4]uint16
	for i, s := range strings.SplitN(v, ".", 4) {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			t.Fatalf("version %q: %v", v, err)
		}
		want[i] = uint16(n)
	}
	if info.FileVersion != want || info.ProductVersion != want {
		t.Errorf("fixed file/product version %v/%v, want %v", info.FileVersion, info.ProductVersion, want)
	}
	for k, w := range map[string]string{"ProductName": "Orion Bridge", "OriginalFilename": "orionbridge.exe"} {
		if info.Strings[k] != w {
			t.Errorf("version string %s = %q, want %q", k, info.Strings[k], w)
		}
	}
	for _, k := range []string{"FileVersion", "ProductVersion"} {
		if s := info.Strings[k]; s != v && !strings.HasPrefix(s, v+".") {
			t.Errorf("version string %s = %q, want %s", k, s, v)
		}
	}
	// The manifest go-winres writes for --manifest gui: per-monitor DPI
	// awareness, so Fyne draws sharp on scaled displays, and asInvoker, so
	// the tray app starts without a UAC prompt.
	m := strings.ToLower(string(res[rtManifest]))
	if !strings.Contains(m, "permonitorv2") || !strings.Contains(m, `level="asinvoker"`) {
		t.Errorf("manifest without per-monitor DPI awareness or asInvoker:\n%s", res[rtManifest])
	}
}

// debDepends maps each shared library the binary may link to the Debian
// package that ships it; a library missing here fails the check until its
// package is added to installer/linux/nfpm.yaml (and this map).
var debDepends = map[string]string{
	"libc.so.6": "libc6", "libm.so.6": "libc6", "libdl.so.2": "libc6", "libpthread.so.0": "libc6", "librt.so.1": "libc6",
	"libGL.so.1":       "libgl1",
	"libX11.so.6":      "libx11-6",
	"libXcursor.so.1":  "libxcursor1",
	"libXrandr.so.2":   "libxrandr2",
	"libXinerama.so.1": "libxinerama1",
	"libXi.so.6":       "libxi6",
	"libXxf86vm.so.1":  "libxxf86vm1",
}

func TestDeb(t *testing.T) {
	root := setup(t, toolMake, toolGCC, toolDpkgDeb)
	v := version(t, root)
	testutil.Make(t, root, "installer-check", "dist-deb")
	deb := filepath.Join(root, "dist", "orionbridge_"+v+"_amd64.deb")

	field := func(name string) string {
		return strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, name))
	}
	for name, want := range map[string]string{"Package": "orionbridge", "Version": v, "Architecture": "amd64", "Section": "net"} {
		if got := field(name); got != want {
			t.Errorf("control %s = %q, want %q", name, got, want)
		}
	}
	var depends []string
	for _, d := range strings.Split(field("Depends"), ",") {
		depends = append(depends, strings.Fields(d)[0]) // without version constraints
	}
	for _, want := range []string{"libc6", "libgl1", "libx11-6", "libxcursor1", "libxrandr2", "libxinerama1", "libxi6", "libxxf86vm1"} {
		if !slices.Contains(depends, want) {
			t.Errorf("Depends %v lacks %s", depends, want)
		}
	}

	// Contents: path → mode.
	contents := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "--contents", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && !strings.HasSuffix(f[5], "/") {
			contents[strings.TrimPrefix(f[5], ".")] = f[0]
		}
	}
	wantContents := map[string]string{
		"/usr/bin/orionbridge":                                   "-rwxr-xr-x",
		"/usr/bin/orionbridge-headless":                          "-rwxr-xr-x",
		"/usr/share/applications/orionbridge.desktop":            "-rw-r--r--",
		"/etc/xdg/autostart/orionbridge.desktop":                 "-rw-r--r--",
		"/usr/share/icons/hicolor/512x512/apps/orionbridge.png":  "-rw-r--r--",
		"/usr/share/icons/hicolor/scalable/apps/orionbridge.svg": "-rw-r--r--",
		"/usr/lib/systemd/user/orionbridge.service":              "-rw-r--r--",
		"/usr/share/doc/orionbridge/README.md":                   "-rw-r--r--",
		"/usr/lib/systemd/system/orionbridge-renew.service":      "-rw-r--r--",
		"/usr/lib/systemd/system/orionbridge-renew.timer":        "-rw-r--r--",
		"/usr/lib/tmpfiles.d/orionbridge.conf":                   "-rw-r--r--",
	}
	for path, mode := range wantContents {
		if got, ok := contents[path]; !ok || got != mode {
			t.Errorf("%s: %q, want %s (contents: %v)", path, got, mode, contents)
		}
	}
	if len(contents) != len(wantContents) {
		t.Errorf("%d files, want %d: %v", len(contents), len(wantContents), contents)
	}
	if got := strings.TrimSpace(run(t, "dpkg-deb", "--info", deb, "conffiles")); got != "/etc/xdg/autostart/orionbridge.desktop" {
		t.Errorf("conffiles %q, want the autostart entry only", got)
	}

	// Unpacked: the files say what they should, and the binary runs.
	dir := t.TempDir()
	run(t, "dpkg-deb", "--extract", deb, dir)
	read := func(p string) string {
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	for p, lines := range map[string][]string{
		"usr/share/applications/orionbridge.desktop": {"Type=Application", "Exec=orionbridge --dashboard", "Icon=orionbridge", "Terminal=false"},
		"etc/xdg/autostart/orionbridge.desktop":      {"Exec=/usr/bin/orionbridge", "TryExec=/usr/bin/orionbridge", "Icon=orionbridge"},
		// The unit runs the headless build: no GUI libraries, less memory.
		"usr/lib/systemd/user/orionbridge.service": {"ExecStart=/usr/bin/orionbridge-headless run",
			"ConditionFileIsExecutable=/usr/bin/orionbridge-headless", "WantedBy=default.target"},
		// The machine certificate's renewal, as root, daily (TestDebMachineCertificate runs its ExecStart).
		"usr/lib/systemd/system/orionbridge-renew.service": {"Type=oneshot", "ExecStart=/usr/bin/orionbridge-headless certs machine renew"},
		"usr/lib/systemd/system/orionbridge-renew.timer":   {"OnCalendar=daily", "Persistent=true", "WantedBy=timers.target"},
	} {
		content := read(p)
		for _, l := range lines {
			if !slices.Contains(strings.Split(content, "\n"), l) {
				t.Errorf("%s lacks the line %q:\n%s", p, l, content)
			}
		}
	}
	bin := filepath.Join(dir, "usr", "bin", "orionbridge")
	headless := filepath.Join(dir, "usr", "bin", "orionbridge-headless")
	for _, b := range []string{bin, headless} {
		if out := run(t, b, "version"); out != "orionbridge "+v+"\n" {
			t.Errorf("%s version: %q, want %q", filepath.Base(b), out, "orionbridge "+v)
		}
	}
	checkGoBuild(t, bin, map[string]string{"GOOS": "linux", "CGO_ENABLED": "1", "-tags": "no_emoji", "-trimpath": "true"})
	checkGoBuild(t, headless, headlessBuild("linux"))
	// The headless build is static: no interpreter, no shared library, so
	// it runs on a server without the GUI libraries (or any libc).
	if f, err := elf.Open(headless); err != nil {
		t.Error(err)
	} else {
		libs, err := f.ImportedLibraries()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("orionbridge-headless has a %v program header: dynamically linked", p.Type)
			}
		}
		if err != nil || len(libs) > 0 {
			t.Errorf("orionbridge-headless links %v (%v), want nothing", libs, err)
		}
		f.Close()
	}
	for _, b := range []string{"orionbridge", "orionbridge-headless"} {
		got, err := os.ReadFile(filepath.Join(dir, "usr", "bin", b))
		if err != nil {
			t.Fatal(err)
		}
		if built, err := os.ReadFile(filepath.Join(root, "dist", "linux", b)); err != nil || !bytes.Equal(got, built) {
			t.Errorf("the deb's %s differs from dist/linux/%[1]s (%v)", b, err)
		}
	}

	// Every library the binary links comes from a declared dependency, for
	// the deb and (as a soname) the rpm.
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile(filepath.Join(root, "installer", "linux", "nfpm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range libs {
		pkg, ok := debDepends[lib]
		switch {
		case !ok:
			t.Errorf("the binary links %s, which no declared dependency provides: add its package to installer/linux/nfpm.yaml and debDepends", lib)
		case !slices.Contains(depends, pkg):
			t.Errorf("the binary links %s, but Depends lacks %s", lib, pkg)
		case pkg != "libc6" && !bytes.Contains(spec, []byte("- "+lib+"()(64bit)")):
			t.Errorf("the binary links %s, but the rpm does not depend on %s()(64bit)", lib, lib)
		}
	}
}

// TestScripts checks what cannot run here: the macOS scripts and plists,
// and the Linux maintainer scripts and desktop entries, with shellcheck,
// bash -n, xmllint and desktop-file-validate.
func TestScripts(t *testing.T) {
	root := setup(t, toolShell, toolXmllint, toolDesktop)
	in := func(p string) string { return filepath.Join(root, "installer", p) }
	scripts := []string{
		"linux/postinst.sh", "linux/prerm.sh", "linux/postrm.sh",
		"windows/build-exe.sh", "windows/build-msi.sh", "windows/sign.sh",
		"macos/build-app.sh", "macos/build-pkg.sh", "macos/uninstall.sh",
		"macos/scripts/preinstall", "macos/scripts/postinstall",
	}
	for _, s := range scripts {
		run(t, "shellcheck", in(s))
		shell := "bash"
		if strings.HasPrefix(s, "linux/") {
			shell = "sh" // nfpm's maintainer scripts run under /bin/sh
		}
		run(t, shell, "-n", in(s))
		if st, err := os.Stat(in(s)); err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable (%v)", s, err)
		}
	}
	for _, d := range []string{"linux/orionbridge.desktop", "linux/orionbridge-autostart.desktop"} {
		// Errors fail; hints and warnings print, as the log shows.
		if out := run(t, "desktop-file-validate", in(d)); out != "" {
			t.Logf("desktop-file-validate %s:\n%s", d, out)
		}
	}
	xmls := []string{"macos/Info.plist", "macos/com.orionreport.bridge.plist", "macos/com.orionreport.bridge.renew.plist", "macos/distribution.xml", "windows/OrionBridge.wxs"}
	for _, x := range xmls {
		run(t, "xmllint", "--noout", in(x))
	}
	// The menu bar app: LSUIElement true, so no Dock icon.
	plist := run(t, "xmllint", "--xpath", "//key[.='LSUIElement']/following-sibling::*[1]", in("macos/Info.plist"))
	if strings.TrimSpace(plist) != "<true/>" {
		t.Errorf("Info.plist LSUIElement = %q, want <true/>", plist)
	}
	agent := run(t, "xmllint", "--xpath", "string(//key[.='ProgramArguments']/following-sibling::array[1]/string[1])", in("macos/com.orionreport.bridge.plist"))
	if agent = strings.TrimSpace(agent); agent != "/Applications/Orion Bridge.app/Contents/MacOS/orionbridge" {
		t.Errorf("LaunchAgent runs %q", agent)
	}
	// The renewal LaunchDaemon: the headless build's `certs machine renew`.
	renew := run(t, "xmllint", "--xpath", "//key[.='ProgramArguments']/following-sibling::array[1]/string/text()", in("macos/com.orionreport.bridge.renew.plist"))
	want := []string{"/Applications/Orion Bridge.app/Contents/MacOS/orionbridge-headless", "certs", "machine", "renew"}
	if got := strings.Split(strings.TrimSpace(renew), "\n"); !slices.Equal(got, want) {
		t.Errorf("renewal LaunchDaemon runs %q, want %q", got, want)
	}
}
