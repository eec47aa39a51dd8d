package bridge

import (
	"fmt"
	"io"
	"net"
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
