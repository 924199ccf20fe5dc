package dicomscan

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress receives what the scan has got through so far. The scanner
// calls Update from a single goroutine, after every file; throttling the
// display (restic-style, a few updates a second) is the caller's job.
type Progress interface {
	Update(Counts)
}

// Counts is the progress of a scan.
type Counts struct {
	Files  int    // files looked at (indexed, documents and skipped)
	Bytes  int64  // their total size
	Folder string // the folder of the last file, relative to the medium
}

// Options tune a scan. The zero value is fine.
type Options struct {
	Progress Progress // may be nil
	// Workers bounds how many files are read and folders listed at once
	// (default: 4 per CPU, at least 4, at most 32). Memory grows with it
	// by about 100 KiB each.
	Workers int
	// IgnoreDICOMDIR forces a full scan even when a valid DICOMDIR exists.
	IgnoreDICOMDIR bool
}

func (o Options) workers() int {
	n := o.Workers
	if n <= 0 {
		n = 4 * runtime.GOMAXPROCS(0)
		if n < 4 {
			n = 4
		}
	}
	if n > 32 {
		n = 32
	}
	return n
}

// Skip reason codes (Skipped.Code). The UI translates by code
// ("scan.skip.<code>"); Reason holds the English detail.
const (
	SkipClutter    = "clutter"     // viewer programs, autorun, readme and the like
	SkipNotDICOM   = "not-dicom"   // neither DICOM nor a document
	SkipUnreadable = "unreadable"  // the file or folder could not be read
	SkipDamaged    = "damaged"     // DICOM, but the header is broken or cut off
	SkipIncomplete = "incomplete"  // DICOM without Study, Series or SOP Instance UID
	SkipDICOMDIR   = "dicomdir"    // the DICOMDIR itself (a directory, not an image)
	SkipDuplicate  = "duplicate"   // same SOP Instance UID as an indexed file
	SkipNotRegular = "not-regular" // a link to a folder, a device, ...
)

// Warning codes.
const (
	WarnSeveralPatients  = "several-patients"
	WarnDICOMDIRFallback = "dicomdir-fallback"
)

// Methods of Index.Method.
const (
	MethodDICOMDIR = "dicomdir"
	MethodScan     = "scan"
)

// Scan indexes every study on m: from its DICOMDIR when one is present,
// valid and consistent with the files (unless opts.IgnoreDICOMDIR), and by
// reading the header of every file otherwise. It returns ctx.Err() promptly
// when ctx is cancelled. Problems with single files never fail the scan:
// they are listed in Index.Skipped.
func Scan(ctx context.Context, m *Medium, opts Options) (*Index, error) {
	start := time.Now()
	ix := &Index{Source: m.Name, ScannedAt: start.UTC(), fsys: m.FS}
	if !opts.IgnoreDICOMDIR {
		used, reason, err := scanDICOMDIRs(ctx, m.FS, ix, opts)
		if err != nil {
			return nil, err
		}
		if used {
			ix.Method = MethodDICOMDIR
			ix.Took = time.Since(start)
			return ix, nil
		}
		if reason != "" {
			ix.FallbackReason = reason
			ix.Warnings = append(ix.Warnings, Warning{Code: WarnDICOMDIRFallback, Detail: reason})
		}
	}
	found, err := fullScan(ctx, m.FS, ix, opts)
	if err != nil {
		return nil, err
	}
	ix.Method = MethodScan
	buildIndex(ix, found)
	ix.Took = time.Since(start)
	return ix, nil
}

// found is one DICOM file the scan will index.
type found struct {
	path string
	size int64
	h    *Header
}

// scanResult is what a worker reports for one file.
type scanResult struct {
	path    string
	size    int64
	h       *Header
	doc     *Document
	skipped *Skipped
}

// walkBatch is how many files of one folder a worker reads before it
// reports them: one hand-over per batch instead of one per file.
const walkBatch = 32

// walkTask is one piece of the full scan: a folder to list (files == nil)
// or a batch of the files of a listed folder.
type walkTask struct {
	dir    string
	files  []fs.DirEntry
	folder *sharedFolder // the open folder on a local disk, or nil
}

// sharedFolder is an open host folder shared by the batches of its files;
// the last batch done closes it.
type sharedFolder struct {
	*hostFolder
	refs atomic.Int32
}

func (f *sharedFolder) release() {
	if f != nil && f.refs.Add(-1) == 0 {
		f.close()
	}
}

