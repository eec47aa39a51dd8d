//go:build linux

package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCloseReasons(t *testing.T) {
	tests := []struct {
		name, log, want string
	}{
		{"none", "time=x level=INFO msg=\"session opened\" session=s1\n", "no close in the bridge's log"},
		{"counted, most frequent first",
			`time=a level=INFO msg="session closed" session=s1 origin=https://o route=/echo code=1000 reason="" duration=1s
time=b level=INFO msg="session closed" session=s2 origin=https://o route=/echo code=1011 reason="engine connection failed: connection timed out" bytes_to_engine=1
time=c level=INFO msg="session closed" session=s3 origin=https://o route=/echo code=1011 reason="engine connection failed: connection timed out" bytes_to_engine=1
`, `2 × 1011 "engine connection failed: connection timed out"; 1 × 1000 ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bridge.log")
			if err := os.WriteFile(path, []byte(tt.log), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := closeReasons(path); got != tt.want {
				t.Errorf("closeReasons = %q, want %q", got, tt.want)
			}
		})
	}
}
