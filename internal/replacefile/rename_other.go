//go:build !windows

package replacefile

import (
	"errors"
	"os"
	"syscall"
)

// rename is os.Rename: POSIX rename replaces a file that others hold open.
func rename(from, to string) error { return os.Rename(from, to) }

// syncDir fsyncs the folder dir, which holds the directory entry that a
// rename changed. Some file systems cannot sync a folder and say so with
// EINVAL or ENOTSUP (some FUSE and network mounts): there is nothing more to
// do on those, so that is not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}
