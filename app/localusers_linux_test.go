package app

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 12, findings 1 and 2, as two real OS users: an attacker plants a
// data dir, a control secret or a log link in a world-writable folder; the
// victim runs the real orionbridge binary (runuser) and must refuse with an
// error naming the path and the fix, using and following nothing planted.

// localUser is a real account made for one test (testutil.AddUser).
type localUser = testutil.LocalUser

func addUser(t *testing.T, role string) localUser { return testutil.AddUser(t, role) }

// buildBridge builds the headless binary into a folder every user can read.
func buildBridge(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "orionbridge-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "orionbridge")
	cmd := exec.Command("go", "build", "-tags", "headless", "-o", bin, ".")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runAs runs bin as u with its own HOME and XDG folders, and returns its
// output and exit error. A refusal exits at once; the timeout is a hang
// guard only.
func runAs(t *testing.T, u localUser, bin string, args ...string) (string, error) {
	t.Helper()
	// A bridge that accepts the planted files starts and keeps running:
	// the guard then ends it (its whole process group) and fails the test.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	argv := append([]string{"-u", u.Name, "--", "env", "HOME=" + u.Home, "XDG_CONFIG_HOME=" + u.Home + "/.config",
		"XDG_DATA_HOME=" + u.Home + "/.local/share", bin}, args...)
	cmd := exec.CommandContext(ctx, "runuser", argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("orionbridge %s as %s did not exit: it accepted the planted files and ran:\n%s", strings.Join(args, " "), u.Name, out)
	}
	return string(out), err
}

