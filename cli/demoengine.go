package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func demoEngineCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo-engine", stderr)
	listen := fs.String("listen", "127.0.0.1:21400", "`address` to listen on")
	push := fs.Duration("push", 0, "also send every connection a timestamp line at this `interval` (e.g. 5s)")
	if status, ok := parseOnlyFlags(fs, args, stderr, ""); !ok {
		return status
	}
	if *push < 0 {
		fmt.Fprintf(stderr, "orionbridge demo-engine: --push %s: expected a positive interval such as 5s\n", *push)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "orionbridge demo-engine: listen %s: %v\n", *listen, err)
		return exitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("demo engine listening: echoes every byte", "addr", ln.Addr().String(), "push", push.String())
	DemoEngine{Push: *push, Log: log}.Serve(ctx, ln)
	return exitOK
}

// DemoEngine stands in for the report engine: it echoes every byte, and
// with Push set it also sends a timestamp line on its own, to show messages
// the engine starts.
type DemoEngine struct {
	Push time.Duration
	Log  *slog.Logger
}

// Serve accepts connections on ln until ctx is done, then closes them all.
func (e DemoEngine) Serve(ctx context.Context, ln net.Listener) {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				e.Log.Error("accept", "err", err)
			}
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); e.serveConn(ctx, c) }()
	}
	wg.Wait()
}

func (e DemoEngine) serveConn(ctx context.Context, c net.Conn) {
	e.Log.Info("connection opened", "client", c.RemoteAddr().String())
	defer context.AfterFunc(ctx, func() { c.Close() })()
	var mu sync.Mutex // the echo and the pusher both write
	write := func(p []byte) error {
		mu.Lock()
		defer mu.Unlock()
		_, err := c.Write(p)
		return err
	}
	done := make(chan struct{})
	var pusher sync.WaitGroup
	if e.Push > 0 {
		pusher.Add(1)
		go func() {
			defer pusher.Done()
			t := time.NewTicker(e.Push)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case now := <-t.C:
					if write([]byte("demo engine time "+now.Format(time.RFC3339)+"\n")) != nil {
						return
					}
				}
			}
		}()
	}
	buf := make([]byte, 32<<10)
	var n int64
	for {
		r, err := c.Read(buf)
		if r > 0 {
			if write(buf[:r]) != nil {
				break
			}
			n += int64(r)
		}
		if err != nil {
			break
		}
	}
	close(done)
	pusher.Wait()
	c.Close()
	e.Log.Info("connection closed", "client", c.RemoteAddr().String(), "bytes_echoed", n)
}
