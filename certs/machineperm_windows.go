package certs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"

	"orionbridge/internal/machinedir"
	"orionbridge/internal/owneronly"
)

// caFolderSDDL: owned by Administrators; SYSTEM and Administrators alone
// have access (protected, inherited by what is created inside). The
// scheduled task runs as SYSTEM and an administrator may renew by hand, so
// both need the key; no user does.
const (
	caFolderSDDL = "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
	caKeySDDL    = "O:BAD:PAI(A;;FA;;;SY)(A;;FA;;;BA)"
)

// checkMachineAdmin: LocalSystem (the MSI's deferred actions, the task) or
// an elevated administrator.
func checkMachineAdmin() error {
	token := windows.GetCurrentProcessToken()
	if token.IsElevated() {
		return nil
	}
	if u, err := token.GetTokenUser(); err == nil && u.User.Sid.IsWellKnown(windows.WinLocalSystemSid) {
		return nil
	}
	return errors.New("needs administrator rights: the machine CA's key is readable by administrators only: run from an elevated prompt")
}

// prepareMachineDirs creates %ProgramData%\OrionBridge (users may read),
// ca\ (administrators and SYSTEM only) and certs\ (inherits: users read).
func prepareMachineDirs(root, caDir, certsDir string) error {
	if err := machinedir.Prepare(root); err != nil {
		return err
	}
	if err := os.MkdirAll(caDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", caDir, err)
	}
	if err := machinedir.Protect(caDir, caFolderSDDL); err != nil {
		return err
	}
	if err := os.MkdirAll(certsDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", certsDir, err)
	}
	return owneronly.CheckDir("machine certificate folder", certsDir)
}

// restrictMachineKey: SYSTEM and Administrators only, set on the empty
// temporary file before the key is written.
func restrictMachineKey(path string) error { return machinedir.Protect(path, caKeySDDL) }
