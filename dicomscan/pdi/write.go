package pdi

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/klauspost/compress/flate"
)

// Options select what to write and how.
type Options struct {
	// Studies are the Study Instance UIDs to write; empty writes every
	// study of the index. A UID the index does not hold is an error.
	Studies []string
	// IncludeDocuments copies Index.Documents (PDF reports, pictures)
	// under IHE_PDI/.
	IncludeDocuments bool
	// Lang is the language INDEX.HTM is written in and README.TXT starts
	// with (it always holds German and English). Default: German.
	Lang i18n.Lang
	// FileSetID names the file-set (at most 16 characters of A-Z, 0-9
	// and _; other characters become _). Default: BILDBOTE.
	FileSetID string
	// Time is when the file-set was made: ZIP entry times, README.TXT, and
	// Study Date/Time of studies that have none. Zero means now. The same
	// Time (and index) gives byte-identical output.
	Time time.Time
	// Progress, when set, is told the totals and then what was written.
	Progress Progress
}

// Progress receives what a writer did. Calls come from the writing
// goroutine, one at a time, often (per 256 KiB): implementations should be
// cheap and throttle their own display.
type Progress interface {
	// Planned is called once, before anything is written, with the files
	// and bytes the selection holds (source sizes: a guide, not a promise).
	Planned(files int, bytes int64)
	// Wrote reports increments: files finished and bytes written (before
	// ZIP compression).
	Wrote(files int, bytes int64)
}

// Result is what was written.
type Result struct {
	FileSetID string `json:"fileSetID"`
	// Files counts every file written, DICOMDIR, README.TXT and INDEX.HTM
	// included; Bytes is their total size (before ZIP compression).
	Files     int   `json:"files"`
	Bytes     int64 `json:"bytes"`
	Instances int   `json:"instances"`
	Documents int   `json:"documents"`
	Patients  int   `json:"patients"`
	Studies   int   `json:"studies"`
	// Written maps each source file to its path in the file-set, in
	// writing order.
	Written []Entry `json:"written"`
	// Skipped lists files of the selection that were not written, with the
	// reason (not DICOM, executable, unreadable header, duplicate UID).
	Skipped []dicomscan.Skipped `json:"skipped,omitempty"`
}

// Entry maps one source file to the file written from it.
type Entry struct {
	// Source is the path in the index (relative to the medium).
	Source string `json:"source"`
	// Path is the slash-separated path in the file-set, e.g.
	// DICOM/PAT00001/STU00001/SER00001/IMG00001; its components joined
	// with a backslash are the DICOM Referenced File ID.
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// WriteDir writes the file-set into dir, which must be empty or not exist.
// On error dir holds no DICOMDIR (it is written last), but may hold part
// of the other files.
func WriteDir(ctx context.Context, dir string, idx *dicomscan.Index, opts Options) (*Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pdi: create %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pdi: read %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return nil, i18n.NewError(i18n.KindInput, "pdi.err.dir-not-empty", dir).WithHint("pdi.hint.dir-not-empty")
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("pdi: open %s: %w", dir, err)
	}
	defer root.Close()
	ds := &dirSink{root: root}
	defer ds.close()
	return write(ctx, idx, opts, ds)
}

// WriteZip streams the file-set as a ZIP into w: one file-set, DICOMDIR at
// the root (written last, it is small). Memory holds the directory records
// and a bounded window of instances being deflated (2 per CPU, each at
// most 8 MiB), never the file-set. Every entry is deflated at the fastest
// level (see the package doc for why). On error the ZIP in w is
// incomplete (no central directory): discard it.
func WriteZip(ctx context.Context, w io.Writer, idx *dicomscan.Index, opts Options) (*Result, error) {
	return writeZip(ctx, w, idx, opts, zipTuning{})
}

// zipPolicy decides per entry whether to deflate (the benchmark compares
// the choices).
type zipPolicy int

const (
	zipDeflateAll          zipPolicy = iota // the default, see WriteZip
	zipDeflateUncompressed                  // store compressed transfer syntaxes
	zipStoreAll
)

