//go:build linux

package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// ackEvery is how many bytes the sink receives per one-byte answer; the
// upload figure counts the answers.
const ackEvery = 1 << 20

// bulkSize is the message size of the throughput figures.
const bulkSize = 64 << 10

// engineMain is `orionbench engine`: the echo engine every target relays
// to, in its own process. It listens once per kind on 127.0.0.1, prints
// "echo=ADDR sink=ADDR source=ADDR" and runs until its stdin closes (the
// load tool exited).
func engineMain(args []string) int {
	fs := flag.NewFlagSet("orionbench engine", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	handlers := map[string]func(net.Conn){kindEcho: echoConn, kindSink: sinkConn, kindSource: sourceConn}
	var parts []string
	for _, k := range kinds {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "engine:", err)
			return 1
		}
		go acceptLoop(ln, handlers[k])
		parts = append(parts, k+"="+ln.Addr().String())
	}
	fmt.Println(strings.Join(parts, " "))
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

func acceptLoop(ln net.Listener, handle func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// e.g. too many open files: say so, and keep serving.
			fmt.Fprintln(os.Stderr, "accept:", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go handle(c)
	}
}

// echoConn writes back every byte as soon as it is read.
func echoConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// sinkConn discards what it reads and writes one byte for every ackEvery
// bytes received, so the client can time the upload end to end.
func sinkConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, bulkSize)
	ack := make([]byte, 64)
	var total, acked int64
	for {
		n, err := c.Read(buf)
		total += int64(n)
		for due := total/ackEvery - acked; due > 0; {
			k := min(due, int64(len(ack)))
			if _, werr := c.Write(ack[:k]); werr != nil {
				return
			}
			acked += k
			due -= k
		}
		if err != nil {
			return
		}
	}
}

// sourceConn sends bulkSize writes until the connection fails.
func sourceConn(c net.Conn) {
	defer c.Close()
	go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
	buf := make([]byte, bulkSize)
	for {
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// relayMain is `orionbench tls-relay`, the plain TLS floor, and `orionbench
// tcp-relay`, the cost of one more hop. The TLS relay terminates TLS with
// the bridge's own certificate and copies bytes to and from the engine, with
// no WebSocket framing: the least any TLS bridge must do. The TCP relay
// copies without TLS. Arguments: -cert and -key (TLS only) and NAME=TARGET
// pairs; it prints "NAME=ADDR ..." and runs until stdin closes.
func relayMain(args []string, useTLS bool) int {
	name := "orionbench tcp-relay"
	if useTLS {
		name = "orionbench tls-relay"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	certFile := fs.String("cert", "", "certificate PEM")
	keyFile := fs.String("key", "", "key PEM")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var conf *tls.Config
	if useTLS {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, name+":", err)
			return 1
		}
		conf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	var parts []string
	for _, pair := range fs.Args() {
		name, target, ok := strings.Cut(pair, "=")
		if !ok {
			fmt.Fprintln(os.Stderr, name+": expected NAME=TARGET, got", pair)
			return 2
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, name+":", err)
			return 1
		}
		go acceptLoop(ln, func(c net.Conn) {
			if conf != nil {
				c = tls.Server(c, conf)
			}
			relay(c, target)
		})
		parts = append(parts, name+"="+ln.Addr().String())
	}
	fmt.Println(strings.Join(parts, " "))
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	return 0
}

// relay copies both ways with io.Copy, as a straightforward relay does.
func relay(c net.Conn, target string) {
	defer c.Close()
	if tc, ok := c.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			return
		}
	}
	e, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer e.Close()
	var once sync.Once
	done := func() { once.Do(func() { c.Close(); e.Close() }) }
	go func() { _, _ = io.Copy(e, c); done() }()
	_, _ = io.Copy(c, e)
	done()
}
