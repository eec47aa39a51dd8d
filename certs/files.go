package certs

import (
	"errors"
	"fmt"
	"orionbridge/internal/owneronly"
	"orionbridge/internal/replacefile"
	"os"
	"path/filepath"
	"time"
)

// writeFileAtomic replaces path with data (replacefile.WriteFile: a
// temporary file beside it, synced, renamed over it, the folder synced; its
// mtime moves forward so the watcher always notices). A private file is
// owner-only before any byte of the key is written: mode 0600, and on
// Windows restrictFile's owner-only ACL, set on the still-empty file.
func writeFileAtomic(path string, data []byte, private bool) error {
	if private {
		return replacefile.WriteFileWith(path, data, 0o600, restrictFile)
	}
	return replacefile.WriteFile(path, data, 0o644)
}

// ensureDir creates dir if needed and makes it owner-only: it holds the CA
// key. An existing dir must be ours and writable by nobody else
// (internal/owneronly): a certificate folder someone else made could hold
// a CA key they know, and the bridge would sign with it.
func ensureDir(dir string) error {
	if err := owneronly.MkdirAll("certificate folder", dir); err != nil {
		return err
	}
	if err := restrictDir(dir); err != nil {
		return fmt.Errorf("restrict certificate directory %s: %w", dir, err)
	}
	return nil
}

// staleLock is the age past which a lock file is taken to be left over by a
// process that died holding it; writes under the lock take milliseconds.
const staleLock = 30 * time.Second

// lockDir serialises writers of dir across processes: the running bridge
// and `orionbridge certs renew` (or a second instance) may create or renew
// the same files at the same moment, and the key/certificate pairs must not
// interleave. Readers (the file watch) take no lock; they retry instead.
func lockDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, ".lock")
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := owneronly.Create(path, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lock certificate directory %s: %w", path, err)
		}
		if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > staleLock {
			os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock certificate directory: %s held for over 10s; delete it if no orionbridge process is running", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fileStamp identifies one version of a file cheaply: the watcher compares
// stamps instead of reading files every second. A missing file has the zero
// stamp.
type fileStamp struct {
	size int64
	mod  int64 // modification time, Unix nanoseconds
}

// pairStamp is the stamp of a certificate file and its key file.
type pairStamp [2]fileStamp

func stampPair(certPath, keyPath string) pairStamp {
	return pairStamp{stampFile(certPath), stampFile(keyPath)}
}

func stampFile(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{size: fi.Size(), mod: fi.ModTime().UnixNano()}
}