// zipTuning are WriteZip's knobs for tests and benchmarks; the zero value
// is WriteZip's behaviour.
type zipTuning struct {
	policy     zipPolicy
	workers    int   // deflating goroutines; 0: one per CPU
	aheadLimit int64 // largest instance deflated ahead; 0: maxDeflateAhead
}

func writeZip(ctx context.Context, w io.Writer, idx *dicomscan.Index, opts Options, tune zipTuning) (*Result, error) {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, newPooledFlate)
	if tune.workers <= 0 {
		tune.workers = runtime.GOMAXPROCS(0)
	}
	if tune.aheadLimit <= 0 {
		tune.aheadLimit = maxDeflateAhead
	}
	res, err := write(ctx, idx, opts, &zipSink{zw: zw, zipTuning: tune})
	if err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("pdi: finish ZIP: %w", err)
	}
	return res, nil
}

// flateWriters are reused across entries: a new flate.Writer costs
// milliseconds (its tables), a Reset microseconds — for 2000 small files
// that is seconds.
var flateWriters sync.Pool

type pooledFlate struct{ *flate.Writer }

func (p pooledFlate) Close() error {
	err := p.Writer.Close()
	flateWriters.Put(p.Writer)
	return err
}

func newPooledFlate(out io.Writer) (io.WriteCloser, error) {
	if fw, ok := flateWriters.Get().(*flate.Writer); ok {
		fw.Reset(out)
		return pooledFlate{fw}, nil
	}
	fw, err := flate.NewWriter(out, flate.BestSpeed)
	if err != nil {
		return nil, err
	}
	return pooledFlate{fw}, nil
}

// sink is where files go: a folder or a ZIP stream. One file is open at a
// time.
type sink interface {
	create(name string, compress bool, mod time.Time) (io.Writer, error)
	closeFile() error
	// rename renames a finished temporary file (folders only).
	rename(from, to string) error
}

type zipSink struct {
	zw *zip.Writer
	zipTuning
}

func (z *zipSink) create(name string, compress bool, mod time.Time) (io.Writer, error) {
	h := &zip.FileHeader{Name: name, Method: zip.Store, Modified: mod}
	if z.policy == zipDeflateAll || z.policy == zipDeflateUncompressed && compress {
		h.Method = zip.Deflate
	}
	return z.zw.CreateHeader(h)
}

func (z *zipSink) closeFile() error             { return nil }
func (z *zipSink) rename(from, to string) error { return errors.New("zip: rename unsupported") }

type dirSink struct {
	root *os.Root
	f    *os.File
	// the folder of the last file, kept open: instances of one series go
	// to the same folder, and opening through it saves walking the path
	// from the root for every file
	dirName string
	dir     *os.Root
}

func (d *dirSink) create(name string, _ bool, _ time.Time) (io.Writer, error) {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	target := d.root
	if dir != "" {
		if dir != d.dirName {
			if err := d.openDir(dir); err != nil {
				return nil, err
			}
		}
		target = d.dir
	}
	f, err := target.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	d.f = f
	return f, nil
}

func (d *dirSink) openDir(dir string) error {
	if d.dir != nil {
		d.dir.Close()
		d.dir, d.dirName = nil, ""
	}
	if err := d.root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sub, err := d.root.OpenRoot(dir)
	if err != nil {
		return err
	}
	d.dir, d.dirName = sub, dir
	return nil
}

func (d *dirSink) close() {
	if d.dir != nil {
		d.dir.Close()
	}
}

func (d *dirSink) closeFile() error {
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}

func (d *dirSink) rename(from, to string) error { return d.root.Rename(from, to) }

// writer holds the state of one run.
type writer struct {
	ctx  context.Context
	fsys fs.FS
	opts Options
	sink sink
	res  *Result
	buf  []byte
}

const copyChunk = 256 << 10

