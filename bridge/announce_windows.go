//go:build windows

package bridge

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

// announceDefault is %ProgramData%\OrionBridge\users, taken from the known
// folder (a user may set %ProgramData% in their own environment).
func announceDefault() string {
	dir, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0)
	if err != nil || dir == "" {
		dir = `C:\ProgramData`
	}
	return filepath.Join(dir, "OrionBridge", "users")
}

// ensureAnnounceDir creates the directory when missing. ProgramData lets
// every user create a folder there; entries do not rely on the folder's
// ACL: each carries its own (owner full control, Everyone read) and is
// believed only when its owner is the SID in its name.
func ensureAnnounceDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create announce directory %s: %w", dir, err)
	}
	return nil
}

// entrySDDL: protected DACL, the owner (OW) full control, Everyone (WD)
// read; so only the user who wrote it can change it.
const entrySDDL = "D:P(A;;FA;;;OW)(A;;FR;;;WD)"

// createEntry creates a new file with entrySDDL's ACL.
func createEntry(tmp string) (*os.File, error) {
	sd, err := windows.SecurityDescriptorFromString(entrySDDL)
	if err != nil {
		return nil, fmt.Errorf("announce entry ACL: %w", err)
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	name, err := windows.UTF16PtrFromString(tmp)
	if err != nil {
		return nil, err
	}
	h, err := windows.CreateFile(name, windows.GENERIC_WRITE, 0, sa, windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(h), tmp), nil
}

// openAnnouncement opens an entry that is not a link and whose owner is
// the SID in its name.
func openAnnouncement(dir, path, userKey string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 || fi.Mode()&fs.ModeIrregular != 0 || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("announce entry %s: not a regular file: not believed", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	sd, err := windows.GetSecurityInfo(windows.Handle(f.Fd()), windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err == nil {
		var owner *windows.SID
		owner, _, err = sd.Owner()
		if err == nil && (owner == nil || owner.String() != userKey) {
			err = fmt.Errorf("announce entry %s: not owned by %s: not believed", path, userKey)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// processAlive: a process another user runs cannot be opened (access
// denied) but exists; a pid that names no process is "invalid parameter".
func processAlive(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return errors.Is(err, windows.ERROR_ACCESS_DENIED)
	}
	defer windows.CloseHandle(h)
	var code uint32
	return windows.GetExitCodeProcess(h, &code) == nil && code == 259 // STILL_ACTIVE
}
