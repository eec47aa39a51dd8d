package bridge

// The announce directory (issue 16, point 2).
//
// Each user's bridge writes one entry, named after its user (the uid on
// Unix, the SID on Windows), holding its port and pid, into a directory
// every user can read: /run/orionbridge on Linux (created at boot by the
// package's tmpfiles.d snippet, root-owned, mode 1777 like /tmp),
// %ProgramData%\OrionBridge\users on Windows. A bridge that another user's
// browser reaches reads that user's entry to tell the page where its own
// bridge is (peer_answer.go); a starting bridge reads its own user's entry
// to say "already running" even when the first bridge took a port further
// up the range.
//
// Nothing in the directory is believed on its name alone: a reader checks
// that the entry is a regular file (never a symbolic link), owned by the
// user its name says, writable by nobody else, and that its pid is alive.
// A user can therefore only delete or withhold their own entry (the sticky
// bit keeps others' entries out of reach), never speak for another user.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// AnnounceDirEnv points the announce directory elsewhere (tests, a machine
// without the package's tmpfiles.d snippet). Any directory it names is
// checked like the default one.
const AnnounceDirEnv = "ORIONBRIDGE_ANNOUNCE_DIR"

// DefaultAnnounceDir is the announce directory: $ORIONBRIDGE_ANNOUNCE_DIR
// when set to an absolute path, else the OS's (announceDefault).
func DefaultAnnounceDir() string {
	if p := os.Getenv(AnnounceDirEnv); filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return announceDefault()
}

// Announcement is one user's entry.
type Announcement struct {
	Port int `json:"port"`
	PID  int `json:"pid"`
}

// maxAnnouncementBytes bounds what a reader reads of an entry.
const maxAnnouncementBytes = 4 << 10

// announceName is the entry's file name for a user key.
func announceName(userKey string) string { return userKey + ".json" }

// ReadAnnouncement returns the live entry of the user userKey in dir;
// ok is false when there is none or it is stale. An entry that fails the
// checks is an error, and is never believed.
func ReadAnnouncement(dir, userKey string) (a Announcement, ok bool, err error) {
	if !validUserKey(userKey) {
		return a, false, fmt.Errorf("announce entry: %q is not a user key", userKey)
	}
	path := filepath.Join(dir, announceName(userKey))
	f, err := openAnnouncement(dir, path, userKey)
	if errors.Is(err, os.ErrNotExist) {
		return a, false, nil
	}
	if err != nil {
		return a, false, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAnnouncementBytes))
	if err != nil {
		return a, false, fmt.Errorf("read announce entry %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &a); err != nil || a.Port < 1 || a.Port > 65535 || a.PID < 1 {
		return Announcement{}, false, fmt.Errorf("announce entry %s: not a port and pid: remove it", path)
	}
	if !processAlive(a.PID) {
		return a, false, nil // left by a bridge that crashed
	}
	return a, true, nil
}

// validUserKey keeps a key to what a uid or SID looks like, so it can
// never name a path outside the directory.
func validUserKey(k string) bool {
	if k == "" || len(k) > 200 {
		return false
	}
	for _, r := range k {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '-') {
			return false
		}
	}
	return true
}

// writeAnnouncement writes data to a new file beside path (createEntry,
// per OS: O_EXCL, readable by every user, writable by its owner only) and
// renames it over path. Where another user's file has that name (a sticky
// directory, an ACL) the rename fails: that file is reported, and readers
// never believe it anyway.
func writeAnnouncement(dir, path string, data []byte) error {
	if err := ensureAnnounceDir(dir); err != nil {
		return err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+filepath.Base(path)+"."+hex.EncodeToString(rnd[:]))
	f, err := createEntry(tmp)
	if err != nil {
		return fmt.Errorf("write announce entry %s: %w", tmp, err)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write announce entry %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write announce entry %s: %w (another user's file has this name: ask an administrator to remove it)", path, err)
	}
	return nil
}

// announce writes this user's entry for port into dir and returns a
// function that removes it (only while it is still this process's).
func announce(dir string, port int) (remove func(), err error) {
	me, err := ownUserKey()
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(Announcement{Port: port, PID: os.Getpid()})
	path := filepath.Join(dir, announceName(me))
	if err := writeAnnouncement(dir, path, data); err != nil {
		return nil, err
	}
	return func() {
		if a, ok, err := ReadAnnouncement(dir, me); err == nil && ok && a.PID == os.Getpid() && a.Port == port {
			_ = os.Remove(path)
		}
	}, nil
}

// OwnAnnouncement is the running user's live entry in dir: where this
// user's bridge listens, for `orionbridge status` and a second start.
func OwnAnnouncement(dir string) (Announcement, bool, error) {
	me, err := ownUserKey()
	if err != nil {
		return Announcement{}, false, err
	}
	return ReadAnnouncement(dir, me)
}
