//go:build !windows

package main

// protectDir is a no-op outside Windows: /etc and /Library are writable by
// root only, and the file is written with mode 0644.
func protectDir(string) error { return nil }
