//go:build linux

package bridge

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"orionbridge/internal/testutil"
)

// nobodyUID is Debian's nobody, the second real user of these tests.
const nobodyUID = 65534

// asNobody starts script under bash as the user nobody (runuser) and
// ends it at cleanup. Bash's /dev/tcp makes a real TCP connection owned
// by nobody's process, the case the per-user check exists for.
func asNobody(t *testing.T, script string) *exec.Cmd {
	t.Helper()
	testutil.RequireRoot(t, "runuser starts a process as the user nobody")
	testutil.RequireTools(t, testutil.Tool{Name: "runuser", Deb: "util-linux"}, testutil.Tool{Name: "bash", Deb: "bash"})
	cmd := exec.Command("runuser", "-u", "nobody", "--", "bash", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return cmd
}

// acceptOne listens on host and returns the listener's address and a
// channel with the first accepted connection.
func acceptOne(t *testing.T, host string) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			ch <- c
		}
		close(ch)
	}()
	return ln.Addr().String(), ch
}

func acceptedConnOf(t *testing.T, ch <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("accept failed")
		}
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(10 * time.Second): // hang guard
		t.Fatal("no connection within 10 s")
	}
	return nil
}

// TestPeerLookupLinux checks each lookup (sock_diag, /proc/net, and the
// two together) on real loopback connections over IPv4 and IPv6, made by
// this process and by the user nobody.
func TestPeerLookupLinux(t *testing.T) {
	lookups := []struct {
		name string
		fn   func(local, remote *net.TCPAddr) (uint32, error)
	}{
		{"sock_diag", sockDiagUID},
		{"proc_net", procNetUID},
		{"lookupPeerUser", func(l, r *net.TCPAddr) (uint32, error) {
			s, err := lookupPeerUser(l, r)
			if err != nil {
				return 0, err
			}
			n, err := strconv.ParseUint(s, 10, 32)
			return uint32(n), err
		}},
	}
	for _, host := range []string{"127.0.0.1", "::1"} {
		for _, who := range []string{"same user", "nobody"} {
			t.Run(host+"/"+who, func(t *testing.T) {
				addr, ch := acceptOne(t, host)
				want := uint32(os.Getuid())
				if who == "nobody" {
					h, p, _ := net.SplitHostPort(addr)
					asNobody(t, fmt.Sprintf("exec 3<>/dev/tcp/%s/%s; sleep 30", h, p))
					want = nobodyUID
				} else {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
				}
				c := acceptedConnOf(t, ch)
				local, remote := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
				for _, l := range lookups {
					got, err := l.fn(local, remote)
					if err != nil || got != want {
						t.Errorf("%s(%s, %s) = %d, %v; want uid %d", l.name, local, remote, got, err, want)
					}
				}
				p := checkPeer(c)
				if wantRefused := who == "nobody"; p.refused() != wantRefused || p.user != strconv.Itoa(int(want)) {
					t.Errorf("checkPeer = %+v; want refused=%v, user %d", p, wantRefused, want)
				}
			})
		}
	}
	t.Run("a peer that is gone is unknown, and refused", func(t *testing.T) {
		addr, ch := acceptOne(t, "127.0.0.1")
		d, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := acceptedConnOf(t, ch)
		d.(*net.TCPConn).SetLinger(0) // RST: the peer's socket is gone at once
		d.Close()
		time.Sleep(50 * time.Millisecond)
		if p := checkPeer(c); p.verdict != peerUnknown || !p.refused() || p.err == nil {
			t.Errorf("checkPeer after the peer closed = %+v; want unknown and refused, with the lookup's error", p)
		}
	})
}

// otherUserCase is one request of another user's process.
type otherUserCase struct {
	name   string
	script string // bash as nobody; PORT and DIR are replaced
	want   []string
}

