package bridge

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"orionbridge/internal/testutil"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// readN reads one echoed payload of n bytes from the bridge. In raw framing
// the echo may arrive split over several messages.
func readN(ws *websocket.Conn, n int) error {
	for got := 0; got < n; {
		_, p, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		got += len(p)
	}
	return nil
}

// echoPair connects to one echo engine twice: through a bridge, and directly.
func echoPair(b *testing.B) (*websocket.Conn, net.Conn) {
	e := startEngine(b, echo)
	ws := mustDial(b, startBridge(b, e.addr, nil))
	direct, err := net.Dial("tcp", e.addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { direct.Close() })
	return ws, direct
}

// BenchmarkRoundTrip times one message echoed by the engine, through the
// bridge and directly over TCP, alternating in the same loop so both see the
// same machine load. "ratio" is bridge time over direct time.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{64, 4096} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			ws, direct := echoPair(b)
			msg, buf := make([]byte, size), make([]byte, size)
			var viaBridge, viaTCP time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if _, err := direct.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(direct, buf); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
					b.Fatal(err)
				}
				if err := readN(ws, size); err != nil {
					b.Fatal(err)
				}
				viaTCP += t1.Sub(t0)
				viaBridge += time.Since(t1)
			}
			b.ReportMetric(float64(viaBridge.Nanoseconds())/float64(b.N), "bridge-ns/rt")
			b.ReportMetric(float64(viaTCP.Nanoseconds())/float64(b.N), "tcp-ns/rt")
			b.ReportMetric(float64(viaBridge)/float64(viaTCP), "ratio")
		})
	}
}

// BenchmarkThroughput streams 64 KiB messages through the echo engine and
// back, through the bridge and directly, and reports MB/s for each.
func BenchmarkThroughput(b *testing.B) {
	const size = 64 << 10
	ws, direct := echoPair(b)
	msg := make([]byte, size)
	b.SetBytes(size)
	b.ResetTimer()

	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- readN(ws, b.N*size) }()
	for range b.N {
		if err := ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	viaBridge := time.Since(start)

	start = time.Now()
	go func() {
		_, err := io.CopyN(io.Discard, direct, int64(b.N*size))
		done <- err
	}()
	for range b.N {
		if _, err := direct.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	viaTCP := time.Since(start)

	mb := float64(b.N*size) / 1e6
	b.ReportMetric(mb/viaBridge.Seconds(), "bridge-MB/s")
	b.ReportMetric(mb/viaTCP.Seconds(), "tcp-MB/s")
	b.ReportMetric(viaTCP.Seconds()/viaBridge.Seconds(), "ratio") // bridge speed over TCP speed
}

// The benchmarks below run the engine and the browser in a helper process
// (the test binary again, which TestMain turns into runBenchHelper), so the
// benchmark's own
// process holds the bridge alone: its allocations and memory are the
// bridge's, with no client or engine mixed in.
const benchHelperEnv = "ORIONBRIDGE_BENCH_HELPER"

// benchHelper is the helper process of one benchmark run.
type benchHelper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	engine string // the helper's engine address
}

// startBenchHelper starts the helper in mode ("echo" or "idle") and reads
// its engine address.
func startBenchHelper(b *testing.B, mode string) *benchHelper {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchHelperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	h := &benchHelper{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)}
	b.Cleanup(func() { h.stdin.Close(); _ = h.cmd.Wait() })
	h.engine = h.expect(b, "")
	return h
}

// say sends the helper one line.
func (h *benchHelper) say(b *testing.B, format string, a ...any) {
	if _, err := fmt.Fprintf(h.stdin, format+"\n", a...); err != nil {
		b.Fatal(err)
	}
}

// expect reads the helper's next line, which must be want unless want is "".
func (h *benchHelper) expect(b *testing.B, want string) string {
	if !h.lines.Scan() {
		b.Fatalf("the helper exited (waiting for %q)", want)
	}
	got := h.lines.Text()
	if want != "" && got != want {
		b.Fatalf("the helper said %q, want %q", got, want)
	}
	return got
}

// BenchmarkRelayAllocs times raw-framing round trips (browser → engine →
// browser) through a bridge in this process, with the browser and the echo
// engine in the helper process, and reports what the bridge allocates per
// round trip (allocs/op counts this process only).
func BenchmarkRelayAllocs(b *testing.B) {
	for _, size := range []int{64, 4096, 32 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			h := startBenchHelper(b, "echo")
			br := startBridge(b, h.engine, nil)
			h.say(b, "%d %d %d", br.Port(), size, b.N)
			h.expect(b, "warm") // 100 round trips warmed the pools and TLS records
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			h.say(b, "go")
			h.expect(b, "done")
			b.StopTimer()
		})
	}
}

