//go:build !windows

package replacefile

import "os"

// rename is os.Rename: POSIX rename replaces a file that others hold open.
func rename(from, to string) error { return os.Rename(from, to) }