func write(ctx context.Context, idx *dicomscan.Index, opts Options, s sink) (*Result, error) {
	if idx == nil || idx.FS() == nil {
		return nil, errors.New("pdi: index has no medium to read from (Index.FS is nil)")
	}
	if opts.Time.IsZero() {
		opts.Time = time.Now()
	}
	opts.Lang, _ = i18n.Parse(string(opts.Lang)) // German unless a supported language
	pl, err := makePlan(idx, opts.Studies, opts.IncludeDocuments)
	if err != nil {
		return nil, err
	}
	w := &writer{
		ctx: ctx, fsys: idx.FS(), opts: opts, sink: s,
		res: &Result{FileSetID: fileSetID(opts.FileSetID), Skipped: pl.skipped},
		buf: make([]byte, copyChunk),
	}
	if opts.Progress != nil {
		opts.Progress.Planned(pl.files+3, pl.bytes)
	}
	if err := w.writeAll(pl); err != nil {
		return nil, err
	}
	return w.res, nil
}

func (w *writer) writeAll(pl *plan) error {
	var list []*planInstance
	for _, pp := range pl.patients {
		for _, ps := range pp.studies {
			for _, pse := range ps.series {
				list = append(list, pse.instances...)
			}
		}
	}
	if err := w.writeInstances(list); err != nil {
		return err
	}
	roots := w.records(pl)
	if len(roots) == 0 {
		return i18n.NewError(i18n.KindInput, "pdi.err.nothing-written").WithHint("pdi.hint.nothing-written")
	}
	var docs []planDocument
	for _, d := range pl.documents {
		ok, err := w.writeDocument(d)
		if err != nil {
			return err
		}
		if ok {
			docs = append(docs, d)
		}
	}
	sum := summarize(pl, docs)
	if err := w.writeBytes("README.TXT", readme(sum, w.opts), true); err != nil {
		return err
	}
	index, err := indexHTML(sum, w.opts.Lang, w.opts.Time)
	if err != nil {
		return err
	}
	if err := w.writeBytes("INDEX.HTM", index, true); err != nil {
		return err
	}
	dicomdir, err := encodeDICOMDIR(w.res.FileSetID, dicomdirUID(w.res.FileSetID, w.opts.Time, pl), roots)
	if err != nil {
		return err
	}
	return w.writeDICOMDIR(dicomdir)
}

// writeInstances writes the instances in order: one after the other into
// a folder, and into a ZIP with the deflating spread over the CPUs
// (zipparallel.go).
func (w *writer) writeInstances(list []*planInstance) error {
	if zs, ok := w.sink.(*zipSink); ok && zs.policy == zipDeflateAll {
		return w.writeInstancesParallel(zs, list)
	}
	for _, pi := range list {
		p := w.prepare(w.ctx, pi)
		if err := w.commit(p); err != nil {
			return err
		}
	}
	return nil
}

// prepared is an instance opened and checked, ready to be written: the
// source positioned at its data set, or (zip workers) already deflated.
type prepared struct {
	pi   *planInstance
	err  error              // abort the run
	skip *dicomscan.Skipped // leave the file out
	f    fs.File
	br   *bufio.Reader
	ref  *fileRef
	keys leafKeys
	meta []byte
	name string

	deflated *bytes.Buffer // set when deflated ahead: the raw entry
	crc      uint32
	size     int64 // uncompressed size of the deflated entry
}

