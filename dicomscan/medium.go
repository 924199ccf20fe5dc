package dicomscan

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// Medium is one thing the user gave to scan, seen as a read-only fs.FS: a
// folder or CD mount point, a ZIP read in place, an ISO 9660 image read in
// place, or a mixed list of dropped files and folders (each item appears at
// the root under its base name). Close releases the open files.
type Medium struct {
	FS   fs.FS
	Name string // the base name of the single item, or "N items"
	// Kind is "folder", "zip", "iso" or "files".
	Kind string

	closers []io.Closer
}

// Close closes the archives and folders the medium holds open.
func (m *Medium) Close() error {
	var errs []error
	for _, c := range m.closers {
		errs = append(errs, c.Close())
	}
	m.closers = nil
	return errors.Join(errs...)
}

// Open opens paths as one medium. One folder, ZIP or ISO becomes the medium
// itself; a single file or several items become a composite whose root
// lists each item by its base name (ZIPs and ISOs among them appear as
// folders). A path that does not exist is an *i18n.UserError of KindInput.
func Open(paths ...string) (*Medium, error) {
	if len(paths) == 0 {
		return nil, i18n.NewError(i18n.KindInput, "scan.error.no-input").WithHint("scan.hint.no-input")
	}
	if len(paths) == 1 {
		it, err := openItem(paths[0])
		if err != nil {
			return nil, err
		}
		if it.fsys != nil {
			return &Medium{FS: it.fsys, Name: it.name, Kind: it.kind, closers: it.closers}, nil
		}
		return &Medium{FS: newComposite([]item{it}), Name: it.name, Kind: "files", closers: it.closers}, nil
	}
	var items []item
	var closers []io.Closer
	for _, p := range paths {
		it, err := openItem(p)
		if err != nil {
			for _, c := range closers {
				c.Close()
			}
			return nil, err
		}
		items = append(items, it)
		closers = append(closers, it.closers...)
	}
	return &Medium{FS: newComposite(items), Name: fmt.Sprintf("%d items", len(paths)), Kind: "files", closers: closers}, nil
}

// item is one opened path: a tree (fsys) or a single plain file (host).
type item struct {
	name    string
	kind    string
	fsys    fs.FS
	host    string
	closers []io.Closer
}

func openItem(p string) (item, error) {
	st, err := os.Stat(p)
	if err != nil {
		return item{}, i18n.NewError(i18n.KindInput, "scan.error.not-found", p).WithHint("scan.hint.not-found").Wrap(err)
	}
	name := filepath.Base(filepath.Clean(p))
	if st.IsDir() {
		// os.DirFS, not os.Root: an os.Root opens every path component on
		// its own (five system calls per file instead of one), which costs
		// more than the header read. The scan does not follow symbolic
		// links instead (see fullScan and dirCache.resolve), so it cannot
		// leave the folder either.
		abs, err := filepath.Abs(p)
		if err != nil {
			return item{}, fmt.Errorf("open folder %s: %w", p, err)
		}
		return item{name: name, kind: "folder", fsys: newHostDir(abs)}, nil
	}
	sniffed := sniffArchive(p, st.Size())
	switch sniffed {
	case "zip":
		zr, err := zip.OpenReader(p)
		// With GODEBUG=zipinsecurepath=0 Go reports names such as
		// "../x.dcm" as ErrInsecurePath but still returns the reader;
		// its fs.FS view maps every name into the archive, which is what
		// the scan sees (TestZipSlip), so such a CD is read, not refused
		// as damaged.
		if err != nil && !(errors.Is(err, zip.ErrInsecurePath) && zr != nil) {
			return item{}, archiveError(p, "zip", err)
		}
		return item{name: name, kind: "zip", fsys: zr, closers: []io.Closer{zr}}, nil
	case "iso":
		ifs, err := openISO(p)
		if err != nil {
			return item{}, archiveError(p, "iso", err)
		}
		return item{name: name, kind: "iso", fsys: ifs, closers: []io.Closer{ifs}}, nil
	}
	// Named like an archive but not one inside: damaged, cut short, or
	// something else renamed. Say so instead of "not DICOM".
	switch ext := strings.ToLower(filepath.Ext(p)); ext {
	case ".zip", ".iso":
		return item{}, archiveError(p, ext[1:], ErrNotArchive)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return item{}, fmt.Errorf("open %s: %w", p, err)
	}
	return item{name: name, kind: "file", host: abs}, nil
}

// sniffArchive recognises ZIP and ISO 9660 by content, not by name.
func sniffArchive(p string, size int64) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err == nil {
		if bytes.Equal(head, []byte("PK\x03\x04")) || bytes.Equal(head, []byte("PK\x05\x06")) {
			return "zip"
		}
	}
	const isoMagicAt = 16*2048 + 1
	if size >= isoMagicAt+5 {
		magic := make([]byte, 5)
		if _, err := f.ReadAt(magic, isoMagicAt); err == nil && string(magic) == "CD001" {
			return "iso"
		}
	}
	return ""
}

// composite is the fs.FS of a mixed drop: its root lists the items.
type composite struct {
	names []string
	items map[string]item
}

