//go:build windows

package owneronly

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

// CheckDir checks an existing folder: not a reparse point, owned by the
// running user (or SYSTEM or Administrators, which an elevated process
// creates files as), and no DACL entry lets anyone else write it. The
// folders above are not checked on Windows: their ACLs (C:\, C:\Users) are
// the system's, and a folder the bridge creates gets a protected DACL that
// inherits nothing from them.
func CheckDir(what, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, dir, err)
	}
	return checkOne(what, dir, true, false)
}

func checkAbove(what, target, from string, resolve bool) error { return nil }

// Open opens an existing file for reading without following a reparse
// point, and checks the opened handle's attributes, owner and DACL.
func Open(what, path string, private bool) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.READ_CONTROL,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, &fs.PathError{Op: "open", Path: path, Err: err})
	}
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if err := checkAttributes(what, path, info.FileAttributes, false); err != nil {
		windows.CloseHandle(h)
		return nil, err
	}
	sd, err := windows.GetSecurityInfo(h, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err == nil {
		err = checkSD(what, path, sd, false, private)
	}
	if err != nil {
		windows.CloseHandle(h)
		return nil, err
	}
	return os.NewFile(uintptr(h), path), nil
}

// openMachine is Open: on Windows the owner check already accepts SYSTEM
// and Administrators, who own what an elevated install creates.
func openMachine(what, path string) (*os.File, error) { return Open(what, path, false) }

func checkOne(what, path string, dir, private bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	attrs := uint32(0)
	if d, ok := fi.Sys().(*windows.Win32FileAttributeData); ok {
		attrs = d.FileAttributes
	}
	if fi.Mode()&(fs.ModeSymlink|fs.ModeIrregular) != 0 {
		attrs |= windows.FILE_ATTRIBUTE_REPARSE_POINT
	}
	if fi.IsDir() {
		attrs |= windows.FILE_ATTRIBUTE_DIRECTORY
	}
	if err := checkAttributes(what, path, attrs, dir); err != nil {
		return err
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("%s %s: read its owner and ACL: %w", what, path, err)
	}
	return checkSD(what, path, sd, dir, private)
}

func checkAttributes(what, path string, attrs uint32, dir bool) error {
	if attrs&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		return symlinkError(what, path)
	}
	isDir := attrs&windows.FILE_ATTRIBUTE_DIRECTORY != 0
	if dir && !isDir {
		return &Error{What: what, Path: path, Kind: WrongType, Problem: "not a folder", Fix: "remove " + path}
	}
	if !dir && isDir {
		return &Error{What: what, Path: path, Kind: WrongType, Problem: "not a regular file", Fix: "remove " + path}
	}
	return nil
}

// Rights that let their holder change a file or folder, or its ACL.
const (
	writeMask = windows.FILE_WRITE_DATA | windows.FILE_APPEND_DATA | windows.FILE_WRITE_EA |
		0x40 | // FILE_DELETE_CHILD
		windows.FILE_WRITE_ATTRIBUTES | windows.DELETE |
		windows.WRITE_DAC | windows.WRITE_OWNER | windows.GENERIC_WRITE | windows.GENERIC_ALL
	readMask = windows.FILE_READ_DATA | windows.GENERIC_READ | windows.GENERIC_ALL
)

func checkSD(what, path string, sd *windows.SECURITY_DESCRIPTOR, dir, private bool) error {
	me, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return fmt.Errorf("%s %s: look up the current user: %w", what, path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("%s %s: read its owner: %w", what, path, err)
	}
	if !trustedSID(owner, me.User.Sid) {
		return &Error{What: what, Path: path, Kind: Foreign,
			Problem: fmt.Sprintf("owned by %s, not by you (%s)", describeSID(owner), describeSID(me.User.Sid)),
			Fix:     ownerFix(path)}
	}
	fix := `icacls "` + path + `" /inheritance:r /grant:r "%USERNAME%:F"`
	if dir {
		fix = `icacls "` + path + `" /inheritance:r /grant:r "%USERNAME%:(OI)(CI)F"`
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		// A NULL DACL grants everyone everything.
		return &Error{What: what, Path: path, Kind: Writable, Problem: "has no access list, so everyone may write it", Fix: fix}
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return fmt.Errorf("%s %s: read its ACL: %w", what, path, err)
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if trustedSID(sid, me.User.Sid) {
			continue
		}
		if uint32(ace.Mask)&writeMask != 0 {
			return &Error{What: what, Path: path, Kind: Writable, Problem: "is writable by " + describeSID(sid), Fix: fix}
		}
		if private && uint32(ace.Mask)&readMask != 0 {
			return &Error{What: what, Path: path, Kind: Readable, Problem: "is readable by " + describeSID(sid), Fix: fix}
		}
	}
	return nil
}

// trustedSID: the user, and the accounts that administer the machine
// anyway (an elevated process creates files owned by Administrators).
func trustedSID(sid, me *windows.SID) bool {
	return sid.Equals(me) || sid.IsWellKnown(windows.WinLocalSystemSid) || sid.IsWellKnown(windows.WinBuiltinAdministratorsSid)
}

func describeSID(sid *windows.SID) string {
	if account, domain, _, err := sid.LookupAccount(""); err == nil {
		return domain + `\` + account + " (" + sid.String() + ")"
	}
	return sid.String()
}

func symlinkError(what, path string) error {
	problem := "is a symbolic link or junction"
	if to, err := os.Readlink(path); err == nil {
		problem += " to " + to
	}
	return &Error{What: what, Path: path, Kind: Symlink, Problem: problem + ", which Orion Bridge never creates", Fix: "remove " + path}
}

// ownerOnly is a security descriptor granting the user alone full
// control; inherit "OICI" makes a folder's entry apply to what is
// created inside.
func ownerOnly(inherit string) (*windows.SecurityAttributes, error) {
	me, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("look up the current user: %w", err)
	}
	sd, err := windows.SecurityDescriptorFromString("D:P(A;" + inherit + ";FA;;;" + me.User.Sid.String() + ")")
	if err != nil {
		return nil, err
	}
	return &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}, nil
}

func mkdirPrivate(dir string) error {
	sa, err := ownerOnly("OICI")
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return err
	}
	if err := windows.CreateDirectory(p, sa); err != nil {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	return nil
}

func createExcl(path string, perm os.FileMode) (*os.File, error) {
	var sa *windows.SecurityAttributes
	if perm&0o077 == 0 {
		var err error
		if sa, err = ownerOnly(""); err != nil {
			return nil, &fs.PathError{Op: "create", Path: path, Err: err}
		}
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: path, Err: err}
	}
	// CREATE_NEW fails on any existing name, a link included.
	h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		sa, windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// checkSetting on Windows is checkOne: the owner may be the user, SYSTEM or
// Administrators (trustedSID), and the DACL may let nobody else write. A
// symbolic link is refused rather than followed.
func checkSetting(what, path string) error { return checkOne(what, path, false, false) }
