// Package replacefile replaces a file by renaming a finished temporary
// file over it, so a reader sees the old content or the new, never half,
// and a crash at any moment leaves one or the other. certs (keys,
// certificates, trusted CA copies) and app (the user's and the managed
// configuration, the autostart entry) write files that another process,
// or our own watcher, may be reading.
//
// WriteFile is the one way Orion Bridge writes such a file. In order it:
//
//  1. creates the temporary file in the target's folder (a rename is only
//     atomic within one file system) with O_EXCL and O_NOFOLLOW
//     (internal/owneronly), so it never opens a file or symbolic link
//     someone planted;
//  2. sets its mode to perm on the open file (fchmod), whatever the umask,
//     then runs the caller's prepare hook, both before any byte is written,
//     so a key is never readable by others, even for a moment;
//  3. writes, fsyncs and closes it: after a crash the name must never point
//     at a file whose data is still only in memory (a zero-length key);
//  4. renames it over the target, retrying on Windows while a reader holds
//     the target open (Rename);
//  5. on Unix fsyncs the folder, which holds the rename itself: without it
//     a crash can bring back the old file after WriteFile returned.
//
// On any failure before the rename the temporary file is removed and the
// target is left as it was. A crash can leave a temporary file behind; its
// name starts with "." and the target's name and ends in ".tmp" and random
// hex digits (".config.toml.tmp3894712ab0c9e1f"), so it is hidden, matches no reader's
// pattern (*.toml, *.pem) and a later WriteFile does not collide with it.
//
// The folder must be one that only the writer can change: whoever can
// write it can replace the target anyway, and the steps by name (prepare,
// the mtime bump, the rename) assume nobody swaps the temporary file.
package replacefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"orionbridge/internal/owneronly"
)

// Rename renames from over to. On Windows it retries for up to a second
// while another process holds to open (rename_windows.go); elsewhere it is
// os.Rename.
func Rename(from, to string) error { return rename(from, to) }

// WriteFile replaces path with data, as a file of mode perm (only the
// read-only bit on Windows, where the file inherits its folder's ACL). The
// folder must exist: creating it is the caller's choice, with the caller's
// permissions.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFileWith(path, data, perm, nil)
}

// WriteFileWith is WriteFile with a prepare hook that runs on the new,
// still empty temporary file (its path), after the mode is set and before
// any byte is written. It exists for what the mode cannot say: certs sets
// an owner-only Windows ACL on a key file there, so the key is never
// written into a file that others can open. An error from prepare aborts
// the write, as any other failure does.
//
// A hook rather than options (private, ACL, mkdir…): what "private" means
// on Windows is the caller's policy (certs' setOwnerOnlyACL, the managed
// folder's SDDL), and this package stays free of it.
func WriteFileWith(path string, data []byte, perm os.FileMode, prepare func(tmp string) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// owneronly: O_EXCL without following a symbolic link, and on Windows
	// an owner-only ACL from the start when perm has no group or other bits.
	f, err := owneronly.CreateTemp(dir, "."+base+".tmp*", perm)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("write %s: the folder %s does not exist; create it first: %w", path, filepath.Clean(dir), err)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			f.Close() // a second Close only returns an error
			os.Remove(tmp)
		}
	}()
	fail := func(step string, err error) error {
		return fmt.Errorf("write %s: %s %s: %w", path, step, tmp, err)
	}

	// f.Chmod, not os.Chmod: the open file, so no name lookup can be
	// redirected, and the mode is exact whatever the umask.
	if err := f.Chmod(perm); err != nil {
		return fail("set the mode of", err)
	}
	if prepare != nil {
		if err := prepare(tmp); err != nil {
			return fail("prepare", err)
		}
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("sync", err)
	}
	if err := f.Close(); err != nil {
		return fail("close", err)
	}
	moveMtimeForward(tmp, path)
	if beforeRename != nil {
		beforeRename()
	}
	if err := Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: rename %s over it: %w", path, tmp, err)
	}
	renamed = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: replaced, but the folder did not sync, so a crash may bring back the old file: %w", path, err)
	}
	return nil
}

// moveMtimeForward makes tmp's modification time later than the current
// target's. Watchers (certs' file watch, the config watch) notice a new
// version by its size and mtime, and some file systems keep mtime in whole
// seconds (HFS+, FAT) or from a coarse clock, so a same-size replacement
// within the same tick would go unnoticed. Best effort: it only helps the
// watchers, and the data is already safe. It runs after Close because
// Windows may set the write time again when a written handle closes.
func moveMtimeForward(tmp, target string) {
	prev, err := os.Stat(target)
	if err != nil {
		return
	}
	if fi, err := os.Stat(tmp); err == nil && !fi.ModTime().After(prev.ModTime()) {
		t := prev.ModTime().Add(time.Second)
		_ = os.Chtimes(tmp, t, t)
	}
}

// beforeRename, when set, runs after the temporary file is written, synced
// and closed and before it is renamed over the target. Only this package's
// tests set it: the crash test kills the process there.
var beforeRename func()
