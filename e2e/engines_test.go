//go:build linux

package e2e

// Real engines nobody here wrote, from Debian's packages: Redis and
// memcached, each started by the test on a free loopback port (never the
// system service), behind the real bridge binary.

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// engineOrigin is the page origin the engine tests' bridge allows.
const engineOrigin = "https://engines.example.com"

// startTCPEngine runs a third-party engine as a child process of the test
// and waits until addr accepts connections. The cleanup sends SIGTERM and
// fails the test unless it exits 0.
func startTCPEngine(t *testing.T, addr string, tool testutil.Tool, args ...string) *process {
	t.Helper()
	testutil.RequireTools(t, tool)
	cmd := exec.Command(tool.Name, args...)
	cmd.Dir = t.TempDir()
	p := startCmd(t, tool.Name, cmd)
	testutil.WaitFor(t, tool.Name+" listening on "+addr, func() bool {
		select {
		case <-p.done:
			t.Fatalf("%s exited: %v\n%s", tool.Name, p.err, p.out)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return p
}

// startRedis runs Debian's redis-server on a free port, with nothing saved.
func startRedis(t *testing.T) string {
	t.Helper()
	port := strconv.Itoa(testutil.FreePort(t))
	// redis-server --port N --bind 127.0.0.1 --save '' --appendonly no
	startTCPEngine(t, "127.0.0.1:"+port, testutil.Tool{Name: "redis-server", Deb: "redis-server"},
		"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	return "127.0.0.1:" + port
}

// startMemcached runs Debian's memcached on a free port, TCP only; as root
// it must be told a user to run as.
func startMemcached(t *testing.T) string {
	t.Helper()
	port := strconv.Itoa(testutil.FreePort(t))
	// memcached -l 127.0.0.1 -p N -U 0 -u nobody
	startTCPEngine(t, "127.0.0.1:"+port, testutil.Tool{Name: "memcached", Deb: "memcached"},
		"-l", "127.0.0.1", "-p", port, "-U", "0", "-u", "nobody")
	return "127.0.0.1:" + port
}

// engineBridge is the headless bridge binary, run with the given [[routes]]
// and max_message_bytes, in a fresh HOME.
type engineBridge struct {
	home, dataDir, config string
	port                  int
	proc                  *process
}

// route is one [[routes]] table to target; framing and lineEnding may be "".
type route struct{ path, framing, lineEnding string }

// routesTOML writes the routes, every one to target.
func routesTOML(target string, routes ...route) string {
	var b strings.Builder
	for _, r := range routes {
		fmt.Fprintf(&b, "[[routes]]\npath = %q\ntarget = %q\n", r.path, target)
		if r.framing != "" {
			fmt.Fprintf(&b, "framing = %q\n", r.framing)
		}
		if r.lineEnding != "" {
			fmt.Fprintf(&b, "line_ending = %q\n", r.lineEnding)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func startEngineBridge(t *testing.T, maxMessageBytes int, routes string) *engineBridge {
	t.Helper()
	bin := headlessBuild.build(t)
	e := &engineBridge{home: t.TempDir()}
	e.port = testutil.FreePort(t)
	e.dataDir = filepath.Join(e.home, "data")
	e.config = filepath.Join(e.home, "orionbridge.toml")
	body := fmt.Sprintf("port = %d\nfallback_ports = []\ndata_dir = %q\nallowed_origins = [%q]\nmax_message_bytes = %d\n\n%s",
		e.port, e.dataDir, engineOrigin, maxMessageBytes, routes)
	if err := os.WriteFile(e.config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", e.config)
	cmd.Env, cmd.Dir = isolatedEnv(e.home), e.home
	e.proc = startCmd(t, "bridge", cmd)
	e.proc.waitForOutput(t, `msg="bridge listening" endpoint=wss://localhost:`+strconv.Itoa(e.port)+" ")
	return e
}

// isolatedEnv is homeEnv with the machine-wide managed config pointed at a
// file that does not exist: these tests are about engines, and a managed
// file another test (or IT) left in /etc must not change their origins or
// routes.
func isolatedEnv(home string) []string {
	return append(homeEnv(home), "ORIONBRIDGE_MANAGED_CONFIG="+filepath.Join(home, "no-managed-config.toml"))
}

// url is the wss:// URL of a route.
func (e *engineBridge) url(path string) string {
	return "wss://localhost:" + strconv.Itoa(e.port) + path
}

// dial opens a session on path with gorilla, trusting the bridge's CA.
func (e *engineBridge) dial(t *testing.T, path string) *websocket.Conn {
	t.Helper()
	pool := testutil.CAPool(t, filepath.Join(e.dataDir, "certs", "ca.pem"))
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: waitLimit}
	c, _, err := d.Dial(e.url(path), map[string][]string{"Origin": {engineOrigin}})
	if err != nil {
		t.Fatalf("dial %s: %v", e.url(path), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends each command as a text message, then reads the replies.
type exchange struct {
	send []string
	want []string // messages, in order
}

// run writes every command before reading a reply (a pipeline), then reads
// exactly len(want) messages and compares each.
func (x exchange) run(t *testing.T, c *websocket.Conn) {
	t.Helper()
	for _, m := range x.send {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatalf("send %q: %v", m, err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	for i, want := range x.want {
		typ, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("reply %d of %d: %v (want %q)", i+1, len(x.want), err, want)
		}
		if string(p) != want || typ != websocket.TextMessage {
			t.Fatalf("reply %d of %d: %q (type %d), want text %q", i+1, len(x.want), p, typ, want)
		}
	}
}

// readRaw reads binary messages until n bytes have come, as raw framing
// splits the engine's stream wherever its reads fall.
func readRaw(t *testing.T, c *websocket.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	var got []byte
	for len(got) < n {
		typ, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v (so far %.200q)", len(got), n, err, got)
		}
		if typ != websocket.BinaryMessage {
			t.Fatalf("raw framing sent a message of type %d", typ)
		}
		got = append(got, p...)
	}
	return got
}

// burst is the pipelined burst: INCR on one key, so each reply names its
// place in the order.
const burst = 1000

// Redis behind `raw` (RESP) and `lines` with crlf (inline commands): exact
// replies, without a '\r' in any message on the crlf route, and a pipelined
// burst whose replies all come back, in order. The lf route shows what
// crlf fixes: the engine's '\r' reaches the page.
func TestRedisThroughBridge(t *testing.T) {
	redis := startRedis(t)
	b := startEngineBridge(t, 1<<20, routesTOML(redis,
		route{"/resp", "raw", ""}, route{"/inline", "lines", "crlf"}, route{"/inline-lf", "lines", ""}))

	t.Run("raw RESP", func(t *testing.T) {
		c := b.dial(t, "/resp")
		resp := func(args ...string) string {
			s := "*" + strconv.Itoa(len(args)) + "\r\n"
			for _, a := range args {
				s += "$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n"
			}
			return s
		}
		cmds := resp("PING") + resp("SET", "orion:resp", "bridge") + resp("GET", "orion:resp") + resp("GET", "orion:none")
		if err := c.WriteMessage(websocket.BinaryMessage, []byte(cmds)); err != nil {
			t.Fatal(err)
		}
		want := "+PONG\r\n+OK\r\n$6\r\nbridge\r\n$-1\r\n"
		if got := readRaw(t, c, len(want)); string(got) != want {
			t.Fatalf("replies %q, want %q", got, want)
		}

		// The burst, one message per command, written before any reply is read.
		var wantBurst bytes.Buffer
		for i := 1; i <= burst; i++ {
			if err := c.WriteMessage(websocket.BinaryMessage, []byte(resp("INCR", "orion:resp:burst"))); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&wantBurst, ":%d\r\n", i)
		}
		got := readRaw(t, c, wantBurst.Len())
		if replies := bytes.Count(got, []byte("\r\n")); replies != burst || !bytes.Equal(got, wantBurst.Bytes()) {
			t.Fatalf("%d replies to %d commands; first difference at byte %d", replies, burst, firstDiff(got, wantBurst.Bytes()))
		}
	})

	t.Run("lines crlf inline", func(t *testing.T) {
		c := b.dial(t, "/inline")
		exchange{
			send: []string{"PING", "SET orion bridge", "GET orion", "INCR hits", "INCR hits", "GET missing", "NOPE x", "ECHO \"two words\""},
			want: []string{"+PONG", "+OK", "$6", "bridge", ":1", ":2", "$-1",
				// Redis ends this reply with a space: only the '\r' goes.
				"-ERR unknown command 'NOPE', with args beginning with: 'x' ",
				"$9", "two words"},
		}.run(t, c)

		// The burst: 1,000 messages written back to back, 1,000 replies
		// counted, each the next number.
		send := make([]string, burst)
		want := make([]string, burst)
		for i := range burst {
			send[i], want[i] = "INCR orion:burst", ":"+strconv.Itoa(i+1)
		}
		exchange{send: send, want: want}.run(t, c)
		// Nothing more is on the way: a PING's reply is the next message.
		exchange{send: []string{"PING"}, want: []string{"+PONG"}}.run(t, c)
	})

	t.Run("lines lf keeps the CR", func(t *testing.T) {
		c := b.dial(t, "/inline-lf")
		// Redis takes a bare '\n' too; its replies keep their '\r' on this route.
		exchange{send: []string{"SET orion bridge", "GET orion"}, want: []string{"+OK\r", "$6\r", "bridge\r"}}.run(t, c)
	})
}

// memcached's text protocol is CRLF lines: set with its data line, get,
// incr, and a line over max_message_bytes either way, which the page sees
// as close 1009 naming the limit.
func TestMemcachedThroughBridge(t *testing.T) {
	mc := startMemcached(t)
	const limit = 4096
	b := startEngineBridge(t, limit, routesTOML(mc, route{"/memcached", "lines", "crlf"}))

	t.Run("set get incr", func(t *testing.T) {
		c := b.dial(t, "/memcached")
		exchange{
			send: []string{"set orion 0 0 6", "bridge", "get orion", "set hits 0 0 1", "5", "incr hits 10", "get nothing", "bogus"},
			want: []string{"STORED", "VALUE orion 0 6", "bridge", "END", "STORED", "15", "END", "ERROR"},
		}.run(t, c)
		// A data line of exactly max_message_bytes passes: CRLF is not counted.
		big := strings.Repeat("m", limit)
		exchange{
			send: []string{"set big 0 0 " + strconv.Itoa(limit), big, "get big"},
			want: []string{"STORED", "VALUE big 0 " + strconv.Itoa(limit), big, "END"},
		}.run(t, c)
	})

	t.Run("browser line over the limit", func(t *testing.T) {
		c := b.dial(t, "/memcached")
		if err := c.WriteMessage(websocket.TextMessage, []byte("set k 0 0 1 "+strings.Repeat("x", limit))); err != nil {
			t.Fatal(err)
		}
		// The page sees 1009 with no reason: gorilla sends that close the
		// moment the frame header announces too many bytes, before the
		// bridge can word one. The bridge's log names the limit.
		code, reason, _ := readCloseMessage(t, c)
		if code != websocket.CloseMessageTooBig || reason != "" {
			t.Fatalf("close %d %q, want 1009 without a reason", code, reason)
		}
		b.proc.waitForOutput(t, `code=1009 reason="browser message exceeds max_message_bytes 4096"`)
	})

	t.Run("engine line over the limit", func(t *testing.T) {
		// Stored straight into memcached, past the bridge: a value one byte
		// longer than any message may be.
		direct, err := net.DialTimeout("tcp", mc, waitLimit)
		if err != nil {
			t.Fatal(err)
		}
		defer direct.Close()
		fmt.Fprintf(direct, "set huge 0 0 %d\r\n%s\r\n", limit+1, strings.Repeat("h", limit+1))
		reply := make([]byte, len("STORED\r\n"))
		_ = direct.SetReadDeadline(time.Now().Add(waitLimit))
		if _, err := direct.Read(reply); err != nil || string(reply) != "STORED\r\n" {
			t.Fatalf("seeding memcached: %q, %v", reply, err)
		}

		c := b.dial(t, "/memcached")
		if err := c.WriteMessage(websocket.TextMessage, []byte("get huge")); err != nil {
			t.Fatal(err)
		}
		code, reason, data := readCloseMessage(t, c)
		if code != websocket.CloseMessageTooBig || reason != "engine line exceeds max_message_bytes 4096" {
			t.Fatalf("close %d %q, want 1009 engine line exceeds max_message_bytes 4096", code, reason)
		}
		if len(data) != 1 || data[0] != "VALUE huge 0 4097" {
			t.Errorf("before the close the page got %q, want the VALUE line", data)
		}
	})
}

// readCloseMessage reads messages until the bridge closes the session.
func readCloseMessage(t *testing.T, c *websocket.Conn) (code int, reason string, data []string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		_, p, err := c.ReadMessage()
		var ce *websocket.CloseError
		switch {
		case errors.As(err, &ce):
			return ce.Code, ce.Text, data
		case err != nil:
			t.Fatalf("want a close frame, got %v", err)
		}
		data = append(data, string(p))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
