//go:build !windows

package cli

import (
	"orionbridge/internal/testutil"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestSudoActsForTheInvokingUser(t *testing.T) {
	testutil.RequireRoot(t, "it checks files chowned to the sudo user")
	t.Setenv("SUDO_USER", "nobody")
	u, ok := invokingUser()
	if !ok || u.uid == 0 {
		t.Fatalf("invokingUser() = %+v, %v", u, ok)
	}
	home := t.TempDir()
	u.home = home
	dir := filepath.Join(home, ".local", "share", "OrionBridge", "certs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "ca-key.pem")
	if err := os.WriteFile(key, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := u.own(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{key, dir, filepath.Dir(dir), filepath.Join(home, ".local")} {
		st, _ := os.Stat(p)
		if int(st.Sys().(*syscall.Stat_t).Uid) != u.uid {
			t.Errorf("%s is not owned by uid %d", p, u.uid)
		}
	}
	if st, _ := os.Stat(home); int(st.Sys().(*syscall.Stat_t).Uid) == u.uid {
		t.Error("the home directory itself was chowned")
	}

	t.Setenv("SUDO_USER", "root")
	if _, ok := invokingUser(); ok {
		t.Error("sudo to root from root counted as another user")
	}
}
