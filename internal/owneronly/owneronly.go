// Package owneronly keeps Orion Bridge from trusting a file or folder that
// someone else could have put there. The data dir holds the control secret
// (which lets its holder set the engine command the bridge runs), the CA key
// and the log; if it lies in a shared place (/tmp, a shared drive) another
// local user can create it, or plant a file or symbolic link in it, before
// the bridge first starts. So every folder and file the bridge keeps there
// is checked before use: owned by the running user, writable by nobody
// else, and not a symbolic link. Folders and files are created owner-only,
// files with O_EXCL and without following a symbolic link, and a secret is
// read only from a file that passed the check.
//
// On Unix the check compares the owner's uid and the mode bits (and the
// folders above, which could otherwise be swapped); on Windows it compares
// the owner SID with the process's user and reads the DACL.
package owneronly

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Kind says what is wrong with a path, so a caller can name its own fix
// (the setting that chose the path).
type Kind int

const (
	Foreign     Kind = iota + 1 // owned by another user
	Writable                    // others may write it
	Readable                    // others may read a secret
	Symlink                     // a symbolic link (or Windows reparse point)
	WrongType                   // not a folder, or not a regular file
	UnsafeAbove                 // a folder above it can be changed by others
)

// Error is a path the bridge refuses to use. Its message names the path,
// the problem and the fix.
type Error struct {
	What    string // "data dir", "control secret", "log file"
	Path    string
	Kind    Kind
	Problem string // "owned by uid 1001 (mallory), not by you (uid 1000)"
	Fix     string // "remove /tmp/x"
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %s: %s", e.What, e.Path, e.Problem, e.Fix)
}

// maxRead caps ReadSecret and ReadFile: secrets and keys are a few hundred
// bytes, and a planted huge file must not exhaust memory.
const maxRead = 1 << 20

// MkdirAll creates dir and any missing parent owner-only (mode 0700, or on
// Windows a protected DACL granting the user alone). A folder it did not
// create must pass CheckDir; it fixes the mode only of folders it created
// itself, since a folder that already existed may have been someone else's
// all along.
func MkdirAll(what, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, dir, err)
	}
	var missing []string
	for p := dir; ; {
		_, err := os.Lstat(p)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s %s: %w", what, p, err)
		}
		missing = append(missing, p)
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	if len(missing) == 0 {
		return CheckDir(what, dir)
	}
	// The first folder that exists must not be changeable by others, or
	// what we create in it could be swapped.
	if top := filepath.Dir(missing[len(missing)-1]); top != missing[len(missing)-1] {
		if err := checkAbove(what, dir, top, true); err != nil {
			return err
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p := missing[i]
		err := mkdirPrivate(p)
		if errors.Is(err, os.ErrExist) {
			// Created meanwhile, by another instance or by someone else.
			if err := checkOne(what, p, true, false); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, p, err)
		}
	}
	return nil
}

// ReadFile reads a file after CheckFile-like checks on the opened file
// itself (so it cannot be swapped in between): a regular file, not a
// symbolic link, owned by the running user and writable by nobody else.
func ReadFile(what, path string) ([]byte, error) { return readChecked(what, path, false) }

// ReadSecret is ReadFile for a secret or a key, which must also be
// readable by nobody else.
func ReadSecret(what, path string) ([]byte, error) { return readChecked(what, path, true) }

func readChecked(what, path string, private bool) ([]byte, error) {
	f, err := Open(what, path, private)
	if err != nil {
		return nil, err
	}
	return readOpened(what, path, f)
}

// readOpened reads a checked file, at most maxRead bytes, and closes it.
func readOpened(what, path string, f *os.File) ([]byte, error) {
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRead+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if len(b) > maxRead {
		return nil, &Error{What: what, Path: path, Kind: WrongType, Problem: fmt.Sprintf("larger than %d bytes, so not a file Orion Bridge wrote", maxRead), Fix: "remove " + path}
	}
	return b, nil
}

// ReadMachineFile reads a file that an administrator's install made for
// every user of the computer, such as the machine certificate and its leaf
// key: a regular file, not a symbolic link, owned by root (SYSTEM or
// Administrators on Windows) or the running user, and writable by nobody
// else, checked on the opened file; on Unix the folders above it too. Others
// may read it: that is what it is for.
func ReadMachineFile(what, path string) ([]byte, error) {
	f, err := openMachine(what, path)
	if err != nil {
		return nil, err
	}
	return readOpened(what, path, f)
}

// CheckSetting checks a file whose content decides what the bridge does,
// such as a config file, which may name the engine command it runs: a
// regular file (a symbolic link is followed: the file it points to is
// checked), owned by the running user or by the machine's administrators
// (root; SYSTEM or Administrators on Windows), and writable by nobody else.
// Others may read it.
func CheckSetting(what, path string) error { return checkSetting(what, path) }

// CheckFile checks an existing file: a regular file, not a symbolic link,
// owned by the running user, writable by nobody else and, when private,
// readable by nobody else.
func CheckFile(what, path string, private bool) error { return checkOne(what, path, false, private) }

// Create creates a new file for writing, failing if anything exists at
// path: O_CREATE|O_EXCL|O_NOFOLLOW on Unix with mode perm, CREATE_NEW
// without following a reparse point on Windows, where a perm without
// group and other bits gives the user alone access.
func Create(path string, perm os.FileMode) (*os.File, error) { return createExcl(path, perm) }

// CreateTemp is os.CreateTemp through Create: a new file named
// pattern with "*" replaced by a random string, in dir.
func CreateTemp(dir, pattern string, perm os.FileMode) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, randomName(pattern))
		f, err := createExcl(name, perm)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("create a temporary file in %s: too many names taken", dir)
}

// ownerFix is the fix for a path owned by someone else.
func ownerFix(path string) string {
	return "remove " + path + " (you did not create it), or choose a folder only you can write"
}

func randomName(pattern string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix, suffix, _ := strings.Cut(pattern, "*")
	return prefix + hex.EncodeToString(b) + suffix
}
