//go:build windows

package certs

import (
	"errors"
	"fmt"
	"os"
	"time"

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

// replaceFile renames from over to. Windows refuses to replace a file that
// another process holds open without FILE_SHARE_DELETE (a watcher reading it
// at that instant), so it retries for up to a second.
func replaceFile(from, to string) error {
	var err error
	for range 40 {
		if err = os.Rename(from, to); err == nil {
			return nil
		}
		if !errors.Is(err, windows.ERROR_ACCESS_DENIED) && !errors.Is(err, windows.ERROR_SHARING_VIOLATION) {
			return err
		}
		time.Sleep(25 * time.Millisecond)
	}
	return err
}
