// Package replacefile replaces a file by renaming a finished temporary
// file over it, so a reader sees the old content or the new, never half.
// certs (keys, certificates) and app (the managed configuration) both
// write files that another process may be reading.
package replacefile

// Rename renames from over to. On Windows it retries for up to a second
// while another process holds to open (rename_windows.go); elsewhere it is
// os.Rename.
func Rename(from, to string) error { return rename(from, to) }