func newComposite(items []item) *composite {
	c := &composite{items: map[string]item{}}
	for _, it := range items {
		name := it.name
		for n := 2; ; n++ {
			if _, taken := c.items[name]; !taken && name != "." && name != ".." {
				break
			}
			ext := path.Ext(it.name)
			name = fmt.Sprintf("%s (%d)%s", strings.TrimSuffix(it.name, ext), n, ext)
		}
		c.items[name] = it
		c.names = append(c.names, name)
	}
	sort.Strings(c.names)
	return c
}

func (c *composite) split(name string) (item, string, error) {
	first, rest, _ := strings.Cut(name, "/")
	it, ok := c.items[first]
	if !ok {
		return item{}, "", fs.ErrNotExist
	}
	if rest == "" {
		rest = "."
	}
	return it, rest, nil
}

func (c *composite) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		entries, err := c.ReadDir(".")
		if err != nil {
			return nil, err
		}
		return &memDir{name: ".", entries: entries}, nil
	}
	it, rest, err := c.split(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if it.fsys != nil {
		return it.fsys.Open(rest)
	}
	if rest != "." {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := os.Open(it.host)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return renamedFile{File: f, name: name}, nil
}

func (c *composite) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	if name != "." {
		it, rest, err := c.split(name)
		if err != nil || it.fsys == nil {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
		}
		return fs.ReadDir(it.fsys, rest)
	}
	var entries []fs.DirEntry
	for _, n := range c.names {
		it := c.items[n]
		var info fs.FileInfo
		var err error
		if it.fsys != nil {
			info, err = fs.Stat(it.fsys, ".")
			if err == nil {
				info = renamedInfo{FileInfo: info, name: n, dir: true}
			}
		} else {
			info, err = os.Stat(it.host)
			if err == nil {
				info = renamedInfo{FileInfo: info, name: n}
			}
		}
		if err != nil {
			// Gone since Open: list it so the scan reports it as unreadable.
			info = renamedInfo{FileInfo: missingInfo{}, name: n}
		}
		entries = append(entries, fs.FileInfoToDirEntry(info))
	}
	return entries, nil
}

// renamedFile is a host file shown under its composite name.
type renamedFile struct {
	*os.File
	name string
}

func (f renamedFile) Stat() (fs.FileInfo, error) {
	info, err := f.File.Stat()
	if err != nil {
		return nil, err
	}
	return renamedInfo{FileInfo: info, name: path.Base(f.name)}, nil
}

type renamedInfo struct {
	fs.FileInfo
	name string
	dir  bool
}

func (i renamedInfo) Name() string { return i.name }
func (i renamedInfo) IsDir() bool  { return i.dir || i.FileInfo.IsDir() }
func (i renamedInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return i.FileInfo.Mode()
}

type missingInfo struct{}

func (missingInfo) Name() string       { return "" }
func (missingInfo) Size() int64        { return 0 }
func (missingInfo) Mode() fs.FileMode  { return 0 }
func (missingInfo) ModTime() time.Time { return time.Time{} }
func (missingInfo) IsDir() bool        { return false }
func (missingInfo) Sys() any           { return nil }

// memDir is a directory whose entries are known in memory.
type memDir struct {
	name    string
	entries []fs.DirEntry
	read    int
}

func (d *memDir) Stat() (fs.FileInfo, error) { return dirInfo{name: path.Base(d.name)}, nil }
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}
func (d *memDir) Close() error { return nil }

func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.read:]
	if n <= 0 {
		d.read = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.read += n
	return rest[:n], nil
}

type dirInfo struct {
	name string
	mod  time.Time
}

func (i dirInfo) Name() string       { return i.name }
func (i dirInfo) Size() int64        { return 0 }
func (i dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (i dirInfo) ModTime() time.Time { return i.mod }
func (i dirInfo) IsDir() bool        { return true }
func (i dirInfo) Sys() any           { return nil }

// hostDir is a folder on a local disk: os.DirFS, plus its path so that the
// scan can read headers with fewer system calls (readHostFile).
type hostDir struct {
	fs.FS
	root string
}

func newHostDir(root string) *hostDir { return &hostDir{FS: os.DirFS(root), root: root} }

func (d *hostDir) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(d.FS, name) }
func (d *hostDir) Stat(name string) (fs.FileInfo, error)      { return fs.Stat(d.FS, name) }

// hostPath returns the host path of name, which must be a valid fs path.
func (d *hostDir) hostPath(name string) string {
	return filepath.Join(d.root, filepath.FromSlash(name))
}

// ErrNotArchive: a file named .zip or .iso holds no ZIP or ISO 9660 data.
var ErrNotArchive = errors.New("not a ZIP or ISO 9660 archive")

// ArchiveError says that a ZIP or ISO given to scan cannot be opened: it
// is damaged, incomplete, or not an archive at all. It comes wrapped in
// an *i18n.UserError of KindInput (scan.error.bad-zip / bad-iso).
type ArchiveError struct {
	Path string
	Kind string // "zip" or "iso"
	Err  error
}

func (e *ArchiveError) Error() string {
	return fmt.Sprintf("%s: damaged or not a %s archive: %v", e.Path, strings.ToUpper(e.Kind), e.Err)
}

func (e *ArchiveError) Unwrap() error { return e.Err }

func archiveError(p, kind string, err error) error {
	return i18n.NewError(i18n.KindInput, "scan.error.bad-"+kind, p).
		WithHint("scan.hint.bad-archive").
		Wrap(&ArchiveError{Path: p, Kind: kind, Err: err})
}
