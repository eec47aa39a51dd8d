//go:build !windows

package owneronly

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// CheckDir checks an existing folder: not a symbolic link, owned by the
// running user and writable by nobody else; and every folder above it
// owned by the user or root and, unless sticky (like /tmp), writable by
// nobody else, since whoever can write a folder above can rename it away
// and put their own in its place.
func CheckDir(what, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, dir, err)
	}
	if err := checkOne(what, dir, true, false); err != nil {
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		return checkAbove(what, dir, parent, true)
	}
	return nil
}

// Open opens an existing file for reading without following a symbolic
// link, and checks the opened file as CheckFile does.
func Open(what, path string, private bool) (*os.File, error) {
	// O_NONBLOCK: a planted FIFO must not hang the open.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, symlinkError(what, path)
		}
		// Refused by the system (another user's 0600 file): say whose.
		if cerr, ok := checkOne(what, path, false, private).(*Error); ok {
			return nil, cerr
		}
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkInfo(what, path, fi, false, private)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// openMachine is Open for a machine file (ReadMachineFile): root may own
// it, and the folders above are checked as CheckDir checks them.
func openMachine(what, path string) (*os.File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if err := checkAbove(what, abs, filepath.Dir(abs), true); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(abs, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, symlinkError(what, path)
		}
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	fi, err := f.Stat()
	if err == nil {
		// On the opened file: owned by us or root, writable by nobody else.
		err = checkSettingInfo(what, abs, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkOne(what, path string, dir, private bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	return checkInfo(what, path, fi, dir, private)
}

func checkInfo(what, path string, fi fs.FileInfo, dir, private bool) error {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return symlinkError(what, path)
	}
	noun, chmod := "a regular file", "600"
	if dir {
		noun, chmod = "a folder", "700"
	}
	if (dir && !fi.IsDir()) || (!dir && !fi.Mode().IsRegular()) {
		return &Error{What: what, Path: path, Kind: WrongType, Problem: "not " + noun, Fix: "remove " + path}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s %s: no owner information", what, path)
	}
	if !trusted(st.Uid, false) {
		return &Error{What: what, Path: path, Kind: Foreign,
			Problem: fmt.Sprintf("owned by %s, not by you (%s)", describeUID(st.Uid), describeUID(uint32(os.Geteuid()))),
			Fix:     ownerFix(path)}
	}
	perm := fi.Mode().Perm()
	if perm&0o022 != 0 {
		return &Error{What: what, Path: path, Kind: Writable,
			Problem: fmt.Sprintf("is writable by others (mode %04o)", perm), Fix: "chmod " + chmod + " " + path}
	}
	if private && perm&0o044 != 0 {
		return &Error{What: what, Path: path, Kind: Readable,
			Problem: fmt.Sprintf("is readable by others (mode %04o)", perm), Fix: "chmod " + chmod + " " + path}
	}
	return nil
}

func checkSetting(what, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	return checkSettingInfo(what, path, fi)
}

func checkSettingInfo(what, path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return &Error{What: what, Path: path, Kind: WrongType, Problem: "not a regular file", Fix: "remove " + path}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s %s: no owner information", what, path)
	}
	if !trusted(st.Uid, true) {
		return &Error{What: what, Path: path, Kind: Foreign,
			Problem: fmt.Sprintf("owned by %s, not by you (%s) or root", describeUID(st.Uid), describeUID(uint32(os.Geteuid()))),
			Fix:     ownerFix(path)}
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return &Error{What: what, Path: path, Kind: Writable,
			Problem: fmt.Sprintf("is writable by others (mode %04o), and it decides what the bridge runs", perm), Fix: "chmod go-w " + path}
	}
	return nil
}

// checkAbove checks from, a folder above target, and each folder above
// it, both as written and with symbolic links resolved.
func checkAbove(what, target, from string, resolve bool) error {
	for p := from; ; {
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("%s %s: folder %s above it: %w", what, target, p, err)
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		problem := ""
		switch {
		case st == nil:
			problem = "has no owner information"
		case !trusted(st.Uid, true):
			problem = "is owned by " + describeUID(st.Uid)
		case fi.Mode()&fs.ModeSymlink != 0:
			// A link owned by us or root, in a folder checked next.
		case fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0:
			problem = fmt.Sprintf("is writable by others (mode %04o) and not sticky", fi.Mode().Perm())
		}
		if problem != "" {
			return &Error{What: what, Path: target, Kind: UnsafeAbove,
				Problem: "the folder " + p + " above it " + problem + ", so others could replace what is inside",
				Fix:     "choose a folder whose parents only you or root can change"}
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	if !resolve {
		return nil
	}
	real, err := filepath.EvalSymlinks(from)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, target, err)
	}
	if real != from {
		return checkAbove(what, target, real, false)
	}
	return nil
}

// trusted says whether uid may own what we use: the running user; under
// `sudo orionbridge …`, the user who ran sudo, whose data dir root acts on
// and chowns back to them (cli/sudo_unix.go); and root for the folders
// above, such as /home and /tmp.
func trusted(uid uint32, above bool) bool {
	euid := os.Geteuid()
	if int(uid) == euid || (above && uid == 0) {
		return true
	}
	if euid == 0 {
		if name := os.Getenv("SUDO_USER"); name != "" {
			if u, err := user.Lookup(name); err == nil && u.Uid == strconv.FormatUint(uint64(uid), 10) {
				return true
			}
		}
	}
	return false
}

func describeUID(uid uint32) string {
	s := "uid " + strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		s += " (" + u.Username + ")"
	}
	return s
}

func symlinkError(what, path string) error {
	problem := "is a symbolic link"
	if to, err := os.Readlink(path); err == nil {
		problem += " to " + to
	}
	return &Error{What: what, Path: path, Kind: Symlink, Problem: problem + ", which Orion Bridge never creates", Fix: "remove " + path}
}

func mkdirPrivate(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	// The umask may have taken bits away, never added; 0700 exactly.
	return os.Chmod(dir, 0o700)
}

func createExcl(path string, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
}
