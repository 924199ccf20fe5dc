package tus

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"

	"github.com/bildbote/bildbote/internal/fileutil"
)

// ChunkFile is a ChunkMemory kept in a small JSON file
// ({"https://portal:443": 1048576, ...}), written atomically. A missing
// or unreadable file remembers nothing; the zero Path remembers in memory
// only. Safe for concurrent use within one process.
type ChunkFile struct {
	Path string

	mu    sync.Mutex
	sizes map[string]int64
}

// NewChunkFile returns the ChunkFile at path.
func NewChunkFile(path string) *ChunkFile { return &ChunkFile{Path: path} }

func (f *ChunkFile) load() {
	if f.sizes != nil {
		return
	}
	f.sizes = map[string]int64{}
	if f.Path == "" {
		return
	}
	if b, err := os.ReadFile(f.Path); err == nil {
		var m map[string]int64
		if json.Unmarshal(b, &m) == nil {
			for k, v := range m {
				if v >= MinChunkSize {
					f.sizes[k] = v
				}
			}
		}
	}
}

// ChunkSize implements ChunkMemory.
func (f *ChunkFile) ChunkSize(origin string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.load()
	return f.sizes[origin]
}

// SetChunkSize implements ChunkMemory.
func (f *ChunkFile) SetChunkSize(origin string, size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.load()
	f.sizes[origin] = size
	if f.Path == "" {
		return nil
	}
	b, err := json.MarshalIndent(f.sizes, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
		return err
	}
	return fileutil.WriteFile(f.Path, append(b, '\n'), 0o600)
}
