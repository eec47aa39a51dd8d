package config

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// managedDirSDDL is the security descriptor of %ProgramData%\OrionBridge:
// owned by Administrators, a protected DACL (nothing inherited from
// ProgramData) granting SYSTEM and Administrators full control and Users
// read and execute (0x1200a9), inherited by the files inside (OICI).
//
// Why: ProgramData lets every user create folders, which that user then
// owns. Without this, anyone could create OrionBridge\config.toml before the
// installer does and set the "machine-wide" configuration for every user of
// the machine; setting the owner as well takes the folder back.
const managedDirSDDL = "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"

// PrepareManagedDir creates the folder if needed and applies
// managedDirSDDL. It needs an elevated token or LocalSystem (the MSI's
// deferred custom action); otherwise it fails with "Access is denied".
func PrepareManagedDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	sd, err := windows.SecurityDescriptorFromString(managedDirSDDL)
	if err != nil {
		return fmt.Errorf("build security descriptor %s: %w", managedDirSDDL, err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("read owner: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("read DACL: %w", err)
	}
	err = windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		owner, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("set permissions on %s (run elevated): %w", dir, err)
	}
	return nil
}
