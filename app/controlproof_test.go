package app

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
)

// TestAttachSendsTheSecretOnlyToItsBridge: a program that holds the port
// with a certificate the client trusts (as any local account can with the
// machine leaf, whose key every user can read) but does not know the
// control secret gets no Authorization header: Attach stops at the proof.
func TestAttachSendsTheSecretOnlyToItsBridge(t *testing.T) {
	in := startInstance(t)
	cfg := in.RunningConfig()
	leaf, err := tls.LoadX509KeyPair(filepath.Join(cfg.DataDir, "certs", "leaf.pem"), filepath.Join(cfg.DataDir, "certs", "leaf-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		proof func(w http.ResponseWriter, r *http.Request)
	}{
		{"no proof endpoint", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }},
		{"a made-up proof", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(proofAnswerHeader, r.Header.Get(proofNonceHeader)) // echoes the nonce
			w.WriteHeader(http.StatusNoContent)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var secrets []string
			impostor := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if a := r.Header.Get("Authorization"); a != "" {
					mu.Lock()
					secrets = append(secrets, a)
					mu.Unlock()
				}
				if r.URL.Path == proofPath {
					tc.proof(w, r)
					return
				}
				w.Write([]byte(`{"mode":"headless"}`))
			})}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go impostor.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{leaf}}))
			defer impostor.Close()

			r, err := Attach(cfg, ln.Addr().(*net.TCPAddr).Port)
			if err == nil {
				r.Close()
			}
			if !errors.Is(err, errNotOurBridge) {
				t.Errorf("Attach to a program without the secret: %v, want %v", err, errNotOurBridge)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(secrets) > 0 {
				t.Errorf("the control secret was sent to a program that could not prove it knows it")
			}
		})
	}
	// And the real bridge proves itself.
	r, err := Attach(cfg, in.Bridge.Port())
	if err != nil {
		t.Fatalf("Attach to the real bridge: %v", err)
	}
	r.Close()
}
