//go:build !windows

package certs

import "os"

// restrictFile makes a key file readable and writable by its owner alone.
func restrictFile(path string) error { return os.Chmod(path, 0o600) }

// restrictDir makes the certificate directory private to its owner.
func restrictDir(dir string) error { return os.Chmod(dir, 0o700) }
