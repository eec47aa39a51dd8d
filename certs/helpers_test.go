package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"orionbridge/internal/testutil"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is the injected Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testOptions(clock *fakeClock, logs *testutil.LockedBuffer) Options {
	return Options{
		Now:        clock.Now,
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		CheckEvery: 10 * time.Millisecond,
		WatchEvery: 10 * time.Millisecond,
	}
}

func openLocal(t *testing.T, dir string, clock *fakeClock) (*Source, *testutil.LockedBuffer) {
	t.Helper()
	logs := &testutil.LockedBuffer{}
	s, err := OpenLocal(dir, testOptions(clock, logs))
	if err != nil {
		t.Fatalf("OpenLocal(%s): %v", dir, err)
	}
	return s, logs
}

// run starts s.Run and stops it at cleanup, failing if Run does not return.
func run(t *testing.T, s *Source) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := parseCertPEM(data)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return cert
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// serveEcho runs a TLS echo server on loopback that takes its certificate
// from src, as the bridge does.
func serveEcho(t *testing.T, src *Source) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: src.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, addr string, roots *x509.CertPool, clock *fakeClock) *tls.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost", Time: clock.Now})
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// echo checks the connection still carries data both ways.
func echo(t *testing.T, conn *tls.Conn, msg string) {
	t.Helper()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatalf("write on open connection: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatalf("read on open connection: %v", err)
	}
	if string(buf) != msg {
		t.Fatalf("echo = %q, want %q", buf, msg)
	}
}

func peerSerial(conn *tls.Conn) string {
	return serialHex(conn.ConnectionState().PeerCertificates[0])
}

func servedSerial(t *testing.T, s *Source) string {
	t.Helper()
	c, err := s.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return serialHex(c.Leaf)
}

func containsAny(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
