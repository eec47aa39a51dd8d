package certs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"orionbridge/internal/owneronly"
	"orionbridge/internal/testutil"
)

// TestMachineCertificateKeys: the CA key is root's alone, the leaf and
// its key readable by every user; checked by mode and owner, and by a real
// second user reading each file.
func TestMachineCertificateKeys(t *testing.T) {
	root := testutil.MachineRoot(t)
	res, err := MaintainMachine(root, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.CACreated || !res.LeafIssued {
		t.Fatalf("first MaintainMachine: %+v, want a new CA and leaf", res)
	}
	other := testutil.AddUser(t, "mc")
	for _, tc := range []struct {
		path         string
		mode         fs.FileMode
		otherCanRead bool
	}{
		{root, 0o755 | fs.ModeDir, true},
		{MachineCADir(root), 0o700 | fs.ModeDir, false},
		{filepath.Join(MachineCADir(root), caKeyName), 0o600, false},
		{filepath.Join(MachineCADir(root), caCertName), 0o644, false}, // behind the 0700 folder
		{MachineCertsDir(root), 0o755 | fs.ModeDir, true},
		{filepath.Join(MachineCertsDir(root), caCertName), 0o644, true},
		{filepath.Join(MachineCertsDir(root), leafCertName), 0o644, true},
		{filepath.Join(MachineCertsDir(root), leafKeyName), 0o644, true},
	} {
		fi, err := os.Lstat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.path, fi.Mode(), tc.mode)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 0 {
			t.Errorf("%s: owned by uid %d, want root", tc.path, uid)
		}
		verb := "cat"
		if fi.IsDir() {
			verb = "ls"
		}
		out, err := other.Command(verb, tc.path).CombinedOutput()
		if readable := err == nil; readable != tc.otherCanRead {
			t.Errorf("%s %s as another user: err %v (%s), want readable=%v", verb, tc.path, err, out, tc.otherCanRead)
		}
	}
	// Running it again changes nothing that is not due.
	again, err := MaintainMachine(root, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.CACreated || again.LeafIssued || !again.Leaf.Equal(res.Leaf) {
		t.Errorf("second MaintainMachine: %+v, want nothing done", again)
	}
}

// TestMachineLeafRenewalReachesRunningBridge: a machine leaf 1 day from
// expiry is renewed by MaintainMachine (what the renewal task runs), and a
// Source serving it in another "process" picks the new one up from disk:
// a new handshake sees the new serial, an open connection keeps working.
func TestMachineLeafRenewalReachesRunningBridge(t *testing.T) {
	root := testutil.MachineRoot(t)
	// Issued 396 days ago, so 1 day is left.
	issued := time.Now().Add(-396 * 24 * time.Hour)
	if _, err := MaintainMachine(root, false, Options{Now: func() time.Time { return issued }}); err != nil {
		t.Fatal(err)
	}
	src, err := OpenMachine(root, Options{WatchEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	old := src.Status()
	if old.Kind != KindMachine || time.Until(old.LeafNotAfter) > 2*24*time.Hour {
		t.Fatalf("status %+v: want the machine leaf, 1 day from expiry", old)
	}
	if len(old.Warnings) == 0 || !strings.Contains(old.Warnings[0], "certs machine renew") {
		t.Errorf("warnings %q: want the expiry named with the administrator's fix", old.Warnings)
	}
	addr := serveEcho(t, src)
	clock := newClock()
	roots := poolOf(readCert(t, filepath.Join(MachineCertsDir(root), caCertName)))
	open := dial(t, addr, roots, clock)
	echo(t, open, "before")

	res, err := MaintainMachine(root, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.LeafIssued || res.Reason != "due for renewal" {
		t.Fatalf("renewal: %+v, want a new leaf because the old one was due", res)
	}
	run(t, src)
	testutil.WaitFor(t, "the running source to serve the renewed leaf", func() bool {
		return peerSerial(dial(t, addr, roots, clock)) == serialHex(res.Leaf)
	})
	// The connection made before the renewal still carries data.
	echo(t, open, "after")
	if st := src.Status(); len(st.Warnings) != 0 {
		t.Errorf("after renewal: warnings %q", st.Warnings)
	}
}

// TestMachineCertificateRefusesForeignFiles: a machine leaf that another
// user owns or can write is not served: the bridge falls back to the
// user's own CA and says why.
func TestMachineCertificateRefusesForeignFiles(t *testing.T) {
	other := testutil.AddUser(t, "mf")
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, certsDir string)
		want  string
	}{
		{"key owned by another user", func(t *testing.T, d string) {
			if err := os.Chown(filepath.Join(d, leafKeyName), other.UID, other.GID); err != nil {
				t.Fatal(err)
			}
		}, "owned by uid"},
		{"leaf writable by others", func(t *testing.T, d string) {
			if err := os.Chmod(filepath.Join(d, leafCertName), 0o666); err != nil {
				t.Fatal(err)
			}
		}, "writable by others"},
		{"folder writable by others", func(t *testing.T, d string) {
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}, "writable by others"},
		{"key replaced by a link", func(t *testing.T, d string) {
			key := filepath.Join(d, leafKeyName)
			if err := os.Rename(key, key+".real"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(key+".real", key); err != nil {
				t.Fatal(err)
			}
		}, "symbolic link"},
		{"leaf signed by another CA", func(t *testing.T, d string) {
			other, err := newAuthority(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			certPEM, keyPEM, err := other.issueLeaf(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			testutil.WriteFile(t, filepath.Join(d, leafKeyName), string(keyPEM))
			testutil.WriteFile(t, filepath.Join(d, leafCertName), string(certPEM))
		}, "not signed by the machine CA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := testutil.MachineRoot(t)
			if _, err := MaintainMachine(root, false, Options{}); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, MachineCertsDir(root))
			_, err := OpenMachine(root, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("OpenMachine: %v, want an error containing %q", err, tc.want)
			}
			src, err := OpenServed("", "", filepath.Join(t.TempDir(), "certs"), root, Options{})
			if err != nil {
				t.Fatal(err)
			}
			st := src.Status()
			if st.Kind != KindUser || !strings.Contains(st.Why, tc.want) {
				t.Errorf("served %s because %q, want the user's CA and the reason %q", st.Kind, st.Why, tc.want)
			}
		})
	}
}

// TestOpenServedChooses: external over machine over the user's own CA.
func TestOpenServedChooses(t *testing.T) {
	root := testutil.MachineRoot(t)
	userDir := filepath.Join(t.TempDir(), "certs")
	src, err := OpenServed("", "", userDir, root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := src.Status(); st.Kind != KindUser || !strings.Contains(st.Why, "no machine certificate") || src.CADir() != userDir {
		t.Errorf("without a machine certificate: %s, %q, %s", st.Kind, st.Why, src.CADir())
	}
	if _, err := MaintainMachine(root, false, Options{}); err != nil {
		t.Fatal(err)
	}
	src, err = OpenServed("", "", userDir, root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := src.Status(); st.Kind != KindMachine || src.CADir() != MachineCertsDir(root) || st.CAFingerprint == "" {
		t.Errorf("with a machine certificate: %+v, CADir %s", st, src.CADir())
	}
	cert := filepath.Join(MachineCertsDir(root), leafCertName)
	key := filepath.Join(MachineCertsDir(root), leafKeyName)
	src, err = OpenServed(cert, key, userDir, root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := src.Status(); st.Kind != KindExternal || !strings.Contains(st.Why, "cert_file") {
		t.Errorf("with cert_file: %s, %q", st.Kind, st.Why)
	}
}

// TestMaintainMachineNeedsRoot names the fix for a user who tries.
func TestMaintainMachineNeedsRoot(t *testing.T) {
	was := isRoot
	isRoot = func() bool { return false }
	defer func() { isRoot = was }()
	_, err := MaintainMachine(t.TempDir(), false, Options{})
	if err == nil || !strings.Contains(err.Error(), "sudo") {
		t.Fatalf("MaintainMachine as a user: %v, want an error naming sudo", err)
	}
	if _, ok := errors.AsType[*owneronly.Error](err); ok {
		t.Errorf("the refusal comes before any file is touched: %v", err)
	}
}
