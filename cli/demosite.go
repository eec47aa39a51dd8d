package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"orionbridge/assets"
)

// demoSiteCommand serves the example editor page: a stand-in for the shop
// page an integrator would build, embedding the editor in an iframe and
// talking to the bridge through the JS client. Plain HTTP on loopback only:
// http://127.0.0.1 and http://localhost are secure contexts to a browser, so
// the page may use the bridge like an https site would.
func demoSiteCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo-site", stderr)
	listen := fs.String("listen", "127.0.0.1:21480", "loopback `address` to serve the example page on")
	if status, ok := parseOnlyFlags(fs, args, stderr, ""); !ok {
		return status
	}
	if err := checkLoopbackAddr(*listen); err != nil {
		fmt.Fprintf(stderr, "orionbridge demo-site: --listen %s: %v\n", *listen, err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "orionbridge demo-site: listen %s: %v\n", *listen, err)
		return exitFailure
	}
	port := ln.Addr().(*net.TCPAddr).Port
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv := &http.Server{
		Handler:           DemoSiteHandler(port),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	p := strconv.Itoa(port)
	log.Info("demo site listening", "url", "http://127.0.0.1:"+p+"/",
		"editor_origin", "http://localhost:"+p,
		"hint", "the editor iframe is served from http://localhost:"+p+": add that origin to allowed_origins (or allow it in the tray)")
	fmt.Fprintf(stdout, "Open http://127.0.0.1:%s/ (the shop page); its editor iframe is http://localhost:%s, which the bridge must allow.\n", p, p)
	select {
	case err := <-served:
		fmt.Fprintf(stderr, "orionbridge demo-site: %v\n", err)
		return exitFailure
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "orionbridge demo-site: %v\n", err)
		return exitFailure
	}
	log.Info("demo site stopped")
	return exitOK
}

// checkLoopbackAddr accepts host:port where host is a loopback IP or
// localhost: the demo site is for this machine only.
func checkLoopbackAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("expected host:port: %w", err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("the port must be a number 0-65535")
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errors.New("the demo site listens on loopback only: use 127.0.0.1:PORT, [::1]:PORT or localhost:PORT")
}

// demoSiteCSP lets the example pages run their own scripts, frame each
// other across the two loopback names (the shop on one, the editor on the
// other, so the iframe is cross-origin as it is in real life), and reach the
// bridge on any port: https and wss for the client, http for its
// certificate probe, and scripts from https://localhost so a page may import
// client.js straight from the bridge.
const demoSiteCSP = "default-src 'self'; script-src 'self' https://localhost:*; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' https://localhost:* wss://localhost:* http://localhost:*; " +
	"frame-src 'self' http://localhost:%[1]d http://127.0.0.1:%[1]d; " +
	"frame-ancestors 'self' http://localhost:%[1]d http://127.0.0.1:%[1]d; base-uri 'none'; form-action 'none'"

// DemoSiteHandler serves assets/web/example/ at / and the JS client at
// /client.js (and its types at /client.d.ts), as an integrator's site would
// serve its own copy, and the pages' translations (/i18n.js, /i18n/*.json).
func DemoSiteHandler(port int) http.Handler {
	web, err := fs.Sub(assets.Web, "web")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	example, err := fs.Sub(web, "example")
	if err != nil {
		panic(err)
	}
	csp := fmt.Sprintf(demoSiteCSP, port)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", csp)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		files := example
		switch name {
		case "":
			name = "index.html" // ServeFileFS redirects /index.html itself to /
		case "client.js", "client.d.ts", "favicon.svg", "i18n.js":
			files = web
		}
		// The example pages speak the browser's language from the
		// catalogues the bridge serves (issue 18): the same files.
		if strings.HasPrefix(name, "i18n/") {
			files = web
		}
		if fi, err := fs.Stat(files, name); err != nil || fi.IsDir() {
			http.Error(w, "404 not found", http.StatusNotFound)
			return
		}
		http.ServeFileFS(w, r, files, name)
	})
}