func TestLocalUserCannotPlantFiles(t *testing.T) {
	testutil.RequireRoot(t, "it creates two OS users and runs the bridge as one of them")
	testutil.RequireTools(t, testutil.Tool{Name: "useradd", Deb: "passwd"}, testutil.Tool{Name: "runuser", Deb: "util-linux"})
	attacker, victim := addUser(t, "atk"), addUser(t, "vic")
	bin := buildBridge(t)
	desc := func(u localUser) string { return fmt.Sprintf("uid %d (%s)", u.UID, u.Name) }

	// The victim's file the planted log link points at; the victim can
	// write it, so a bridge that follows the link appends to it.
	bashrc := filepath.Join(victim.Home, ".bashrc")
	const plantedSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

	tests := []struct {
		name string
		// plant prepares data, a data dir inside the shared sticky folder.
		plant func(t *testing.T, data string)
		want  []string // in the refusal
	}{
		{"data dir and control.secret planted by another user", func(t *testing.T, data string) {
			attacker.Sh(t, fmt.Sprintf("mkdir -m 0777 %[1]s && printf %%s %[2]s > %[1]s/control.secret && chmod 0644 %[1]s/control.secret", data, plantedSecret))
		}, []string{"data dir DATA: owned by " + desc(attacker) + ", not by you (" + desc(victim) + ")", "choose a data_dir only you can write, or remove DATA"}},

		{"own data dir that others can write", func(t *testing.T, data string) {
			victim.Sh(t, "mkdir -m 0777 "+data)
			attacker.Sh(t, fmt.Sprintf("printf %%s %s > %s/control.secret", plantedSecret, data))
		}, []string{"data dir DATA: is writable by others (mode 0777): chmod 700 DATA"}},

		{"control.secret planted while the data dir was open", func(t *testing.T, data string) {
			victim.Sh(t, "mkdir -m 0777 "+data)
			attacker.Sh(t, fmt.Sprintf("printf %%s %s > %s/control.secret && chmod 0600 %s/control.secret", plantedSecret, data, data))
			victim.Sh(t, "chmod 700 "+data) // as the error above tells them
		}, []string{"control secret DATA/control.secret: owned by " + desc(attacker)}},

		{"logs folder with a symbolic link, planted while the data dir was open", func(t *testing.T, data string) {
			victim.Sh(t, "mkdir -m 0777 "+data)
			attacker.Sh(t, fmt.Sprintf("mkdir -m 0777 %[1]s/logs && ln -s %[2]s %[1]s/logs/orionbridge.log", data, bashrc))
			victim.Sh(t, "chmod 700 "+data)
		}, []string{"log folder DATA/logs: owned by " + desc(attacker)}},

		{"own logs folder that others can write, with a planted link", func(t *testing.T, data string) {
			victim.Sh(t, fmt.Sprintf("mkdir -m 0755 %[1]s && mkdir -m 0777 %[1]s/logs", data))
			attacker.Sh(t, fmt.Sprintf("ln -s %s %s/logs/orionbridge.log", bashrc, data))
		}, []string{"log folder DATA/logs: is writable by others (mode 0777): chmod 700 DATA/logs"}},

		{"symbolic link as the log file in our own folder", func(t *testing.T, data string) {
			victim.Sh(t, fmt.Sprintf("mkdir -m 0700 %[1]s %[1]s/logs && ln -s %[2]s %[1]s/logs/orionbridge.log", data, bashrc))
		}, []string{"log file DATA/logs/orionbridge.log: is a symbolic link to " + bashrc, "remove DATA/logs/orionbridge.log"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A world-writable sticky folder, like /tmp.
			shared, err := os.MkdirTemp("", "orionbridge-shared-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(shared) })
			if err := os.Chmod(shared, 0o777|fs.ModeSticky); err != nil {
				t.Fatal(err)
			}
			data := filepath.Join(shared, "data")
			victim.Sh(t, "printf 'export KEEP=1\\n' > "+bashrc)
			config := filepath.Join(victim.Home, fmt.Sprintf("config%d.toml", i))
			victim.Sh(t, fmt.Sprintf("printf 'port = %d\\nfallback_ports = []\\ndata_dir = \"%s\"\\n' > %s", testutil.FreePort(t), data, config))
			tt.plant(t, data)

			for _, args := range [][]string{{"run", "--config", config}, {"status", "--config", config}} {
				out, err := runAs(t, victim, bin, args...)
				if err == nil {
					t.Errorf("orionbridge %s succeeded; want a refusal:\n%s", args[0], out)
				}
				if args[0] == "status" && strings.Contains(tt.name, "log") {
					continue // status reads no log; its refusal is the data dir's or the secret's
				}
				for _, w := range tt.want {
					if w = strings.ReplaceAll(w, "DATA", data); !strings.Contains(out, w) {
						t.Errorf("orionbridge %s as %s: output lacks %q:\n%s", args[0], victim.Name, w, out)
					}
				}
			}
			if b, _ := os.ReadFile(bashrc); string(b) != "export KEEP=1\n" {
				t.Errorf("the victim's %s was written through the planted link: %q", bashrc, b)
			}
			// Nothing of the victim's went into a folder the attacker owns.
			filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
				if err != nil || p == data {
					return nil
				}
				fi, _ := os.Lstat(p)
				if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) == victim.UID && parentOwner(p) == attacker.UID {
					t.Errorf("the victim created %s in the attacker's folder", p)
				}
				return nil
			})
		})
	}

	// The control: a data dir the victim creates under the same kind of
	// shared folder is theirs alone, and the bridge starts.
	t.Run("fresh data dir under a sticky shared folder starts", func(t *testing.T) {
		shared, _ := os.MkdirTemp("", "orionbridge-shared-")
		t.Cleanup(func() { os.RemoveAll(shared) })
		os.Chmod(shared, 0o777|fs.ModeSticky)
		data := filepath.Join(shared, "data")
		config := filepath.Join(victim.Home, "fresh.toml")
		victim.Sh(t, fmt.Sprintf("printf 'port = %d\\nfallback_ports = []\\ndata_dir = \"%s\"\\n' > %s", testutil.FreePort(t), data, config))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "runuser", "-u", victim.Name, "--", "env", "HOME="+victim.Home, bin, "run", "--config", config)
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		started := false
		sc := bufio.NewScanner(stderr)
		var out strings.Builder
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "diagnostics page") {
				started = true
				break
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		go func() {
			for sc.Scan() {
			}
		}()
		cmd.Wait()
		if !started {
			t.Fatalf("the bridge did not start with a fresh data dir:\n%s", out.String())
		}
		for _, p := range []string{data, filepath.Join(data, "logs"), filepath.Join(data, "certs")} {
			fi, err := os.Lstat(p)
			if err != nil || fi.Mode().Perm() != 0o700 || int(fi.Sys().(*syscall.Stat_t).Uid) != victim.UID {
				t.Errorf("%s: %v, %v; want the victim's, mode 0700", p, fi.Mode(), err)
			}
		}
	})
}

func parentOwner(p string) int {
	fi, err := os.Lstat(filepath.Dir(p))
	if err != nil {
		return -1
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}
