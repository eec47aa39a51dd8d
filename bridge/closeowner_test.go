package bridge

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"orionbridge/internal/testutil"
)

// Pause, Disconnect and EngineExited close sessions in the background. Stop
// owns those goroutines: it returns only after each has finished, so no
// close outlives the bridge that started it.
func TestStopWaitsForBackgroundCloses(t *testing.T) {
	tests := map[string]func(b *Bridge, id string) error{
		"Disconnect": func(b *Bridge, id string) error { return b.Disconnect(id) },
		"Pause":      func(b *Bridge, _ string) error { return b.Pause() },
		"EngineExited": func(b *Bridge, _ string) error {
			b.EngineExited("/ws", "engine exited with status 1", false)
			return nil
		},
	}
	for name, closeIt := range tests {
		t.Run(name, func(t *testing.T) {
			e := startEngine(t, echo)
			// The held closes keep their sessions open: Stop then
			// closes them itself after the grace.
			b := startBridge(t, e.addr, func(o *Options) { o.ShutdownGrace = 50 * time.Millisecond })
			mustDial(t, b)
			testutil.WaitFor(t, "the session", func() bool { return len(b.Snapshot().Sessions) == 1 })

			entered, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			b.mu.Lock()
			b.testHookClosing = func() { // Stop's own closes come here too
				once.Do(func() { close(entered) })
				<-release
			}
			b.mu.Unlock()
			if err := closeIt(b, b.Snapshot().Sessions[0].ID); err != nil {
				t.Fatal(err)
			}
			<-entered // the background close is under way, held by the hook

			stopped := make(chan error, 1)
			go func() { stopped <- b.Stop() }()
			// Stop must come to wait for the held close; before it had an
			// owner, Stop returned with the close still running.
			testutil.WaitFor(t, "Stop waiting for the background close", func() bool {
				select {
				case err := <-stopped:
					close(release)
					t.Fatalf("Stop returned (%v) while a close it started was still running", err)
				default:
				}
				return goroutineIn("(*Bridge).waitForCloses")
			})
			close(release)
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// goroutineIn reports whether some goroutine is inside the function fn.
func goroutineIn(fn string) bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn)
}