// prepare opens an instance and reads its header. Problems with the
// source header make a skip; it never writes and touches no writer
// state, so zip workers can run it in parallel.
func (w *writer) prepare(ctx context.Context, pi *planInstance) *prepared {
	p := &prepared{pi: pi}
	if err := ctx.Err(); err != nil {
		p.err = err
		return p
	}
	in := pi.inst
	skip := func(code, reason string) *prepared {
		if p.f != nil {
			p.f.Close()
			p.f = nil
		}
		p.skip = &dicomscan.Skipped{Path: in.Path, Code: code, Reason: reason}
		return p
	}
	f, err := w.fsys.Open(in.Path)
	if err != nil {
		return skip(dicomscan.SkipUnreadable, "open: "+err.Error())
	}
	p.f = f
	p.br = bufio.NewReaderSize(f, 64<<10)
	if head, _ := p.br.Peek(132); isExecutableContent(head) && !(len(head) == 132 && string(head[128:]) == "DICM") {
		return skip(dicomscan.SkipClutter, "executable")
	}
	m, err := readSourceMeta(p.br)
	if errors.Is(err, errNotDICOM) {
		return skip(dicomscan.SkipNotDICOM, "not DICOM")
	}
	if err != nil {
		return skip(dicomscan.SkipDamaged, "header: "+err.Error())
	}
	// The SOP UIDs come from the data set (the Index read them there): a
	// meta group that disagrees with its data set (pydicom's rtplan.dcm
	// does) is corrected by the rewrite. The transfer syntax comes from the
	// meta, which says how the bytes that follow are encoded.
	p.ref = &fileRef{
		fileID:      pi.fileID,
		sopClass:    firstNonEmpty(in.SOPClassUID, m.sopClass),
		sopInstance: firstNonEmpty(in.SOPInstanceUID, m.sopInstance),
		ts:          firstNonEmpty(m.ts, in.TransferSyntaxUID),
	}
	if p.ref.sopClass == "" || p.ref.sopInstance == "" || p.ref.ts == "" {
		return skip(dicomscan.SkipIncomplete, "SOP Class, SOP Instance or Transfer Syntax UID unknown")
	}
	if p.keys, err = w.leafKeys(pi, p.ref); err != nil {
		return skip(dicomscan.SkipDamaged, err.Error())
	}
	if p.meta, err = newMeta(cleanUID(p.ref.sopClass), cleanUID(p.ref.sopInstance), cleanUID(p.ref.ts)); err != nil {
		p.f.Close()
		p.f, p.err = nil, fmt.Errorf("pdi: meta for %s: %w", in.Path, err)
		return p
	}
	p.name = strings.Join(pi.fileID, "/")
	return p
}

// commit writes a prepared instance (in order, on the writing goroutine).
func (w *writer) commit(p *prepared) error {
	if p.err != nil {
		return p.err
	}
	if p.skip != nil {
		w.res.Skipped = append(w.res.Skipped, *p.skip)
		return nil
	}
	var n int64
	if p.deflated != nil {
		var err error
		if n, err = w.writeDeflated(p); err != nil {
			return err
		}
	} else if _, layout := w.sink.(*layoutSink); layout {
		// Layout: the caller moves the source into place itself
		p.f.Close()
		n = p.pi.inst.Size
	} else {
		defer p.f.Close()
		out, err := w.sink.create(p.name, compressible(p.ref.ts), w.opts.Time)
		if err != nil {
			return fmt.Errorf("pdi: create %s: %w", p.name, err)
		}
		if n, err = w.copyFile(out, p.meta, p.br, p.pi.inst.Path, p.name); err != nil {
			return err
		}
	}
	p.pi.written, p.pi.keys = p.ref, p.keys
	w.finished(p.pi.inst.Path, p.name, n)
	w.res.Instances++
	return nil
}

// copyFile writes head, then the rest of src, to out in chunks, checking
// for cancellation between chunks and reporting progress.
func (w *writer) copyFile(out io.Writer, head []byte, src io.Reader, from, name string) (int64, error) {
	if _, err := out.Write(head); err != nil {
		return 0, fmt.Errorf("pdi: write %s: %w", name, err)
	}
	w.progress(0, int64(len(head)))
	total := int64(len(head))
	for {
		if err := w.ctx.Err(); err != nil {
			return total, err
		}
		n, rerr := src.Read(w.buf)
		if n > 0 {
			if _, err := out.Write(w.buf[:n]); err != nil {
				return total, fmt.Errorf("pdi: write %s: %w", name, err)
			}
			total += int64(n)
			w.progress(0, int64(n))
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return total, fmt.Errorf("pdi: read %s: %w", from, rerr)
		}
	}
	if err := w.sink.closeFile(); err != nil {
		return total, fmt.Errorf("pdi: close %s: %w", name, err)
	}
	return total, nil
}

