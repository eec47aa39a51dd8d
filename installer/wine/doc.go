// Package wine holds the Wine check: Orion Bridge's Windows build run on
// Linux under Wine (Debian's wine and wine64), as `make wine-check` (and so
// `make test`) runs it. It builds the MSI with the Makefile's rules,
// installs it silently into a throwaway WINEPREFIX, and checks from the
// Linux side what Windows would have: the files, the registry, the managed
// configuration, the machine certificate (its CA in LocalMachine\Root, its
// keys' ACLs as Wine reports them, the renewal task, a renewal seen by a
// running bridge), the installed bridge serving a Go client and a real
// Chromium, the uninstall, the OrionBridge service
// (SERVICE=1) through Wine's service manager, and a major upgrade from an
// older MSI built in the test. It also runs some of the bridge's own tests
// as a Windows program.
//
// Its only non-Go file, testdata/processprng.c, is a stand-in for
// bcryptprimitives.dll, which Wine 8 lacks and every Go 1.22+ program
// needs; it is built by the check and copied into the throwaway prefix
// only, never shipped. Every Wine process runs with a time limit and under
// a memory bound (see harness_test.go). The README's "Testing Windows on
// Linux" lists what runs here and what only real Windows covers.
package wine
