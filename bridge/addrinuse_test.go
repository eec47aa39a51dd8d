package bridge

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"syscall"
	"testing"
)

// isAddrInUse must know the OS's own "address in use": a second listen on
// a held port, as the OS reports it, is the case that matters; the Wine
// check (installer/wine) runs this test as a Windows program too, where
// that error is WSAEADDRINUSE (10048), not syscall.EADDRINUSE.
func TestIsAddrInUse(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, bindErr := net.Listen("tcp", held.Addr().String())
	if bindErr == nil {
		t.Fatalf("a second listen on %s succeeded", held.Addr())
	}
	_, dialErr := net.Dial("tcp", "127.0.0.1:1")
	if dialErr == nil {
		t.Fatal("a dial of 127.0.0.1:1 succeeded: something listens there; the refused-connection case needs that port free")
	}

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"second listen on a held port", bindErr, true},
		{"wrapped, as listenAll returns it", fmt.Errorf("listen 127.0.0.1:21443: %w", bindErr), true},
		{"WSAEADDRINUSE", &net.OpError{Op: "listen", Err: &syscallError{wsaeAddrInUse}}, runtime.GOOS == "windows"},
		{"EADDRINUSE", fmt.Errorf("bind: %w", syscall.EADDRINUSE), true},
		{"no such address", fmt.Errorf("bind: %w", syscall.EADDRNOTAVAIL), false},
		{"connection refused", dialErr, false},
		{"other error", errors.New("listen: no hosts configured"), false},
		{"nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isAddrInUse(tc.err); got != tc.want {
				t.Errorf("isAddrInUse(%v) = %v, want %v (GOOS %s)", tc.err, got, tc.want, runtime.GOOS)
			}
		})
	}
}

// syscallError wraps an errno the way os.SyscallError does, without the os
// package's platform details.
type syscallError struct{ errno syscall.Errno }

func (e *syscallError) Error() string { return "bind: " + e.errno.Error() }
func (e *syscallError) Unwrap() error { return e.errno }

// isNoSuchAddress lets listenAll skip ::1 on a machine without IPv6
// loopback; on Windows Winsock says so with its own errnos.
func TestIsNoSuchAddress(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"EADDRNOTAVAIL", fmt.Errorf("listen [::1]:21443: %w", syscall.EADDRNOTAVAIL), true},
		{"EAFNOSUPPORT", fmt.Errorf("listen [::1]:21443: %w", syscall.EAFNOSUPPORT), true},
		{"WSAEADDRNOTAVAIL", &net.OpError{Op: "listen", Err: &syscallError{wsaeAddrNotAvail}}, runtime.GOOS == "windows"},
		{"WSAEAFNOSUPPORT", &net.OpError{Op: "listen", Err: &syscallError{wsaeAFNoSupport}}, runtime.GOOS == "windows"},
		{"address in use", fmt.Errorf("bind: %w", syscall.EADDRINUSE), false},
		{"nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isNoSuchAddress(tc.err); got != tc.want {
				t.Errorf("isNoSuchAddress(%v) = %v, want %v (GOOS %s)", tc.err, got, tc.want, runtime.GOOS)
			}
		})
	}
}
