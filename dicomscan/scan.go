package dicomscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
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
	// Workers bounds how many files are read at once (default: 4 per CPU,
	// at least 4, at most 32). Memory grows with it by about 100 KiB each.
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

// fullScan walks the whole medium and reads the header of every file that
// may be DICOM, with a bounded pool of workers.
func fullScan(ctx context.Context, fsys fs.FS, ix *Index, opts Options) ([]found, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan string, 64)
	results := make(chan scanResult, 64)

	// results closes when the walker and every worker are done: the
	// walker reports unreadable folders and links itself.
	var wg sync.WaitGroup
	var walkErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		walkErr = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				select {
				case results <- scanResult{path: p, skipped: &Skipped{Path: p, Code: SkipUnreadable, Reason: errText(err)}}:
				case <-ctx.Done():
					return ctx.Err()
				}
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if !d.Type().IsRegular() {
				// Symbolic links are not followed: they could lead out of
				// the medium, to files the user never meant to send.
				select {
				case results <- scanResult{path: p, skipped: &Skipped{Path: p, Code: SkipNotRegular, Reason: "symbolic link or special file (not followed)"}}:
				case <-ctx.Done():
					return ctx.Err()
				}
				return nil
			}
			select {
			case jobs <- p:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		})
	}()

	for range opts.workers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, headerChunk)
			for p := range jobs {
				r := examine(fsys, p, buf)
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	var out []found
	var counts Counts
	strs := interner{}
	for r := range results {
		counts.Files++
		counts.Bytes += r.size
		counts.Folder = path.Dir(r.path)
		switch {
		case r.h != nil:
			strs.header(r.h)
			out = append(out, found{path: r.path, size: r.size, h: r.h})
		case r.doc != nil:
			ix.Documents = append(ix.Documents, *r.doc)
		case r.skipped != nil:
			ix.Skipped = append(ix.Skipped, *r.skipped)
		}
		if opts.Progress != nil {
			opts.Progress.Update(counts)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if walkErr != nil {
		return nil, fmt.Errorf("scan %s: %w", ix.Source, walkErr)
	}
	return out, nil
}

// examine classifies one file: clutter and documents by name, everything
// else by reading its header.
func examine(fsys fs.FS, p string, buf []byte) scanResult {
	r := scanResult{path: p}
	name := path.Base(p)
	if isDICOMDIRName(name) {
		r.skipped = &Skipped{Path: p, Code: SkipDICOMDIR, Reason: "DICOMDIR (a directory of the medium, not an image)"}
		return r
	}
	if isClutter(p) {
		r.skipped = &Skipped{Path: p, Code: SkipClutter, Reason: "not DICOM (viewer, autorun or read-me file)"}
		return r
	}
	h, done, err := readFile(fsys, p, name, buf, &r)
	if done {
		return r
	}
	switch {
	case errors.Is(err, ErrNotDICOM):
		var head []byte
		if r.size >= 8 {
			head = buf[:8] // the first bytes of this file: the reader filled buf from offset 0
		}
		if mime := documentType(name, head); head != nil && mime != "" {
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

// readFile reads the header of p. done is true when r already holds the
// outcome (unreadable, not a regular file, a document).
func readFile(fsys fs.FS, p, name string, buf []byte, r *scanResult) (h *Header, done bool, err error) {
	if hd, ok := fsys.(*hostDir); ok && hostFastPath && documentType(name, nil) == "" && fs.ValidPath(p) {
		var notRegular bool
		r.size, h, notRegular, err = readHostFile(hd.hostPath(p), buf)
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
	if mime := documentType(name, nil); mime != "" {
		r.doc = &Document{Path: p, Size: r.size, MIMEType: mime}
		return nil, true, nil
	}
	h, err = readHeader(f, r.size, buf)
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

func isClutter(p string) bool {
	name := strings.ToLower(path.Base(p))
	name, _, _ = strings.Cut(name, ";")
	if clutterNames[name] || strings.HasPrefix(name, "._") {
		return true
	}
	return clutterExt[path.Ext(name)]
}

// documentType recognises PDF reports and JPEG/PNG pictures, by name or,
// when head is given, by content.
func documentType(name string, head []byte) string {
	n := strings.ToLower(name)
	n, _, _ = strings.Cut(n, ";")
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

// interner shares the strings that repeat from file to file (names, study
// and series attributes), so that a medium of 20,000 files keeps one copy
// of each instead of 20,000: memory then grows with the per-file UIDs and
// paths only.
type interner map[string]string

func (in interner) str(p *string) {
	if *p == "" {
		return
	}
	if s, ok := in[*p]; ok {
		*p = s
		return
	}
	in[*p] = *p
}

func (in interner) header(h *Header) {
	for _, p := range []*string{&h.MediaStorageSOPClassUID, &h.TransferSyntaxUID, &h.CharacterSet,
		&h.SOPClassUID, &h.StudyDate, &h.StudyTime, &h.AccessionNumber, &h.Modality,
		&h.ReferringPhysician, &h.StudyDescription, &h.SeriesDescription, &h.PatientName,
		&h.PatientID, &h.PatientBirthDate, &h.PatientSex, &h.BodyPart, &h.StudyInstanceUID,
		&h.SeriesInstanceUID, &h.StudyID} {
		in.str(p)
	}
	// Per-file values: the meta copy of the SOP Instance UID is the same
	// string as the dataset's in almost every file.
	if h.MediaStorageSOPInstanceUID == h.SOPInstanceUID {
		h.MediaStorageSOPInstanceUID = h.SOPInstanceUID
	}
}
