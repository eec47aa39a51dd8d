// Command democlient plays browser pages against a running bridge, for the
// README's screenshots (tray/screenshots.sh): it opens sessions that send
// messages to the demo engine, or asks to connect from a site that is not
// allowed, so that the bridge shows its consent prompt.
//
//	democlient ports N                 print N free loopback ports
//	democlient sessions [flags]        open sessions and keep them busy
//	democlient ask [flags]             connect once from --origin and report the outcome
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "ports":
		err = ports(os.Args[2:])
	case "sessions":
		err = sessions(ctx, os.Args[2:])
	case "ask":
		err = ask(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "democlient:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: democlient ports N | sessions --url URL --ca FILE --origins A,B [--count N] | ask --url URL --ca FILE --origin O")
	os.Exit(2)
}

// ports prints free loopback ports, one a line, for the script's config.
func ports(args []string) error {
	n := 1
	if len(args) > 0 {
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil || n < 1 {
			return fmt.Errorf("ports: expected a count, got %q", args[0])
		}
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

// common flags of sessions and ask.
type target struct {
	url, ca string
}

func (t *target) flags(fs *flag.FlagSet) {
	fs.StringVar(&t.url, "url", "", "the bridge's endpoint, wss://localhost:PORT/ws")
	fs.StringVar(&t.ca, "ca", "", "the bridge's CA certificate, <data_dir>/certs/ca.pem")
}

func (t *target) dialer() (*websocket.Dialer, error) {
	if t.url == "" || t.ca == "" {
		return nil, errors.New("--url and --ca are required")
	}
	pem, err := os.ReadFile(t.ca)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", t.ca)
	}
	return &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 45 * time.Second}, nil
}

// sessions opens --count sessions, cycling through --origins, and keeps
// each sending messages of assorted sizes until interrupted. The first
// session ends after a few seconds, so the totals count a closed one too.
func sessions(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sessions", flag.ExitOnError)
	var t target
	t.flags(fs)
	origins := fs.String("origins", "https://editor.example.com", "comma-separated Origin headers to use in turn")
	count := fs.Int("count", 4, "sessions to open")
	_ = fs.Parse(args)
	d, err := t.dialer()
	if err != nil {
		return err
	}
	list := strings.Split(*origins, ",")
	var wg sync.WaitGroup
	errs := make(chan error, *count)
	for i := range *count {
		c, _, err := d.DialContext(ctx, t.url, http.Header{"Origin": {list[i%len(list)]}})
		if err != nil {
			return fmt.Errorf("session %d: %w", i+1, err)
		}
		life := ctx
		if i == 0 {
			var cancel context.CancelFunc
			life, cancel = context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- chatter(life, c, i)
		}()
		time.Sleep(300 * time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// chatter sends a message every few hundred milliseconds and reads the
// echoes, then closes normally.
func chatter(ctx context.Context, c *websocket.Conn, n int) error {
	defer c.Close()
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	r := rand.New(rand.NewPCG(uint64(n), 42))
	for {
		size := 200 + r.IntN(60<<10)
		msg := fmt.Sprintf("render report %d page %d ", n+1, r.IntN(100)) + strings.Repeat("x", size)
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			return fmt.Errorf("session %d: %w", n+1, err)
		}
		select {
		case <-ctx.Done():
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "page closed"), time.Now().Add(time.Second))
			return nil
		case <-time.After(time.Duration(150+r.IntN(500)) * time.Millisecond):
		}
	}
}

// ask connects once from an origin that is not allowed: the bridge holds the
// upgrade while its consent prompt is open, then accepts or refuses.
func ask(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ask", flag.ExitOnError)
	var t target
	t.flags(fs)
	origin := fs.String("origin", "https://shop.example.com", "the Origin header")
	_ = fs.Parse(args)
	d, err := t.dialer()
	if err != nil {
		return err
	}
	c, resp, err := d.DialContext(ctx, t.url, http.Header{"Origin": {*origin}})
	if err != nil {
		status := ""
		if resp != nil {
			status = " (" + resp.Status + ")"
		}
		fmt.Printf("%s was refused%s\n", *origin, status)
		return nil
	}
	defer c.Close()
	fmt.Printf("%s was let in\n", *origin)
	return nil
}