// BenchmarkFramedMessageMemory sends large text messages on framed routes,
// one at a time on each of 4 sessions at once, and reports the peak of the
// bridge's heap (sampled every millisecond, over the idle baseline) per
// session, and that peak over the message size: a framed message is held
// whole while it is checked, so about 1 is the floor; a doubling buffer
// held about 2 and more. The browsers and the engine are in the helper
// process, so the heap is the bridge's alone.
func BenchmarkFramedMessageMemory(b *testing.B) {
	const sessions, size = 4, 8 << 20
	for _, framing := range []Framing{FramingLines, FramingLengthPrefixed} {
		b.Run(string(framing), func(b *testing.B) {
			h := startBenchHelper(b, "framed")
			br := startBridge(b, h.engine, func(o *Options) { o.Routes[0].Framing = framing })
			h.say(b, "%d %d %d %d", br.Port(), size, sessions, b.N)
			h.expect(b, "ready")
			runtime.GC()
			sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
			metrics.Read(sample)
			base := sample[0].Value.Uint64()
			var peak atomic.Uint64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
				for {
					metrics.Read(s)
					if v := s[0].Value.Uint64(); v > peak.Load() {
						peak.Store(v)
					}
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
				}
			}()
			b.SetBytes(sessions * size)
			b.ResetTimer()
			h.say(b, "go")
			h.expect(b, "done")
			b.StopTimer()
			close(stop)
			<-sampled
			perSession := float64(int64(peak.Load())-int64(base)) / sessions
			b.ReportMetric(perSession, "peak-heap-B/session")
			b.ReportMetric(perSession/size, "peak/message")
		})
	}
}

var idleHeapProfile = flag.String("idle-heap-profile", "", "write a heap profile to this `file` while BenchmarkIdleSessionMemory holds its sessions")

// BenchmarkIdleSessionMemory holds b.N idle raw sessions and reports the
// bridge's heap and goroutine stacks per session, after a GC. ns/op is the
// time to open one session, TLS and WebSocket handshakes included, with
// 16 opening at once. Run with e.g. -benchtime 5000x -memprofile mem.out
// for a heap profile at 5,000 sessions (each costs this process two file
// descriptors and the helper two).
func BenchmarkIdleSessionMemory(b *testing.B) {
	h := startBenchHelper(b, "idle")
	br := startBridge(b, h.engine, func(o *Options) { o.MaxClients = b.N + 1 })
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	h.say(b, "%d %d", br.Port(), b.N)
	h.expect(b, "ready")
	testutil.WaitFor(b, "every session open", func() bool { return len(br.Snapshot().Sessions) == b.N })
	b.StopTimer()
	// Each GC halves the stacks that use under a quarter of their size; a
	// few cycles reach what a long-idle bridge holds.
	for range 4 {
		runtime.GC()
	}
	runtime.ReadMemStats(&after)
	if *idleHeapProfile != "" {
		f, err := os.Create(*idleHeapProfile)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	n := float64(b.N)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "alloc-B/session")
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/n, "heap-B/session")
	b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/n, "stack-B/session")
	b.ReportMetric(float64(runtime.NumGoroutine())/n, "goroutines/session")
	h.stdin.Close() // the helper closes every session
	testutil.WaitFor(b, "every session closed", func() bool { return len(br.Snapshot().Sessions) == 0 })
}

