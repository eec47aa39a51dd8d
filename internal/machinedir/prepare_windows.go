package machinedir

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// sddl is the security descriptor of the machine data folder, %ProgramData%\OrionBridge:
// owned by Administrators, a protected DACL (nothing inherited from
// ProgramData) granting SYSTEM and Administrators full control and Users
// read and execute (0x1200a9), inherited by the files inside (OICI).
//
// Why: ProgramData lets every user create folders, which that user then
// owns. Without this, anyone could create OrionBridge\config.toml before the
// installer does and set the "machine-wide" configuration for every user of
// the machine; setting the owner as well takes the folder back.
const sddl = "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"

// Prepare creates the machine data folder dir if needed and applies
// sddl. It needs an elevated token or LocalSystem (the MSI's
// deferred custom action); otherwise it fails with "Access is denied".
func Prepare(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return Protect(dir, sddl)
}

// Protect sets path's owner and protected DACL from a security descriptor
// in SDDL (it must have both). It needs an elevated token or LocalSystem.
func Protect(path, sddl string) error {
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return fmt.Errorf("build security descriptor %s: %w", sddl, err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("read owner: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("read DACL: %w", err)
	}
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		owner, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("set permissions on %s (run elevated): %w", path, err)
	}
	return nil
}
