// Package installer holds Orion Bridge's release packaging: the Windows MSI
// (windows/), the Linux deb, rpm and tarball (linux/) and the macOS app and
// pkg (macos/), which `make dist` builds. Its only Go code is the installer
// check, installer_test.go, which `make installer-check` (and so
// `make test`) runs: it builds the MSI and the deb and inspects what they
// install.
package installer