// TestOtherUserRefused runs a bridge as this user and curl as the user
// nobody against it: every request gets 403, /health tells nobody where
// its own bridge is (from a believable announce entry) or that it has
// none, and allow_other_users lets it in.
func TestOtherUserRefused(t *testing.T) {
	testutil.RequireTools(t, testutil.Tool{Name: "curl", Deb: "curl"})
	dir := announceTestDir(t)
	b := startBridge(t, testutil.EchoEngine(t), func(o *Options) { o.AnnounceDir = dir })
	port := strconv.Itoa(b.Port())
	sub := b.Subscribe(256)
	defer sub.Close()

	// This user's own clients are served as before.
	client := http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://localhost:" + port + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("own /health: %s; want 200", resp.Status)
	}
	curl := "curl -sS -k -o - -w ' status=%{http_code}' -H 'Origin: https://shop.example.com' "
	entry := filepath.Join(dir, strconv.Itoa(nobodyUID)+".json")
	tests := []otherUserCase{
		{"https /health without an entry", curl + "https://localhost:PORT/health",
			[]string{`"error":"no-bridge-for-user"`, `"app":"Orion Bridge"`, "status=403"}},
		{"plain http /health without an entry", curl + "http://localhost:PORT/health",
			[]string{`"error":"no-bridge-for-user"`, "status=403"}},
		{"https /health with nobody's own entry", `printf '{"port":34567,"pid":%d}' $$ > DIR/65534.json && chmod 644 DIR/65534.json && ` + curl + "https://localhost:PORT/health; rm -f DIR/65534.json",
			[]string{`"error":"other-user"`, `"your_port":34567`, "status=403"}},
		{"the diagnostics page", curl + "https://localhost:PORT/", []string{"403 Forbidden: " + OtherUserText, "status=403"}},
		{"the WebSocket route", curl + "-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' https://localhost:PORT/ws",
			[]string{"403 Forbidden: " + OtherUserText, "status=403"}},
		{"the control API", curl + "https://localhost:PORT/api/snapshot", []string{"403 Forbidden: " + OtherUserText, "status=403"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := runNobody(t, strings.NewReplacer("PORT", port, "DIR", dir).Replace(tt.script))
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("as nobody: %s\ngot %s\nwant it to contain %s", tt.name, out, w)
				}
			}
		})
	}
	t.Run("the refusal is published with its kind and the peer's uid", func(t *testing.T) {
		for {
			select {
			case ev := <-sub.C:
				attrs := map[string]string{}
				for _, a := range ev.Log.Attrs {
					attrs[a.Key] = a.Value
				}
				if ev.Kind == LogRecord && attrs["refusal"] == "other-user" {
					if attrs["peer_user"] != strconv.Itoa(nobodyUID) || attrs["status"] != "403" {
						t.Errorf("refusal event %+v; want peer_user %d, status 403", ev.Log, nobodyUID)
					}
					return
				}
			case <-time.After(10 * time.Second): // hang guard
				t.Fatal("no refusal event with refusal=other-user")
			}
		}
	})
	t.Run("an entry planted under nobody's name is not believed", func(t *testing.T) {
		// Written by this user (root), not by nobody: the name lies.
		if err := os.WriteFile(entry, []byte(`{"port":1234,"pid":1}`), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(entry)
		out := runNobody(t, curl+"https://localhost:"+port+"/health")
		if !strings.Contains(out, `"error":"other-user"`) || strings.Contains(out, "your_port") {
			t.Errorf("with a planted entry: %s; want other-user without a port", out)
		}
	})
	t.Run("allow_other_users serves nobody", func(t *testing.T) {
		opts := b.settings.Load().opts
		opts.AllowOtherUsers = true
		if err := b.Reconfigure(opts); err != nil {
			t.Fatal(err)
		}
		out := runNobody(t, curl+"https://localhost:"+port+"/health")
		if !strings.Contains(out, `"status":"ok"`) || !strings.Contains(out, "status=200") {
			t.Errorf("with allow_other_users: %s; want 200 and the health document", out)
		}
	})
}

// runNobody runs script as nobody to its end and returns its output.
func runNobody(t *testing.T, script string) string {
	t.Helper()
	testutil.RequireRoot(t, "runuser starts a process as the user nobody")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // hang guard
	defer cancel()
	out, err := exec.CommandContext(ctx, "runuser", "-u", "nobody", "--", "bash", "-c", script).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("as nobody: %s: did not end: %s", script, out)
	}
	if err != nil {
		t.Logf("as nobody: %s: %v", script, err)
	}
	return string(out)
}

