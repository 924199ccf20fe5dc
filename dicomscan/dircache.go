package dicomscan

import (
	"io/fs"
	"path"
	"strings"
)

// dirCache lists each folder once and resolves names the way CDs need:
// case-insensitively and without ISO 9660 version suffixes (";1").
type dirCache struct {
	fsys fs.FS
	dirs map[string]*dirListing
	// resolved maps a folder path as a DICOMDIR writes it to the folder on
	// the medium, so that 2000 files in one folder resolve it once.
	resolved map[string]string
}

type dirListing struct {
	entries []fs.DirEntry
	byKey   map[string]fs.DirEntry
	err     error
}

func newDirCache(fsys fs.FS) *dirCache {
	return &dirCache{fsys: fsys, dirs: map[string]*dirListing{}, resolved: map[string]string{}}
}

// nameKey normalises a file name for matching: upper case, without a
// version suffix or a trailing dot.
func nameKey(name string) string {
	n, _, _ := strings.Cut(name, ";")
	n = strings.TrimSuffix(n, ".")
	return strings.ToUpper(n)
}

func (c *dirCache) list(dir string) (*dirListing, error) {
	if l, ok := c.dirs[dir]; ok {
		return l, l.err
	}
	entries, err := fs.ReadDir(c.fsys, dir)
	l := &dirListing{entries: entries, err: err, byKey: make(map[string]fs.DirEntry, len(entries))}
	for _, e := range entries {
		k := nameKey(e.Name())
		if _, dup := l.byKey[k]; !dup || e.Name() == k {
			l.byKey[k] = e
		}
	}
	c.dirs[dir] = l
	return l, err
}

// resolve finds the file p names, matching each component loosely; it
// returns the actual path and the directory entry (not yet stat'ed).
func (c *dirCache) resolve(p string) (string, fs.DirEntry, bool) {
	dirPart, base := path.Split(p)
	dir, ok := c.resolveDir(strings.TrimSuffix(dirPart, "/"))
	if !ok {
		return "", nil, false
	}
	l, err := c.list(dir)
	if err != nil {
		return "", nil, false
	}
	e, ok := l.byKey[nameKey(base)]
	if !ok || !e.Type().IsRegular() {
		return "", nil, false // missing, a folder, or a link the scan does not follow
	}
	return path.Join(dir, e.Name()), e, true
}

// resolveDir finds the folder dir names ("" or "." for the root).
func (c *dirCache) resolveDir(dir string) (string, bool) {
	if dir == "" || dir == "." {
		return ".", true
	}
	if actual, ok := c.resolved[dir]; ok {
		return actual, actual != ""
	}
	parentPart, base := path.Split(dir)
	parent, ok := c.resolveDir(strings.TrimSuffix(parentPart, "/"))
	actual := ""
	if ok {
		if l, err := c.list(parent); err == nil {
			if e, found := l.byKey[nameKey(base)]; found && e.IsDir() {
				actual = path.Join(parent, e.Name())
			}
		}
	}
	c.resolved[dir] = actual
	return actual, actual != ""
}
