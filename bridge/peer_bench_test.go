package bridge

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
)

// The per-user check's cost per new connection, next to what every new
// connection pays anyway: a TLS handshake (issue 16: under 5% of it).
// `go test -run '^$' -bench 'PeerCheck|TLSHandshake' ./bridge/`; the
// numbers are in README's "Shared computers and terminal servers".

// loopbackPair is one accepted loopback connection and its client end.
func loopbackPair(b *testing.B) (accepted, client net.Conn) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	accepted, err = ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { accepted.Close(); client.Close() })
	return accepted, client
}

// BenchmarkPeerCheck is checkPeer on an accepted loopback connection: on
// Linux one sock_diag netlink round trip for the exact 4-tuple.
func BenchmarkPeerCheck(b *testing.B) {
	c, _ := loopbackPair(b)
	b.ReportAllocs()
	for b.Loop() {
		if p := checkPeer(c); p.refused() {
			b.Fatalf("own connection refused: %+v", p)
		}
	}
}

// BenchmarkTLSHandshake is one new loopback connection with the bridge's
// TLS settings (TLS 1.3, the test CA's ECDSA P-256 leaf), both ends in
// this process, as a browser's new connection costs the bridge.
func BenchmarkTLSHandshake(b *testing.B) {
	ca := newTestCA(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srvConf := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{ca.leaf}, NextProtos: []string{"http/1.1"}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, srvConf)
			_ = tc.Handshake()
			tc.Close()
		}
	}()
	defer func() { ln.Close(); wg.Wait() }()
	cliConf := &tls.Config{RootCAs: ca.pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}, ClientSessionCache: nil}
	b.ReportAllocs()
	for b.Loop() {
		c, err := tls.Dial("tcp", ln.Addr().String(), cliConf)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
