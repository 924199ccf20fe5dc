package dicomscan

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
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
	byKey   map[string]int // nameKey → index in entries
	// stats holds, for a listing made by listAll, what the stat of each
	// regular file found (aligned with entries); nil otherwise.
	stats []fileStat
	// used marks the entries a DICOMDIR references (nil: none).
	used []bool
	err  error
}

// use marks entry i as referenced; it reports whether it was not yet.
func (l *dirListing) use(i int) bool {
	if l.used == nil {
		l.used = make([]bool, len(l.entries))
	}
	if l.used[i] {
		return false
	}
	l.used[i] = true
	return true
}

// isUsed reports whether entry i is referenced.
func (l *dirListing) isUsed(i int) bool { return l.used != nil && l.used[i] }

// fileStat is what listAll learnt about one regular file.
type fileStat struct {
	size int64
	err  error // the stat failed
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
	l := newDirListing(entries, err)
	c.dirs[dir] = l
	return l, err
}

// newDirListing indexes entries, which must be sorted by name (so that
// of two names with one key the same one wins on every path).
func newDirListing(entries []fs.DirEntry, err error) *dirListing {
	l := &dirListing{entries: entries, err: err, byKey: make(map[string]int, len(entries))}
	for i, e := range entries {
		k := nameKey(e.Name())
		if _, dup := l.byKey[k]; !dup || e.Name() == k {
			l.byKey[k] = i
		}
	}
	return l
}

// resolved is a file found by resolve: entry i of listing l.
type resolvedFile struct {
	path string
	l    *dirListing
	i    int
}

// stat is what listAll's stat found, or nil when it did not make the listing.
func (r resolvedFile) stat() *fileStat {
	if r.l.stats == nil {
		return nil
	}
	return &r.l.stats[r.i]
}

// resolve finds the file p names, matching each component loosely (or,
// when exact, the name as given), and returns the actual path.
func (c *dirCache) resolve(p string, exact bool) (resolvedFile, bool) {
	dirPart, base := path.Split(p)
	dir, ok := c.resolveDir(strings.TrimSuffix(dirPart, "/"))
	if !ok {
		return resolvedFile{}, false
	}
	l, err := c.list(dir)
	if err != nil {
		return resolvedFile{}, false
	}
	i, ok := l.byKey[nameKey(base)]
	if ok && exact && l.entries[i].Name() != base {
		i = slices.IndexFunc(l.entries, func(e fs.DirEntry) bool { return e.Name() == base })
		ok = i >= 0
	}
	if !ok || !l.entries[i].Type().IsRegular() {
		return resolvedFile{}, false // missing, a folder, or a link the scan does not follow
	}
	return resolvedFile{path: joinPath(dir, l.entries[i].Name()), l: l, i: i}, true
}

// joinPath is path.Join for a clean folder path and a plain name.
func joinPath(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
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
			if i, found := l.byKey[nameKey(base)]; found && l.entries[i].IsDir() {
				actual = joinPath(parent, l.entries[i].Name())
			}
		}
	}
	c.resolved[dir] = actual
	return actual, actual != ""
}

// listAll lists every folder of the medium and stats its regular files,
// on up to workers goroutines: on a DICOMDIR medium the stats are most of
// the work, and they overlap with the reading of the DICOMDIR. Folders on
// a local disk are opened once and their files stat'ed relative to them.
// Links are listed, not followed. The listings replace those of the
// cache's (c must not be used until listAll returns).
func (c *dirCache) listAll(ctx context.Context, workers int) {
	hd, host := c.fsys.(*hostDir)
	host = host && hostFastPath
	q := &walkQueue{}
	q.cond.L = &q.mu
	stop := context.AfterFunc(ctx, q.stop)
	defer stop()
	var mu sync.Mutex
	q.push(walkTask{dir: "."})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t, ok := q.pop()
				if !ok {
					return
				}
				l := listStat(ctx, c.fsys, hd, host, t.dir, q)
				mu.Lock()
				c.dirs[t.dir] = l
				mu.Unlock()
				q.done()
			}
		}()
	}
	wg.Wait()
}

// listStat lists one folder for listAll, queues its sub-folders and stats
// its regular files.
func listStat(ctx context.Context, fsys fs.FS, hd *hostDir, host bool, dir string, q *walkQueue) *dirListing {
	var entries []fs.DirEntry
	var folder *hostFolder
	var err error
	if host && fs.ValidPath(dir) {
		folder, entries, err = openHostFolder(hd.hostPath(dir), dir == ".")
		if folder != nil {
			defer folder.close()
		}
		slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	} else {
		entries, err = fs.ReadDir(fsys, dir)
	}
	l := newDirListing(entries, err)
	l.stats = make([]fileStat, len(entries))
	for i, e := range entries {
		if ctx.Err() != nil {
			break
		}
		switch {
		case e.IsDir():
			q.push(walkTask{dir: joinPath(dir, e.Name())})
		case e.Type().IsRegular():
			st := &l.stats[i]
			if folder != nil {
				var regular bool
				st.size, regular, st.err = folder.stat(e.Name())
				if st.err == nil && !regular {
					st.err = errors.New("no longer a regular file")
				}
			} else {
				var info fs.FileInfo
				if info, st.err = e.Info(); st.err == nil {
					st.size = info.Size()
				}
			}
		}
	}
	return l
}