// announceTestDir is a fresh announce directory as the package makes it:
// root's, mode 1777.
func announceTestDir(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t, "the announce directory must be root's, and a second user's process must write in it")
	// Not under t.TempDir, whose folders are 0700: nobody must reach it.
	dir, err := os.MkdirTemp("", "orionbridge-announce-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAnnounceEntries writes and reads entries and refuses the ones that
// must not be believed.
func TestAnnounceEntries(t *testing.T) {
	dir := announceTestDir(t)
	me := strconv.Itoa(os.Getuid())
	remove, err := announce(dir, 23456)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok, err := ReadAnnouncement(dir, me); err != nil || !ok || a.Port != 23456 || a.PID != os.Getpid() {
		t.Fatalf("own entry: %+v %v %v", a, ok, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, me+".json")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("own entry's mode: %v %v; want 0644", fi, err)
	}
	remove()
	if _, ok, err := ReadAnnouncement(dir, me); ok || err != nil {
		t.Fatalf("after remove: ok=%v err=%v; want no entry", ok, err)
	}
	nobody := strconv.Itoa(nobodyUID)
	path := filepath.Join(dir, nobody+".json")
	tests := []struct {
		name  string
		plant func(t *testing.T)
		ok    bool
		err   string
	}{
		{"nobody's own entry", func(t *testing.T) {
			writeEntry(t, path, `{"port":40001,"pid":1}`, 0o644, nobodyUID)
		}, true, ""},
		{"owned by another user than its name", func(t *testing.T) {
			writeEntry(t, path, `{"port":40001,"pid":1}`, 0o644, 0)
		}, false, "not owned by uid 65534"},
		{"writable by others", func(t *testing.T) {
			writeEntry(t, path, `{"port":40001,"pid":1}`, 0o666, nobodyUID)
		}, false, "writable by others"},
		{"a symbolic link", func(t *testing.T) {
			other := filepath.Join(dir, "elsewhere")
			writeEntry(t, other, `{"port":40001,"pid":1}`, 0o644, nobodyUID)
			t.Cleanup(func() { os.Remove(other) })
			if err := os.Symlink(other, path); err != nil {
				t.Fatal(err)
			}
		}, false, "symbolic link"},
		{"a dead pid", func(t *testing.T) {
			writeEntry(t, path, `{"port":40001,"pid":999999999}`, 0o644, nobodyUID)
		}, false, ""},
		{"garbage", func(t *testing.T) {
			writeEntry(t, path, `{"port":"x"}`, 0o644, nobodyUID)
		}, false, "not a port and pid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(path)
			tt.plant(t)
			t.Cleanup(func() { os.Remove(path) })
			_, ok, err := ReadAnnouncement(dir, nobody)
			if ok != tt.ok || (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ReadAnnouncement = ok %v, err %v; want ok %v, err containing %q", ok, err, tt.ok, tt.err)
			}
		})
	}
	t.Run("a directory others can write without the sticky bit", func(t *testing.T) {
		open := filepath.Join(t.TempDir(), "open")
		if err := os.Mkdir(open, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(open, 0o777)
		if _, _, err := ReadAnnouncement(open, me); err == nil || !strings.Contains(err.Error(), "chmod 1777") {
			t.Errorf("ReadAnnouncement in a 0777 directory: %v; want a refusal naming chmod 1777", err)
		}
		if _, err := announce(open, 1); err == nil {
			t.Error("announce into a 0777 directory succeeded; want a refusal")
		}
	})
	t.Run("a key that is not a uid", func(t *testing.T) {
		if _, _, err := ReadAnnouncement(dir, "../etc/passwd"); err == nil {
			t.Error("ReadAnnouncement with a path as key: no error")
		}
	})
}

func writeEntry(t *testing.T, path, data string, mode os.FileMode, uid int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// TestPortRangeSkipsOtherUsersBridge: the configured port answers as
// another user's bridge does (403 other-user); the bridge takes the next
// free port of the range and notes why.
func TestPortRangeSkipsOtherUsersBridge(t *testing.T) {
	taken := otherUsersBridge(t)
	next := testutil.FreePort(t, taken)
	b := startBridge(t, testutil.EchoEngine(t), func(o *Options) {
		o.Port, o.PortRange = taken, [2]int{next, next}
	})
	if b.Port() != next {
		t.Fatalf("port %d; want %d, the range's free port", b.Port(), next)
	}
	if n := b.PortNote(); n != (PortNote{Wanted: taken, HeldBy: "another user"}) {
		t.Errorf("PortNote = %+v; want another user has %d", n, taken)
	}
	if s := b.Snapshot(); s.PortNote.HeldBy != "another user" || s.User == "" {
		t.Errorf("Snapshot: port note %+v, user %q", s.PortNote, s.User)
	}
}

// otherUsersBridge is a TLS server on a free port that answers /health
// as another user's bridge answers this process (peer_answer.go).
func otherUsersBridge(t *testing.T) int {
	t.Helper()
	ca := newTestCA(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(OtherUserAnswer{App: AppName, Error: DiscoveryNoBridge, Message: OtherUserText})
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.leaf}}}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// freePorts returns the first of n consecutive free loopback ports.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 100 {
		base, ok := testutil.FreePort(t), true
		for p := base + 1; p < base+n && ok; p++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if ok = err == nil; ok {
				ln.Close()
			}
		}
		if ok {
			return base
		}
	}
	t.Fatal("no run of free ports")
	return 0
}

// TestOwnEntrySaysAlreadyRunning: another user's bridge holds the
// configured port and this user's bridge already sits at the top of the
// range; a second one must say "already running", found through the
// announce entry, not take the free port below it.
func TestOwnEntrySaysAlreadyRunning(t *testing.T) {
	dir := announceTestDir(t)
	engine := testutil.EchoEngine(t)
	low := freePorts(t, 3)
	first := startBridge(t, engine, func(o *Options) { o.Port, o.AnnounceDir = low+2, dir })
	ca := newTestCA(t)
	second, err := New(Options{
		Port: otherUsersBridge(t), PortRange: [2]int{low, low + 2}, Hosts: []string{"127.0.0.1"}, AnnounceDir: dir,
		Routes:         []Route{{Path: "/ws", Target: engine}},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &ca.leaf, nil },
		LogHandler:     slog.DiscardHandler,
	})
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start()
	defer second.Stop()
	if err == nil || !strings.Contains(err.Error(), "already running at wss://localhost:"+strconv.Itoa(first.Port())) {
		t.Fatalf("second bridge: %v (port %d); want already running at %d", err, second.Port(), first.Port())
	}
}
