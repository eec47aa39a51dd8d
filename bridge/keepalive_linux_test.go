package bridge

import (
	"net"
	"orionbridge/internal/testutil"
	"os"
	"syscall"
	"testing"
)

// The engine connection has TCP keepalive only when the engine is on
// another host: on loopback the kernel answers probes for any socket that
// exists, and dropped probes closed idle sessions at scale
// (docs/benchmarks.md, "Sessions closed while idle").
func TestEngineKeepAliveFitsTarget(t *testing.T) {
	tests := []struct {
		name    string
		host    string
		want    int // SO_KEEPALIVE
		wantIdl int // TCP_KEEPIDLE in seconds, when on
	}{
		{"loopback", "127.0.0.1", 0, 0},
		{"another address", nonLoopbackIPv4(t), 1, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", net.JoinHostPort(tt.host, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				if c, err := ln.Accept(); err == nil {
					defer c.Close()
					buf := make([]byte, 1)
					c.Read(buf) // until the bridge closes it
				}
			}()
			b := startBridge(t, ln.Addr().String(), nil)
			c := mustDial(t, b)
			var engine net.Conn
			testutil.WaitFor(t, "the session to open", func() bool {
				b.mu.Lock()
				defer b.mu.Unlock()
				for _, s := range b.sessions {
					s.mu.Lock()
					engine = s.engine
					s.mu.Unlock()
				}
				return engine != nil
			})
			if got := sockopt(t, engine, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE); got != tt.want {
				t.Errorf("SO_KEEPALIVE %d, want %d", got, tt.want)
			}
			if tt.want == 1 {
				if got := sockopt(t, engine, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE); got != tt.wantIdl {
					t.Errorf("TCP_KEEPIDLE %d, want %d", got, tt.wantIdl)
				}
			}
			c.Close()
		})
	}
}

func sockopt(t *testing.T, c net.Conn, level, opt int) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	if err := rc.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), level, opt) }); err != nil || serr != nil {
		t.Fatalf("getsockopt: %v %v", err, serr)
	}
	return v
}

// nonLoopbackIPv4 is an address of this machine that is not loopback.
func nonLoopbackIPv4(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this machine has no non-loopback IPv4 address to test the engine keepalive of a remote target with")
	}
	t.Skip("no non-loopback IPv4 address")
	return ""
}
