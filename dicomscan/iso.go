package dicomscan

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/kdomanski/iso9660"
)

// Limits on an ISO's directory tree, so that a crafted image (directories
// pointing at their parents, millions of entries) cannot hang the scan.
const (
	isoMaxDepth   = 32
	isoMaxEntries = 1 << 20
)

// isoFS reads an ISO 9660 image in place. kdomanski/iso9660 v0.4.0 reads
// the primary volume descriptor only: ISO 9660 levels 1-3 names (version
// suffixes such as ";1" are dropped) and Rock Ridge names when the image
// has them. It ignores the Joliet supplementary descriptor, so a
// Joliet-only image shows its 8.3 primary names; DICOM CDs use 8.3 names
// anyway. Files recorded in several extents (> 4 GiB) are not supported.
type isoFS struct {
	f    *os.File
	root *isoNode
}

type isoNode struct {
	name     string
	dir      bool
	size     int64
	mod      time.Time
	file     *iso9660.File
	children []*isoNode
}

func openISO(p string) (*isoFS, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	root, err := readISOTree(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read ISO 9660 image: %w", err)
	}
	return &isoFS{f: f, root: root}, nil
}

// readISOTree reads the whole directory tree once. The library can panic on
// malformed directory records; that is turned into an error.
func readISOTree(ra io.ReaderAt) (root *isoNode, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("malformed image: %v", r)
		}
	}()
	img, err := iso9660.OpenImage(ra)
	if err != nil {
		return nil, err
	}
	rf, err := img.RootDir()
	if err != nil {
		return nil, err
	}
	root = &isoNode{name: ".", dir: true, file: rf, mod: rf.ModTime()}
	count := 0
	if err := fillISODir(root, 0, &count); err != nil {
		return nil, err
	}
	return root, nil
}

func fillISODir(n *isoNode, depth int, count *int) error {
	if depth > isoMaxDepth {
		return errors.New("directories nested too deep (a loop?)")
	}
	kids, err := n.file.GetChildren()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, k := range kids {
		*count++
		if *count > isoMaxEntries {
			return errors.New("too many entries")
		}
		name := k.Name()
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || seen[name] {
			continue
		}
		seen[name] = true
		c := &isoNode{name: name, dir: k.IsDir(), size: k.Size(), mod: k.ModTime(), file: k}
		if c.dir {
			c.size = 0
			if err := fillISODir(c, depth+1, count); err != nil {
				return err
			}
		}
		n.children = append(n.children, c)
	}
	sort.Slice(n.children, func(i, j int) bool { return n.children[i].name < n.children[j].name })
	return nil
}

func (x *isoFS) Close() error { return x.f.Close() }

func (x *isoFS) lookup(name string) (*isoNode, error) {
	if !fs.ValidPath(name) {
		return nil, fs.ErrInvalid
	}
	n := x.root
	if name == "." {
		return n, nil
	}
	for _, part := range strings.Split(name, "/") {
		var next *isoNode
		for _, c := range n.children {
			if c.name == part {
				next = c
				break
			}
		}
		if next == nil {
			return nil, fs.ErrNotExist
		}
		n = next
	}
	return n, nil
}

func (x *isoFS) Open(name string) (fs.File, error) {
	n, err := x.lookup(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if n.dir {
		entries := make([]fs.DirEntry, len(n.children))
		for i, c := range n.children {
			entries[i] = fs.FileInfoToDirEntry(c.info())
		}
		return &memDir{name: name, entries: entries}, nil
	}
	r, ok := n.file.Reader().(*io.SectionReader)
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("no data")}
	}
	return &isoFile{SectionReader: r, node: n}, nil
}

func (x *isoFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := x.lookup(name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	if !n.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	entries := make([]fs.DirEntry, len(n.children))
	for i, c := range n.children {
		entries[i] = fs.FileInfoToDirEntry(c.info())
	}
	return entries, nil
}

func (n *isoNode) info() fs.FileInfo {
	if n.dir {
		return dirInfo{name: path.Base(n.name), mod: n.mod}
	}
	return fileInfo{name: n.name, size: n.size, mod: n.mod}
}

type isoFile struct {
	*io.SectionReader
	node *isoNode
}

func (f *isoFile) Stat() (fs.FileInfo, error) { return f.node.info(), nil }
func (f *isoFile) Close() error               { return nil }

type fileInfo struct {
	name string
	size int64
	mod  time.Time
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return i.mod }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }
