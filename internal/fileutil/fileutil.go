// Package fileutil writes files so that a crash or a full disk leaves the
// old file or the new one, never half of one, and hashes files. One home
// for what settings, keys, upload secrets, chunk sizes, quarantine
// records and the portal's stored envelopes each did on their own.
package fileutil

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically with mode perm (see WriteFunc).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFunc(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc writes path atomically: fill writes into a temporary file
// beside path (".<name>.*", mode perm from the start, so a secret is
// never readable by others even for a moment), which is synced, closed
// and renamed over path; the directory is synced too (best effort: not
// every system can), so the rename survives a power cut. On any error
// the temporary file is removed and path is untouched.
func WriteFunc(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	done = true
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return err
	}
	syncDir(dir)
	return nil
}

// WriteFileIn is WriteFile for name inside root (slash-separated,
// relative to it): the write cannot leave root, whatever name holds.
func WriteFileIn(root *os.Root, name string, data []byte, perm os.FileMode) error {
	tmp := name + ".tmp"
	f, err := root.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
		return err
	}
	if d, derr := root.Open(filepath.Dir(filepath.FromSlash(name))); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// SHA256 is the hex SHA-256 of the file at path.
func SHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync() // an error here (e.g. Windows) changes nothing for the caller
		d.Close()
	}
}
