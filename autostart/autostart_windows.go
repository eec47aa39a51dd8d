package autostart

// Windows: two Run values of one name, which Explorer runs at sign-in:
//
//	HKLM\Software\Microsoft\Windows\CurrentVersion\Run
//	    "Orion Bridge" (REG_SZ): the MSI's, for every user (OrionBridge.wxs)
//	HKCU\Software\Microsoft\Windows\CurrentVersion\Run
//	    "Orion Bridge" (REG_SZ) = "\"C:\…\orionbridge.exe\" --at-login": the user's own
//
// and, per Run key, Task Manager's and Settings' on/off switch, which
// leaves the Run value in place and records the choice in
//
//	HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run
//	HKLM\Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run
//	    "Orion Bridge" (REG_BINARY), first byte 02 = on, 03 = off, then a FILETIME
//
// Microsoft does not document StartupApproved; the layout is what Task
// Manager writes (traced by others, and kept by tools that toggle it).
//
// The rules (runEntries.plan and state in autostart.go decide them):
//   - on, with the HKLM value: writes nothing new (a second value would
//     start a second tray) and deletes a user value left from before the
//     install: "on (machine-wide, from the installer)";
//   - off, with the HKLM value: deletes the user's value and writes the HKCU
//     record "off" for "Orion Bridge". A user cannot delete the HKLM value,
//     and must not for the others. Whether Explorer honours an HKCU record
//     for an HKLM value is not documented, so the tray honours it itself:
//     started with --at-login, it quits when State says off (cli's
//     loginStartRefused). That needs the HKLM value to carry --at-login.
//   - a second tray started at sign-in finds the first (the bridge's port
//     and /health) and quits quietly when started with --at-login.

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/windows/registry"
)

const (
	runKeyPath      = `Software\Microsoft\Windows\CurrentVersion\Run`
	approvedKeyPath = `Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run`
	runValueName    = "Orion Bridge"
)

// readEntries reads both Run values and both StartupApproved records.
func readEntries() (runEntries, error) {
	var e runEntries
	var err error
	if e.User, err = hasString(registry.CURRENT_USER, `HKCU`, runKeyPath); err != nil {
		return e, err
	}
	if e.Machine, err = hasString(registry.LOCAL_MACHINE, `HKLM`, runKeyPath); err != nil {
		return e, err
	}
	if e.UserApproved, err = binaryValue(registry.CURRENT_USER, `HKCU`, approvedKeyPath); err != nil {
		return e, err
	}
	if e.MachineApproved, err = binaryValue(registry.LOCAL_MACHINE, `HKLM`, approvedKeyPath); err != nil {
		return e, err
	}
	return e, nil
}

// hasString reports whether root\path has the REG_SZ value "Orion Bridge".
func hasString(root registry.Key, hive, path string) (bool, error) {
	k, err := registry.OpenKey(root, path, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf(`open %s\%s: %w`, hive, path, err)
	}
	defer k.Close()
	if _, _, err := k.GetStringValue(runValueName); errors.Is(err, registry.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf(`read %s\%s\%s: %w`, hive, path, runValueName, err)
	}
	return true, nil
}

// binaryValue reads the REG_BINARY value "Orion Bridge" of root\path, nil
// when there is none. A value of another type is no record: nil too.
func binaryValue(root registry.Key, hive, path string) ([]byte, error) {
	k, err := registry.OpenKey(root, path, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf(`open %s\%s: %w`, hive, path, err)
	}
	defer k.Close()
	b, _, err := k.GetBinaryValue(runValueName)
	if errors.Is(err, registry.ErrNotExist) || errors.Is(err, registry.ErrUnexpectedType) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf(`read %s\%s\%s: %w`, hive, path, runValueName, err)
	}
	return b, nil
}

func State() (on bool, where string, err error) {
	e, err := readEntries()
	if err != nil {
		return false, "", err
	}
	on, where = e.state()
	return on, where, nil
}

// OffNote says what keeps the tray from starting at sign-in when the
// installer's value exists: a per-user or machine-wide "off".
func OffNote() string {
	e, err := readEntries()
	if err != nil {
		return ""
	}
	return e.offNote()
}

func enableAutostart(exe string) (string, error) {
	e, err := readEntries()
	if err != nil {
		return "", err
	}
	p := e.plan(true)
	if err := apply(p, exe); err != nil {
		return "", err
	}
	if p.WriteUserRun {
		return userWhere, nil
	}
	return machineWhere, nil
}

func disableAutostart() error {
	e, err := readEntries()
	if err != nil {
		return err
	}
	return apply(e.plan(false), "")
}

// apply carries out p under HKCU.
func apply(p runPlan, exe string) error {
	if p.WriteUserRun {
		// HKCU\Software\Microsoft\Windows\CurrentVersion\Run "Orion Bridge" = "\"<exe>\" --at-login"
		k, _, err := registry.CreateKey(registry.CURRENT_USER, runKeyPath, registry.SET_VALUE)
		if err != nil {
			return fmt.Errorf(`open HKCU\%s: %w`, runKeyPath, err)
		}
		defer k.Close()
		if err := k.SetStringValue(runValueName, runKeyValue(exe)); err != nil {
			return fmt.Errorf("write %s: %w", userWhere, err)
		}
	}
	if p.DeleteUserRun {
		if err := deleteValue(runKeyPath); err != nil {
			return err
		}
	}
	if !p.DisableApproved {
		return deleteValue(approvedKeyPath)
	}
	// HKCU\…\Explorer\StartupApproved\Run "Orion Bridge" = 03 00 00 00 <FILETIME>
	a, _, err := registry.CreateKey(registry.CURRENT_USER, approvedKeyPath, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf(`open HKCU\%s: %w`, approvedKeyPath, err)
	}
	defer a.Close()
	if err := a.SetBinaryValue(runValueName, disabledRecord(time.Now())); err != nil {
		return fmt.Errorf(`write HKCU\%s\%s: %w`, approvedKeyPath, runValueName, err)
	}
	return nil
}

// deleteValue deletes HKCU\path "Orion Bridge"; a missing key or value is
// no error.
func deleteValue(path string) error {
	k, err := registry.OpenKey(registry.CURRENT_USER, path, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf(`open HKCU\%s: %w`, path, err)
	}
	defer k.Close()
	if err := k.DeleteValue(runValueName); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf(`delete HKCU\%s\%s: %w`, path, runValueName, err)
	}
	return nil
}
