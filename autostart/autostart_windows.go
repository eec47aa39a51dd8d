package autostart

// Windows: the current user's Run key, which Explorer reads at logon:
//
//	HKCU\Software\Microsoft\Windows\CurrentVersion\Run
//	    "Orion Bridge" (REG_SZ) = "\"C:\…\orionbridge.exe\""
//
// When the user turns the entry off in Task Manager's Startup tab (or in
// Settings > Apps > Startup), Windows keeps the Run value and records the
// choice in
//
//	HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run
//	    "Orion Bridge" (REG_BINARY), first byte odd (03) = disabled, even (02) = enabled
//
// so status reads both, and on/off clear that record: the last switch the
// user touched wins.

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

const (
	runKeyPath      = `Software\Microsoft\Windows\CurrentVersion\Run`
	approvedKeyPath = `Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run`
	runValueName    = "Orion Bridge"
	runValueWhere   = `HKCU\` + runKeyPath + `\` + runValueName
)

func State() (on bool, where string, err error) {
	// HKCU\Software\Microsoft\Windows\CurrentVersion\Run, value "Orion Bridge".
	k, err := registry.OpenKey(registry.CURRENT_USER, runKeyPath, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, runValueWhere, nil
	}
	if err != nil {
		return false, runValueWhere, fmt.Errorf(`open HKCU\%s: %w`, runKeyPath, err)
	}
	defer k.Close()
	if _, _, err := k.GetStringValue(runValueName); errors.Is(err, registry.ErrNotExist) {
		return false, runValueWhere, nil
	} else if err != nil {
		return false, runValueWhere, fmt.Errorf("read %s: %w", runValueWhere, err)
	}
	// HKCU\…\Explorer\StartupApproved\Run, value "Orion Bridge": odd first byte = turned off by the user.
	if a, err := registry.OpenKey(registry.CURRENT_USER, approvedKeyPath, registry.QUERY_VALUE); err == nil {
		defer a.Close()
		if b, _, err := a.GetBinaryValue(runValueName); err == nil && len(b) > 0 && b[0]&1 == 1 {
			return false, runValueWhere, nil
		}
	}
	return true, runValueWhere, nil
}

// enableAutostart sets HKCU\Software\Microsoft\Windows\CurrentVersion\Run
// "Orion Bridge" = "\"<exe>\"".
func enableAutostart(exe string) (string, error) {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKeyPath, registry.SET_VALUE)
	if err != nil {
		return "", fmt.Errorf(`open HKCU\%s: %w`, runKeyPath, err)
	}
	defer k.Close()
	if err := k.SetStringValue(runValueName, runKeyValue(exe)); err != nil {
		return "", fmt.Errorf("write %s: %w", runValueWhere, err)
	}
	return runValueWhere, clearStartupApproved()
}

// disableAutostart deletes HKCU\Software\Microsoft\Windows\CurrentVersion\Run
// "Orion Bridge".
func disableAutostart() error {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKeyPath, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return clearStartupApproved()
	}
	if err != nil {
		return fmt.Errorf(`open HKCU\%s: %w`, runKeyPath, err)
	}
	defer k.Close()
	if err := k.DeleteValue(runValueName); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", runValueWhere, err)
	}
	return clearStartupApproved()
}

// clearStartupApproved deletes HKCU\Software\Microsoft\Windows\CurrentVersion\
// Explorer\StartupApproved\Run "Orion Bridge", Task Manager's record of a
// user's "Disable", so that `autostart on` means on.
func clearStartupApproved() error {
	a, err := registry.OpenKey(registry.CURRENT_USER, approvedKeyPath, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf(`open HKCU\%s: %w`, approvedKeyPath, err)
	}
	defer a.Close()
	if err := a.DeleteValue(runValueName); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf(`delete HKCU\%s\%s: %w`, approvedKeyPath, runValueName, err)
	}
	return nil
}