// walkQueue holds the tasks of a full scan. It is a stack: the batches of
// a folder just listed are read before the next folder is listed, which
// bounds the folders held open to about one per worker.
type walkQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	tasks   []walkTask
	pending int // tasks pushed and not yet done
	stopped bool
}

func (q *walkQueue) push(t walkTask) {
	q.mu.Lock()
	q.tasks = append(q.tasks, t)
	q.pending++
	q.mu.Unlock()
	q.cond.Signal()
}

// pop returns the next task, or false when every task is done or the
// queue was stopped.
func (q *walkQueue) pop() (walkTask, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.tasks) == 0 && q.pending > 0 && !q.stopped {
		q.cond.Wait()
	}
	if q.stopped || len(q.tasks) == 0 {
		return walkTask{}, false
	}
	t := q.tasks[len(q.tasks)-1]
	q.tasks[len(q.tasks)-1] = walkTask{}
	q.tasks = q.tasks[:len(q.tasks)-1]
	return t, true
}

func (q *walkQueue) done() {
	q.mu.Lock()
	q.pending--
	last := q.pending == 0
	q.mu.Unlock()
	if last {
		q.cond.Broadcast()
	}
}

func (q *walkQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// fullScan walks the whole medium and reads the header of every file that
// may be DICOM. A bounded pool of workers lists folders and reads files
// alike, so that the walk itself runs in parallel too; what they find
// comes back in batches, in no particular order (buildIndex sorts).
func fullScan(ctx context.Context, fsys fs.FS, ix *Index, opts Options) ([]found, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hd, host := fsys.(*hostDir)
	host = host && hostFastPath
	q := &walkQueue{}
	q.cond.L = &q.mu
	results := make(chan []scanResult, 2*opts.workers())
	stop := context.AfterFunc(ctx, q.stop)
	defer stop()

	w := walker{fsys: fsys, hd: hd, host: host, q: q}
	q.push(walkTask{dir: "."})
	var wg sync.WaitGroup
	for range opts.workers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, headerChunk)
			strs := newInterner()
			for {
				t, ok := q.pop()
				if !ok {
					return
				}
				var out []scanResult
				if t.files == nil {
					out = w.list(t)
				} else {
					out = w.read(ctx, t, buf, strs)
				}
				q.done()
				if len(out) == 0 {
					continue
				}
				select {
				case results <- out:
				case <-ctx.Done():
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		// Folders whose batches were dropped by a cancel are still open.
		for _, t := range q.tasks {
			t.folder.release()
		}
		close(results)
	}()

	var out []found
	var counts Counts
	for batch := range results {
		for _, r := range batch {
			counts.Files++
			counts.Bytes += r.size
			counts.Folder = path.Dir(r.path)
			switch {
			case r.h != nil:
				shareInstanceUID(r.h)
				out = append(out, found{path: r.path, size: r.size, h: r.h})
			case r.doc != nil:
				ix.Documents = append(ix.Documents, *r.doc)
			case r.skipped != nil:
				ix.Skipped = append(ix.Skipped, *r.skipped)
			}
			if opts.Progress != nil && ctx.Err() == nil {
				opts.Progress.Update(counts)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// walker is what the workers of a full scan share.
type walker struct {
	fsys fs.FS
	hd   *hostDir
	host bool // hd is set and the unix fast path applies
	q    *walkQueue
}

// list lists one folder and queues its sub-folders and its files in
// batches; unreadable folders, links and special files are reported.
func (w *walker) list(t walkTask) []scanResult {
	var entries []fs.DirEntry
	var folder *sharedFolder
	var err error
	if w.host && fs.ValidPath(t.dir) {
		var hf *hostFolder
		hf, entries, err = openHostFolder(w.hd.hostPath(t.dir), t.dir == ".")
		if err == nil {
			folder = &sharedFolder{hostFolder: hf}
		}
	} else {
		entries, err = fs.ReadDir(w.fsys, t.dir)
	}
	if err != nil {
		return []scanResult{{path: t.dir, skipped: &Skipped{Path: t.dir, Code: SkipUnreadable, Reason: errText(err)}}}
	}
	var out []scanResult
	files := make([]fs.DirEntry, 0, len(entries))
	for _, e := range entries {
		p := path.Join(t.dir, e.Name())
		switch {
		case e.IsDir():
			w.q.push(walkTask{dir: p})
		case !e.Type().IsRegular():
			// Symbolic links are not followed: they could lead out of
			// the medium, to files the user never meant to send.
			out = append(out, scanResult{path: p, skipped: &Skipped{Path: p, Code: SkipNotRegular, Reason: "symbolic link or special file (not followed)"}})
		default:
			files = append(files, e)
		}
	}
	if folder != nil {
		folder.refs.Store(int32((len(files)+walkBatch-1)/walkBatch) + 1)
	}
	for len(files) > 0 {
		n := min(len(files), walkBatch)
		w.q.push(walkTask{dir: t.dir, files: files[:n:n], folder: folder})
		files = files[n:]
	}
	folder.release() // the listing's own reference
	return out
}

// read reads the headers of one batch of files.
func (w *walker) read(ctx context.Context, t walkTask, buf []byte, strs *interner) []scanResult {
	defer t.folder.release()
	out := make([]scanResult, 0, len(t.files))
	for _, e := range t.files {
		if ctx.Err() != nil {
			break
		}
		p := path.Join(t.dir, e.Name())
		dirfd := -1
		if t.folder != nil {
			dirfd = t.folder.fd
		}
		out = append(out, examineAt(w.fsys, p, dirfd, e.Name(), buf, strs))
	}
	return out
}

// examine classifies one file: clutter and documents by name, everything
// else by reading its header.
func examine(fsys fs.FS, p string, buf []byte) scanResult {
	return examineAt(fsys, p, -1, "", buf, nil)
}

// examineAt is examine for a file that is, when dirfd >= 0, name in the
// open host folder dirfd; strs (may be nil) shares repeating values.
func examineAt(fsys fs.FS, p string, dirfd int, name string, buf []byte, strs *interner) scanResult {
	r := scanResult{path: p}
	base := path.Base(p)
	lower := lowerName(base)
	if isDICOMDIRName(base) {
		r.skipped = &Skipped{Path: p, Code: SkipDICOMDIR, Reason: "DICOMDIR (a directory of the medium, not an image)"}
		return r
	}
	if isClutterName(lower) {
		r.skipped = &Skipped{Path: p, Code: SkipClutter, Reason: "not DICOM (viewer, autorun or read-me file)"}
		return r
	}
	h, done, err := readFile(fsys, p, lower, dirfd, name, buf, strs, &r)
	if done {
		return r
	}
	switch {
	case errors.Is(err, ErrNotDICOM):
		var head []byte
		if r.size >= 8 {
			head = buf[:8] // the first bytes of this file: the reader filled buf from offset 0
		}
		if mime := documentTypeLower(lower, head); head != nil && mime != "" {
			r.doc = &Document{Path: p, Size: r.size, MIMEType: mime}
			return r
		}
		r.skipped = &Skipped{Path: p, Code: SkipNotDICOM, Reason: "not a DICOM file"}
	case isReadError(err):
		r.skipped = &Skipped{Path: p, Code: SkipUnreadable, Reason: errText(err)}
	case err != nil:
		r.skipped = &Skipped{Path: p, Code: SkipDamaged, Reason: "damaged: " + errText(err)}
	default:
		if msg := h.missing(); msg != "" {
			if h.MediaStorageSOPClassUID == sopClassDICOMDIR {
				r.skipped = &Skipped{Path: p, Code: SkipDICOMDIR, Reason: "DICOMDIR (a directory of the medium, not an image)"}
				return r
			}
			r.skipped = &Skipped{Path: p, Code: SkipIncomplete, Reason: msg}
			return r
		}
		r.h = h
	}
	return r
}

// readFile reads the header of p (name in the host folder dirfd when
// dirfd >= 0; lower is its base name made by lowerName). done is true when
// r already holds the outcome (unreadable, not a regular file, a document).
func readFile(fsys fs.FS, p, lower string, dirfd int, name string, buf []byte, strs *interner, r *scanResult) (h *Header, done bool, err error) {
	if hd, ok := fsys.(*hostDir); ok && hostFastPath && documentTypeLower(lower, nil) == "" && fs.ValidPath(p) {
		var notRegular bool
		if dirfd >= 0 {
			r.size, h, notRegular, err = readHostFileAt(dirfd, name, buf, strs)
		} else {
			r.size, h, notRegular, err = readHostFile(hd.hostPath(p), buf, strs)
		}
		if notRegular {
			r.skipped = &Skipped{Path: p, Code: SkipNotRegular, Reason: "symbolic link or special file (not followed)"}
			return nil, true, nil
		}
		return h, false, err
	}
	f, err := fsys.Open(p)
	if err != nil {
		r.skipped = &Skipped{Path: p, Code: SkipUnreadable, Reason: errText(err)}
		return nil, true, nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		r.skipped = &Skipped{Path: p, Code: SkipUnreadable, Reason: errText(err)}
		return nil, true, nil
	}
	if !info.Mode().IsRegular() {
		r.skipped = &Skipped{Path: p, Code: SkipNotRegular, Reason: "not a regular file"}
		return nil, true, nil
	}
	r.size = info.Size()
	if mime := documentTypeLower(lower, nil); mime != "" {
		r.doc = &Document{Path: p, Size: r.size, MIMEType: mime}
		return nil, true, nil
	}
	h, err = readHeaderInterned(f, r.size, buf, strs)
	return h, false, err
}

const sopClassDICOMDIR = "1.2.840.10008.1.3.10"

// missing fills the SOP identifiers from the meta information when the
// dataset lacks them, and says what is still missing for the index.
func (h *Header) missing() string {
	if h.SOPInstanceUID == "" {
		h.SOPInstanceUID = h.MediaStorageSOPInstanceUID
	}
	if h.SOPClassUID == "" {
		h.SOPClassUID = h.MediaStorageSOPClassUID
	}
	var miss []string
	if h.StudyInstanceUID == "" {
		miss = append(miss, "Study Instance UID")
	}
	if h.SeriesInstanceUID == "" {
		miss = append(miss, "Series Instance UID")
	}
	if h.SOPInstanceUID == "" {
		miss = append(miss, "SOP Instance UID")
	}
	if len(miss) == 0 {
		return ""
	}
	return "DICOM without " + strings.Join(miss, ", ")
}

// errText is an error without the Go package noise a user cannot use.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func isDICOMDIRName(name string) bool {
	n := strings.ToUpper(name)
	n, _, _ = strings.Cut(n, ";")
	return n == "DICOMDIR" || n == "DICOMDIR."
}

// clutterExt are extensions of files that are never DICOM on a patient CD:
// the viewer, its libraries, autorun and read-me files.
var clutterExt = map[string]bool{
	".exe": true, ".dll": true, ".inf": true, ".ini": true, ".txt": true,
	".htm": true, ".html": true, ".css": true, ".js": true, ".xml": true,
	".xsl": true, ".json": true, ".ico": true, ".bat": true, ".cmd": true,
	".sh": true, ".msi": true, ".cab": true, ".chm": true, ".hlp": true,
	".jar": true, ".class": true, ".ocx": true, ".sys": true, ".lnk": true,
	".url": true, ".rtf": true, ".cfg": true, ".config": true, ".manifest": true,
	".bmp": true, ".gif": true, ".svg": true, ".ttf": true, ".dylib": true,
	".so": true, ".plist": true, ".app": true, ".md": true, ".log": true,
}

var clutterNames = map[string]bool{
	"autorun.inf": true, ".ds_store": true, "thumbs.db": true, "desktop.ini": true,
	"readme": true, "license": true, "lizenz": true, "liesmich": true,
}

// lowerName is a file name for matching by name: lower case, without an
// ISO 9660 version suffix.
func lowerName(name string) string {
	n, _, _ := strings.Cut(name, ";")
	return strings.ToLower(n)
}

// isClutterName tells the files that are never DICOM on a patient CD by
// their name, made by lowerName.
func isClutterName(name string) bool {
	if clutterNames[name] || strings.HasPrefix(name, "._") {
		return true
	}
	return clutterExt[path.Ext(name)]
}

// documentTypeLower recognises PDF reports and JPEG/PNG pictures by their
// name (made by lowerName) or, when head is given, by content.
func documentTypeLower(n string, head []byte) string {
	switch {
	case strings.HasSuffix(n, ".pdf"):
		return "application/pdf"
	case strings.HasSuffix(n, ".jpg") || strings.HasSuffix(n, ".jpeg"):
		return "image/jpeg"
	case strings.HasSuffix(n, ".png"):
		return "image/png"
	case head == nil:
		return ""
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return "application/pdf"
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	}
	return ""
}

func sortSkipped(s []Skipped) {
	sort.SliceStable(s, func(i, j int) bool { return s[i].Path < s[j].Path })
}

// shareInstanceUID lets the meta copy of the SOP Instance UID, the same
// string as the dataset's in almost every file, share its memory.
func shareInstanceUID(h *Header) {
	if h.MediaStorageSOPInstanceUID == h.SOPInstanceUID {
		h.MediaStorageSOPInstanceUID = h.SOPInstanceUID
	}
}
