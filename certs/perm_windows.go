//go:build windows

package certs

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// restrictFile is the Windows counterpart of chmod 0600: a protected DACL
// (nothing inherited from the folder) with one entry granting the current
// user full control.
func restrictFile(path string) error { return setOwnerOnlyACL(path, "") }

// restrictDir is the counterpart of chmod 0700; its entry is inherited by
// files and folders created inside (OICI), so temp files start private too.
func restrictDir(dir string) error { return setOwnerOnlyACL(dir, "OICI") }

func setOwnerOnlyACL(path, inherit string) error {
	user, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return fmt.Errorf("look up current user: %w", err)
	}
	// SDDL: D:P = protected DACL; (A;flags;FA;;;SID) = allow file-all-access to SID.
	sddl := "D:P(A;" + inherit + ";FA;;;" + user.User.Sid.String() + ")"
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return fmt.Errorf("build security descriptor %s: %w", sddl, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("read DACL: %w", err)
	}
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("set ACL on %s: %w", path, err)
	}
	return nil
}