// runBenchHelper is the helper process of the benchmarks above, which
// TestMain runs instead of the tests when benchHelperEnv is set. It listens as the engine (an echo, or
// one that accepts and holds), prints its address, then reads commands on
// stdin:
//
//	echo: "PORT SIZE N": open a session, 100 warm-up round trips, "warm";
//	      then "go": N round trips of SIZE bytes, "done".
//	idle: "PORT N": open N sessions (16 at a time), "ready"; hold them
//	      until stdin closes.
//	framed: "PORT SIZE SESSIONS N": open SESSIONS sessions, "ready"; then
//	      "go": N rounds of one SIZE-byte text message on every session at
//	      once, each round until the engine got them, "done".
func runBenchHelper(mode string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		benchHelperFatal(err)
	}
	var mu sync.Mutex
	var held []io.Closer
	var received atomic.Int64 // framed: bytes the engine got
	hold := func(c io.Closer) { mu.Lock(); held = append(held, c); mu.Unlock() }
	defer func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hold(c)
			switch mode {
			case "echo":
				go func() { _, _ = io.Copy(c, c) }()
			case "framed":
				go func() {
					buf := make([]byte, 64<<10)
					for {
						n, err := c.Read(buf)
						received.Add(int64(n))
						if err != nil {
							return
						}
					}
				}()
			}
		}
	}()
	fmt.Println(ln.Addr().String())
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		return
	}
	var port, size, n int
	dialer := websocket.Dialer{
		// The bridge's test CA lives in the other process.
		TLSClientConfig:  &tls.Config{InsecureSkipVerify: true},
		HandshakeTimeout: 10 * time.Second,
		WriteBufferPool:  &sync.Pool{},
	}
	dial := func() (*websocket.Conn, error) {
		c, _, err := dialer.Dial("wss://127.0.0.1:"+strconv.Itoa(port)+"/ws", http.Header{"Origin": {testOrigin}})
		if err == nil {
			hold(c)
		}
		return c, err
	}
	switch mode {
	case "echo":
		if _, err := fmt.Sscan(in.Text(), &port, &size, &n); err != nil {
			benchHelperFatal(err)
		}
		ws, err := dial()
		if err != nil {
			benchHelperFatal(err)
		}
		conn := ws.NetConn() // the TLS connection, past the handshake
		frame, buf := maskedFrame(size), make([]byte, 64<<10)
		roundTrip := func() {
			if _, err := conn.Write(frame); err != nil {
				benchHelperFatal(err)
			}
			if err := readFrames(conn, buf, size); err != nil {
				benchHelperFatal(err)
			}
		}
		for range 100 {
			roundTrip()
		}
		fmt.Println("warm")
		if !in.Scan() {
			return
		}
		for range n {
			roundTrip()
		}
		fmt.Println("done")
	case "framed":
		var sessions int
		if _, err := fmt.Sscan(in.Text(), &port, &size, &sessions, &n); err != nil {
			benchHelperFatal(err)
		}
		conns := make([]*websocket.Conn, sessions)
		for i := range conns {
			if conns[i], err = dial(); err != nil {
				benchHelperFatal(err)
			}
		}
		msg := bytes.Repeat([]byte{'x'}, size)
		fmt.Println("ready")
		if !in.Scan() {
			return
		}
		// Every session sends one message at once, then waits until the
		// engine has it all: the bridge holds all of them at the peak.
		var want int64
		for range n {
			var wg sync.WaitGroup
			for _, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
						benchHelperFatal(err)
					}
				}()
			}
			wg.Wait()
			want += int64(sessions) * int64(size+1) // at least 1 byte of framing each
			for received.Load() < want {
				time.Sleep(time.Millisecond)
			}
		}
		fmt.Println("done")
	case "idle":
		if _, err := fmt.Sscan(in.Text(), &port, &n); err != nil {
			benchHelperFatal(err)
		}
		var wg sync.WaitGroup
		var next atomic.Int64
		var failed atomic.Value
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					if _, err := dial(); err != nil {
						failed.CompareAndSwap(nil, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := failed.Load(); err != nil {
			fmt.Println("dial failed:", err)
			return
		}
		fmt.Println("ready")
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// benchHelperFatal ends the helper process; the benchmark sees its stderr
// and the end of its output.
func benchHelperFatal(err error) {
	fmt.Fprintln(os.Stderr, "bench helper:", err)
	os.Exit(1)
}

// maskedFrame is one final binary frame from a browser, masked as RFC 6455
// requires, built once so the round trips allocate nothing.
func maskedFrame(size int) []byte {
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	f := []byte{0x82}
	switch {
	case size < 126:
		f = append(f, 0x80|byte(size))
	case size < 1<<16:
		f = append(f, 0x80|126, byte(size>>8), byte(size))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(size))
	}
	f = append(f, mask[:]...)
	for i := range size {
		f = append(f, byte(i)^mask[i%4])
	}
	return f
}

// readFrames reads unmasked binary frames from the bridge until want
// payload bytes came, using only buf. In raw framing the echo may come back
// split over several messages.
func readFrames(r io.Reader, buf []byte, want int) error {
	for got := 0; got < want; {
		if _, err := io.ReadFull(r, buf[:2]); err != nil {
			return err
		}
		if buf[0] != 0x80|websocket.BinaryMessage {
			return fmt.Errorf("unexpected frame %#x", buf[0])
		}
		n := int(buf[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(r, buf[:2]); err != nil {
				return err
			}
			n = int(binary.BigEndian.Uint16(buf[:2]))
		case 127:
			if _, err := io.ReadFull(r, buf[:8]); err != nil {
				return err
			}
			n = int(binary.BigEndian.Uint64(buf[:8]))
		}
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return err
		}
		got += n
	}
	return nil
}
