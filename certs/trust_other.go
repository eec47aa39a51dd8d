//go:build !linux && !darwin && !windows

package certs

import (
	"fmt"
	"runtime"
)

// Other Unix systems (the BSDs): browsers' NSS databases only.

const certutilHelp = "install the nss package"

var nssLocations = []nssLocation{{name: "Chrome/Chromium (NSS)", dir: ".pki/nssdb", create: true}}

var firefoxRoots = []string{".mozilla/firefox"}

func storesFor(scope Scope) ([]trustStore, error) {
	if scope == ScopeSystem {
		return nil, fmt.Errorf("system scope is not supported on %s: use --scope user, or add ca.pem to the system store by hand", runtime.GOOS)
	}
	acct, err := invokingAccount()
	if err != nil {
		return nil, err
	}
	return nssStores(acct), nil
}

func allStores() []trustStore {
	acct, err := invokingAccount()
	if err != nil {
		return nil
	}
	return nssStores(acct)
}

func machineStores() []trustStore { return nil }