// writeDocument copies a document; false when it was skipped.
func (w *writer) writeDocument(d planDocument) (bool, error) {
	if err := w.ctx.Err(); err != nil {
		return false, err
	}
	f, err := w.fsys.Open(d.doc.Path)
	if err != nil {
		w.skip(d.doc.Path, dicomscan.SkipUnreadable, "open: "+err.Error())
		return false, nil
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	if head, _ := br.Peek(8); isExecutableContent(head) {
		w.skip(d.doc.Path, dicomscan.SkipClutter, "executable")
		return false, nil
	}
	out, err := w.sink.create(d.name, compressibleMIME(d.doc.MIMEType), w.opts.Time)
	if err != nil {
		return false, fmt.Errorf("pdi: create %s: %w", d.name, err)
	}
	n, err := w.copyFile(out, nil, br, d.doc.Path, d.name)
	if err != nil {
		return false, err
	}
	w.finished(d.doc.Path, d.name, n)
	w.res.Documents++
	return true, nil
}

func (w *writer) writeBytes(name string, data []byte, compress bool) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	out, err := w.sink.create(name, compress, w.opts.Time)
	if err != nil {
		return fmt.Errorf("pdi: create %s: %w", name, err)
	}
	if _, err := out.Write(data); err != nil {
		return fmt.Errorf("pdi: write %s: %w", name, err)
	}
	if err := w.sink.closeFile(); err != nil {
		return fmt.Errorf("pdi: close %s: %w", name, err)
	}
	w.res.Files++
	w.res.Bytes += int64(len(data))
	w.progress(1, int64(len(data)))
	return nil
}

// writeDICOMDIR writes the DICOMDIR; in a folder through a temporary name,
// so a DICOMDIR that exists is complete.
func (w *writer) writeDICOMDIR(data []byte) error {
	if _, ok := w.sink.(*dirSink); !ok {
		return w.writeBytes("DICOMDIR", data, true)
	}
	if err := w.writeBytes("DICOMDIR.TMP", data, false); err != nil {
		return err
	}
	if err := w.sink.rename("DICOMDIR.TMP", "DICOMDIR"); err != nil {
		return fmt.Errorf("pdi: rename DICOMDIR: %w", err)
	}
	return nil
}

func (w *writer) finished(from, name string, n int64) {
	w.res.Files++
	w.res.Bytes += n
	w.res.Written = append(w.res.Written, Entry{Source: from, Path: name, Size: n})
	w.progress(1, 0)
}

func (w *writer) progress(files int, bytes int64) {
	if w.opts.Progress != nil {
		w.opts.Progress.Wrote(files, bytes)
	}
}

func (w *writer) skip(p, code, reason string) {
	w.res.Skipped = append(w.res.Skipped, dicomscan.Skipped{Path: p, Code: code, Reason: reason})
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// fileSetID makes s a valid File-set ID (CS, A-Z 0-9 _ , at most 16).
func fileSetID(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return '_'
	}, strings.TrimSpace(s))
	if len(s) > 16 {
		s = s[:16]
	}
	if s == "" {
		return "BILDBOTE"
	}
	return s
}

// dicomdirUID derives the DICOMDIR's SOP Instance UID from its content, so
// the same input gives the same bytes: a "2.25." UID from a name-based
// UUID (version 8) over the file-set ID, the time and the instance UIDs.
func dicomdirUID(id string, t time.Time, pl *plan) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", id, t.UnixNano())
	for _, pp := range pl.patients {
		for _, ps := range pp.studies {
			for _, pse := range ps.series {
				for _, pi := range pse.instances {
					if pi.written != nil {
						fmt.Fprintf(h, "%s\x00%s\x00", strings.Join(pi.fileID, "/"), pi.written.sopInstance)
					}
				}
			}
		}
	}
	sum := h.Sum(nil)[:16]
	sum[6] = sum[6]&0x0F | 0x80
	sum[8] = sum[8]&0x3F | 0x80
	return "2.25." + new(big.Int).SetBytes(sum).String()
}

// compressible reports whether deflating a file of transfer syntax ts is
// worth it: not for the encapsulated (already compressed) syntaxes.
func compressible(ts string) bool {
	switch {
	case strings.HasPrefix(ts, "1.2.840.10008.1.2.4."), // JPEG, JPEG-LS, J2K, MPEG, HEVC, JPEG XL, HTJ2K
		ts == "1.2.840.10008.1.2.5",   // RLE
		ts == uidDeflatedExplicitVRLE, // deflated already
		strings.HasPrefix(ts, "1.2.840.10008.1.2.8."):
		return false
	}
	return true
}

func compressibleMIME(m string) bool {
	m = strings.ToLower(m)
	return strings.HasPrefix(m, "text/") || strings.Contains(m, "xml") || strings.Contains(m, "json")
}
