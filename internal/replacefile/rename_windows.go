package replacefile

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// rename renames from over to. Windows refuses to replace a file that
// another process holds open without FILE_SHARE_DELETE (a watcher reading it
// at that instant), so it retries for up to a second.
func rename(from, to string) error {
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

// syncDir does nothing on Windows: it has no supported way to flush a
// folder's entries (FlushFileBuffers is for files and volumes), and NTFS
// logs the rename (MoveFileEx) in its metadata journal, so after a crash
// the name holds the old file or the new one, never a mix.
func syncDir(dir string) error { return nil }
