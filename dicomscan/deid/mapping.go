package deid

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// WriteMapping writes m as JSON to path, readable by the owner only
// (0600), atomically: a reader sees the old file or the new one.
func WriteMapping(path string, m Mapping) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("mapping: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".deid-mapping-*")
	if err != nil {
		return fmt.Errorf("mapping: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("mapping: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("mapping: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("mapping: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mapping: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("mapping: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// ReadMapping reads a mapping file written by WriteMapping.
func ReadMapping(path string) (Mapping, error) {
	var m Mapping
	b, err := os.ReadFile(path)
	if err != nil {
		return m, fmt.Errorf("mapping: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("mapping %s: %w", filepath.Base(path), err)
	}
	return m, nil
}
