package dicomscan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// DICOMDIR tags.
const (
	tagFirstRecordOffset  = 0x00041200
	tagRecordSequence     = 0x00041220
	tagNextRecordOffset   = 0x00041400
	tagRecordInUse        = 0x00041410
	tagLowerRecordOffset  = 0x00041420
	tagRecordType         = 0x00041430
	tagReferencedFileID   = 0x00041500
	tagRefSOPClassInFile  = 0x00041510
	tagRefSOPInstInFile   = 0x00041511
	tagRefTransferSyntax  = 0x00041512
	maxDICOMDIRRecords    = 1 << 20
	maxDICOMDIRSize       = 256 << 20
	dicomdirInactiveValue = 0
)

// DICOMDIR is a parsed DICOMDIR: its records in file order, each with the
// attributes the index needs, decoded with the record's own Specific
// Character Set (or the one it inherits from the DICOMDIR).
type DICOMDIR struct {
	TransferSyntaxUID string
	FirstRecordOffset uint32
	Records           []*Record
}

// Record is one directory record.
type Record struct {
	// Offset is where the record's item starts in the file (what the
	// offsets of other records point at).
	Offset int64
	Type   string // PATIENT, STUDY, SERIES, IMAGE, ...
	// Next and Lower are the offsets as written; 0 means none. The reader
	// uses them only when they form a consistent tree.
	Next, Lower uint32
	Inactive    bool
	// FileID is the Referenced File ID, one entry per path component.
	FileID []string
	// Header holds the record's attributes; for leaf records the
	// Referenced SOP Class/Instance/Transfer Syntax UIDs in File are
	// stored as SOPClassUID, SOPInstanceUID and TransferSyntaxUID.
	Header

	hasNext, hasLower bool
	children          []*Record
}

// ReadDICOMDIR parses a DICOMDIR. It reads records sequentially and does
// not follow offsets; size bounds every declared length as in ReadHeader.
func ReadDICOMDIR(r io.Reader, size int64) (*DICOMDIR, error) {
	if size > maxDICOMDIRSize {
		return nil, fmt.Errorf("DICOMDIR of %d bytes is larger than %d", size, maxDICOMDIRSize)
	}
	br := newByteReader(r, size, nil)
	h := &Header{}
	d, err := openDataset(br, h)
	if err != nil {
		return nil, err
	}
	if h.MediaStorageSOPClassUID != "" && h.MediaStorageSOPClassUID != sopClassDICOMDIR {
		return nil, fmt.Errorf("not a DICOMDIR (media storage SOP class %s)", h.MediaStorageSOPClassUID)
	}
	dd := &DICOMDIR{TransferSyntaxUID: h.TransferSyntaxUID}
	cs := newCharset("")
	charsetValue := ""
	sawSequence := false
	for !d.r.atEOF() {
		e, err := d.readElement()
		if err != nil {
			return nil, err
		}
		switch e.tag {
		case tagRecordSequence:
			sawSequence = true
			if err := d.readRecords(e, dd, cs, charsetValue); err != nil {
				return nil, fmt.Errorf("directory record sequence: %w", err)
			}
			continue
		case tagSpecificCharacterSet, tagFirstRecordOffset:
			v, err := d.readValue(e, 0)
			if err != nil {
				return nil, err
			}
			if e.tag == tagSpecificCharacterSet {
				charsetValue = asciiValue(v)
				cs = newCharset(charsetValue)
			} else if len(v) == 4 {
				dd.FirstRecordOffset = d.u32(v)
			}
			continue
		}
		if err := d.skipValue(e, 0); err != nil {
			return nil, err
		}
	}
	if !sawSequence {
		return nil, errors.New("no directory record sequence (0004,1220)")
	}
	return dd, nil
}

// readRecords reads the items of the directory record sequence.
func (d *decoder) readRecords(seq element, dd *DICOMDIR, cs charset, csValue string) error {
	end := int64(-1)
	if seq.length != undefinedLength {
		end = d.r.pos + int64(seq.length)
		if rem := d.r.remaining(); rem >= 0 && int64(seq.length) > rem {
			return errTooLong
		}
	}
	for end < 0 || d.r.pos < end {
		item, err := d.readElement()
		if err != nil {
			return err
		}
		if item.tag == tagSequenceDelim {
			if end >= 0 {
				return errors.New("sequence delimiter in a sequence of defined length")
			}
			return nil
		}
		if item.tag != tagItem {
			return fmt.Errorf("unexpected (%04X,%04X) instead of a record", item.tag>>16, item.tag&0xFFFF)
		}
		if len(dd.Records) >= maxDICOMDIRRecords {
			return fmt.Errorf("more than %d records", maxDICOMDIRRecords)
		}
		rec, err := d.readRecord(item, cs, csValue)
		if err != nil {
			return fmt.Errorf("record %d: %w", len(dd.Records)+1, err)
		}
		dd.Records = append(dd.Records, rec)
	}
	if d.r.pos != end {
		return errors.New("records overrun the sequence length")
	}
	return nil
}

// readRecord reads one record item. The record's own Specific Character
// Set replaces the inherited one for its values.
func (d *decoder) readRecord(item element, cs charset, csValue string) (*Record, error) {
	rec := &Record{Offset: item.offset}
	rec.CharacterSet = csValue
	end := int64(-1)
	if item.length != undefinedLength {
		end = d.r.pos + int64(item.length)
		if rem := d.r.remaining(); rem >= 0 && int64(item.length) > rem {
			// The last record's length was not updated after an edit
			// (pydicom's DICOMDIR-nooffset): read its elements to the end
			// of the file; a cut element is still an error.
			end = d.r.pos + rem
		}
	}
	for end < 0 || d.r.pos < end {
		e, err := d.readElement()
		if err != nil {
			return nil, err
		}
		if e.tag == tagItemDelim {
			if end >= 0 {
				return nil, errors.New("item delimiter in an item of defined length")
			}
			return rec, nil
		}
		if e.tag == tagSequenceDelim || e.tag == tagItem {
			return nil, fmt.Errorf("unexpected (%04X,%04X) inside a record", e.tag>>16, e.tag&0xFFFF)
		}
		if !wantRecordTag(e.tag) {
			if err := d.skipValue(e, 1); err != nil {
				return nil, err
			}
			continue
		}
		v, err := d.readValue(e, 1)
		if err != nil {
			return nil, err
		}
		rec.set(d, e.tag, v, &cs)
	}
	if d.r.pos != end {
		return nil, errors.New("elements overrun the record length")
	}
	return rec, nil
}

func wantRecordTag(tag uint32) bool {
	switch tag {
	case tagNextRecordOffset, tagRecordInUse, tagLowerRecordOffset, tagRecordType,
		tagReferencedFileID, tagRefSOPClassInFile, tagRefSOPInstInFile, tagRefTransferSyntax:
		return true
	}
	return wantHeaderTag(tag)
}

func (rec *Record) set(d *decoder, tag uint32, v []byte, cs *charset) {
	switch tag {
	case tagNextRecordOffset:
		if len(v) == 4 {
			rec.Next, rec.hasNext = d.u32(v), true
		}
	case tagLowerRecordOffset:
		if len(v) == 4 {
			rec.Lower, rec.hasLower = d.u32(v), true
		}
	case tagRecordInUse:
		rec.Inactive = len(v) == 2 && d.u16(v) == dicomdirInactiveValue
	case tagRecordType:
		rec.Type = strings.ToUpper(asciiValue(v))
	case tagReferencedFileID:
		for _, part := range strings.Split(asciiValue(v), `\`) {
			rec.FileID = append(rec.FileID, strings.TrimSpace(part))
		}
	case tagRefSOPClassInFile:
		rec.SOPClassUID = uidValue(v)
	case tagRefSOPInstInFile:
		rec.SOPInstanceUID = uidValue(v)
	case tagRefTransferSyntax:
		rec.TransferSyntaxUID = uidValue(v)
	default:
		rec.Header.set(tag, v, cs)
	}
}

// Record levels of the patient → study → series → instance hierarchy.
const (
	levelPatient = iota
	levelStudy
	levelSeries
	levelInstance
	levelOther // private and non-image records the index ignores
)

func (rec *Record) level() int {
	switch rec.Type {
	case "PATIENT":
		return levelPatient
	case "STUDY":
		return levelStudy
	case "SERIES":
		return levelSeries
	}
	if len(rec.FileID) > 0 {
		return levelInstance
	}
	return levelOther
}

// tree arranges the records as patients with their children: by the
// offsets when they form a consistent tree, otherwise by the order of the
// records in the file (depth first, as every writer emits them).
func (dd *DICOMDIR) tree() ([]*Record, error) {
	if roots, ok := dd.treeByOffsets(); ok {
		if err := checkTree(roots); err == nil {
			return roots, nil
		}
	}
	for _, r := range dd.Records {
		r.children = nil
	}
	roots, err := dd.treeByOrder()
	if err != nil {
		return nil, err
	}
	return roots, checkTree(roots)
}

// treeByOffsets follows the offsets; ok is false when one points nowhere,
// a record is reached twice (a loop), or a record is never reached.
func (dd *DICOMDIR) treeByOffsets() ([]*Record, bool) {
	at := make(map[int64]*Record, len(dd.Records))
	for _, r := range dd.Records {
		r.children = nil
		at[r.Offset] = r
	}
	visited := make(map[*Record]bool, len(dd.Records))
	var chain func(off uint32) ([]*Record, bool)
	chain = func(off uint32) ([]*Record, bool) {
		var list []*Record
		for off != 0 {
			r := at[int64(off)]
			if r == nil || visited[r] || len(visited) > len(dd.Records) {
				return nil, false
			}
			visited[r] = true
			list = append(list, r)
			if r.Lower != 0 {
				kids, ok := chain(r.Lower)
				if !ok {
					return nil, false
				}
				r.children = kids
			}
			off = r.Next
		}
		return list, true
	}
	if len(dd.Records) == 0 {
		return nil, true
	}
	roots, ok := chain(dd.FirstRecordOffset)
	if !ok {
		return nil, false
	}
	for _, r := range dd.Records {
		if !r.Inactive && !visited[r] {
			return nil, false
		}
	}
	return roots, true
}

// treeByOrder nests each record under the last record of the level above.
func (dd *DICOMDIR) treeByOrder() ([]*Record, error) {
	var roots []*Record
	var current [levelInstance]*Record
	for _, r := range dd.Records {
		if r.Inactive {
			continue
		}
		lvl := r.level()
		if lvl == levelOther {
			continue
		}
		if lvl == levelPatient {
			roots = append(roots, r)
		} else {
			parent := current[lvl-1]
			if parent == nil {
				return nil, fmt.Errorf("%s record without a %s record before it", nameOr(r.Type), levelName(lvl-1))
			}
			parent.children = append(parent.children, r)
		}
		if lvl < levelInstance {
			current[lvl] = r
			for i := lvl + 1; i < levelInstance; i++ {
				current[i] = nil
			}
		}
	}
	return roots, nil
}

func levelName(lvl int) string {
	return [...]string{"PATIENT", "STUDY", "SERIES"}[lvl]
}

func nameOr(t string) string {
	if t == "" {
		return "untyped"
	}
	return t
}

// checkTree checks that patients hold studies, studies series, and series
// the instances; private and other non-image records are allowed anywhere.
func checkTree(roots []*Record) error {
	var walk func(list []*Record, want int) error
	walk = func(list []*Record, want int) error {
		for _, r := range list {
			if r.Inactive {
				continue
			}
			lvl := r.level()
			if lvl == levelOther && r.Type != "" && !isKnownRecordType(r.Type) {
				return fmt.Errorf("record of unknown type %q where a %s record belongs", r.Type, levelName(min(want, levelSeries)))
			}
			if lvl == levelOther {
				continue
			}
			if lvl != want {
				return fmt.Errorf("%s record where a %s record belongs", nameOr(r.Type), levelNameOrInstance(want))
			}
			if lvl < levelInstance {
				if err := walk(r.children, lvl+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(roots, levelPatient)
}

func levelNameOrInstance(lvl int) string {
	if lvl >= levelInstance {
		return "IMAGE"
	}
	return levelName(lvl)
}

// isKnownRecordType lists the record types of PS3.3 F.5 that carry no file
// the index wants (or may, but then they have a Referenced File ID).
func isKnownRecordType(t string) bool {
	switch t {
	case "PRIVATE", "HANGING PROTOCOL", "PALETTE", "IMPLANT", "IMPLANT ASSY",
		"IMPLANT GROUP", "TOPIC", "VISIT", "RESULTS", "INTERPRETATION", "STUDY COMPONENT",
		"MODALITY LUT", "VOI LUT", "CURVE", "OVERLAY", "FILM SESSION", "FILM BOX",
		"IMAGE BOX", "STORED PRINT", "HL7 STRUC DOC", "IMAGE", "RT DOSE",
		"RT STRUCTURE SET", "RT PLAN", "RT TREAT RECORD", "PRESENTATION", "WAVEFORM",
		"SR DOCUMENT", "KEY OBJECT DOC", "SPECTROSCOPY", "RAW DATA", "REGISTRATION",
		"FIDUCIAL", "ENCAP DOC", "VALUE MAP", "STEREOMETRIC", "MEASUREMENT", "SURFACE",
		"SURFACE SCAN", "TRACT", "ASSESSMENT", "RADIOTHERAPY", "PLAN", "ANNOTATION",
		"INVENTORY":
		return true
	}
	return false
}

// errDICOMDIRUnusable carries the English reason why a DICOMDIR was not used.
type errDICOMDIRUnusable struct{ reason string }

func (e errDICOMDIRUnusable) Error() string { return e.reason }

func unusable(format string, args ...any) error {
	return errDICOMDIRUnusable{reason: fmt.Sprintf(format, args...)}
}

// scanDICOMDIRs builds the index from the medium's DICOMDIR (at the root,
// or else one in each top-level folder, as in a drop of several CDs). It
// reports used=false with a reason when a DICOMDIR exists but cannot be
// trusted, and used=false without one when there is none.
func scanDICOMDIRs(ctx context.Context, fsys fs.FS, ix *Index, opts Options) (used bool, reason string, err error) {
	dirs := newDirCache(fsys)
	dicomdirs, err := findDICOMDIRs(dirs)
	if err != nil || len(dicomdirs) == 0 {
		return false, "", nil
	}
	var files []found
	referenced := map[string]bool{}
	for _, p := range dicomdirs {
		f, err := indexFromDICOMDIR(ctx, fsys, dirs, p, opts.workers())
		if err != nil {
			if ctx.Err() != nil {
				return false, "", ctx.Err()
			}
			var u errDICOMDIRUnusable
			if errors.As(err, &u) {
				return false, fmt.Sprintf("%s: %s", p, u.reason), nil
			}
			return false, fmt.Sprintf("%s cannot be read: %s", p, errText(err)), nil
		}
		for _, x := range f {
			referenced[x.path] = true
		}
		referenced[p] = true
		files = append(files, f...)
	}
	if err := ctx.Err(); err != nil {
		return false, "", err
	}
	extra, err := checkUnreferenced(ctx, dirs, referenced, ix)
	if err != nil {
		return false, "", err
	}
	if extra != "" {
		ix.Documents, ix.Skipped = nil, nil
		return false, extra, nil
	}
	if reason := sampleSeries(fsys, files); reason != "" {
		ix.Documents, ix.Skipped = nil, nil
		return false, reason, nil
	}
	buildIndex(ix, files)
	if opts.Progress != nil {
		opts.Progress.Update(Counts{Files: len(referenced) + len(ix.Documents) + len(ix.Skipped), Bytes: ix.Bytes, Folder: "."})
	}
	return true, "", nil
}

// findDICOMDIRs returns the DICOMDIR at the root, or those in the
// top-level folders when the root has none.
func findDICOMDIRs(dirs *dirCache) ([]string, error) {
	root, err := dirs.list(".")
	if err != nil {
		return nil, err
	}
	for _, e := range root.entries {
		if !e.IsDir() && isDICOMDIRName(e.Name()) {
			return []string{e.Name()}, nil
		}
	}
	var out []string
	for _, e := range root.entries {
		if !e.IsDir() {
			continue
		}
		sub, err := dirs.list(e.Name())
		if err != nil {
			continue
		}
		for _, s := range sub.entries {
			if !s.IsDir() && isDICOMDIRName(s.Name()) {
				out = append(out, path.Join(e.Name(), s.Name()))
				break
			}
		}
	}
	return out, nil
}

// indexFromDICOMDIR reads the DICOMDIR at p and resolves the file of every
// instance record (stat only).
func indexFromDICOMDIR(ctx context.Context, fsys fs.FS, dirs *dirCache, p string, workers int) ([]found, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	dd, err := ReadDICOMDIR(f, info.Size())
	if err != nil {
		return nil, unusable("broken (%s)", errText(err))
	}
	roots, err := dd.tree()
	if err != nil {
		return nil, unusable("inconsistent records (%s)", err)
	}
	base := path.Dir(p)
	var out []found
	var entries []fs.DirEntry
	var missing []string
	for _, pat := range roots {
		if pat.Inactive {
			continue
		}
		for _, st := range pat.children {
			if st.level() != levelStudy || st.Inactive {
				continue
			}
			for _, se := range st.children {
				if se.level() != levelSeries || se.Inactive {
					continue
				}
				for _, in := range se.children {
					if in.level() != levelInstance || in.Inactive {
						continue
					}
					h, err := recordHeader(pat, st, se, in)
					if err != nil {
						return nil, err
					}
					rel, err := fileIDPath(in.FileID)
					if err != nil {
						return nil, err
					}
					actual, entry, ok := dirs.resolve(path.Join(base, rel))
					if !ok {
						missing = append(missing, path.Join(base, rel))
						continue
					}
					out = append(out, found{path: actual, h: h})
					entries = append(entries, entry)
				}
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, unusable("%d referenced files are missing (first: %s)", len(missing), missing[0])
	}
	if err := statSizes(ctx, out, entries, workers); err != nil {
		return nil, err
	}
	return out, nil
}

// statSizes fills in the size of every file, stat'ing in parallel: on a
// DICOMDIR medium the stats are most of the work.
func statSizes(ctx context.Context, files []found, entries []fs.DirEntry, workers int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) || ctx.Err() != nil {
					return
				}
				info, err := entries[i].Info()
				if err != nil {
					errs[w] = unusable("%s, listed in the DICOMDIR, cannot be read (%s)", files[i].path, errText(err))
					return
				}
				files[i].size = info.Size()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// recordHeader combines the attributes of an instance record and its
// patient, study and series records into one Header.
func recordHeader(pat, st, se, in *Record) (*Header, error) {
	h := in.Header
	h.PatientName, h.PatientID = pat.PatientName, pat.PatientID
	h.PatientBirthDate, h.PatientSex = pat.PatientBirthDate, pat.PatientSex
	h.StudyInstanceUID, h.StudyID = st.StudyInstanceUID, st.StudyID
	h.StudyDate, h.StudyTime = st.StudyDate, st.StudyTime
	h.StudyDescription, h.AccessionNumber = st.StudyDescription, st.AccessionNumber
	h.ReferringPhysician = st.ReferringPhysician
	h.SeriesInstanceUID, h.SeriesNumber = se.SeriesInstanceUID, se.SeriesNumber
	h.Modality, h.SeriesDescription, h.BodyPart = se.Modality, se.SeriesDescription, se.BodyPart
	if h.CharacterSet == "" {
		h.CharacterSet = pat.CharacterSet
	}
	switch {
	case h.StudyInstanceUID == "":
		return nil, unusable("a STUDY record has no Study Instance UID")
	case h.SeriesInstanceUID == "":
		return nil, unusable("a SERIES record has no Series Instance UID")
	case h.SOPInstanceUID == "":
		return nil, unusable("an instance record has no Referenced SOP Instance UID")
	}
	return &h, nil
}

// fileIDPath turns a Referenced File ID into a relative slash path,
// refusing components that would leave the medium.
func fileIDPath(parts []string) (string, error) {
	if len(parts) == 0 {
		return "", unusable("an instance record has an empty Referenced File ID")
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "/:\x00") {
			return "", unusable("a Referenced File ID points outside the medium (%q)", strings.Join(parts, `\`))
		}
	}
	return strings.Join(parts, "/"), nil
}

// checkUnreferenced walks the medium (directory listings only) and sorts
// the files no DICOMDIR references: clutter and documents are listed; a
// file that turns out to be DICOM means the DICOMDIR disagrees with the
// medium, and the returned reason says so.
func checkUnreferenced(ctx context.Context, dirs *dirCache, referenced map[string]bool, ix *Index) (string, error) {
	var extraDICOM []string
	buf := make([]byte, headerChunk)
	var walk func(dir string) error
	walk = func(dir string) error {
		l, err := dirs.list(dir)
		if err != nil {
			ix.Skipped = append(ix.Skipped, Skipped{Path: dir, Code: SkipUnreadable, Reason: errText(err)})
			return nil
		}
		for _, e := range l.entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			p := path.Join(dir, e.Name())
			switch {
			case e.IsDir():
				if err := walk(p); err != nil {
					return err
				}
				continue
			case referenced[p]:
				continue
			case !e.Type().IsRegular():
				ix.Skipped = append(ix.Skipped, Skipped{Path: p, Code: SkipNotRegular, Reason: "symbolic link or special file (not followed)"})
				continue
			}
			r := examine(dirs.fsys, p, buf)
			switch {
			case r.h != nil:
				extraDICOM = append(extraDICOM, p)
			case r.doc != nil:
				ix.Documents = append(ix.Documents, *r.doc)
			case r.skipped != nil:
				ix.Skipped = append(ix.Skipped, *r.skipped)
			}
		}
		return nil
	}
	if err := walk("."); err != nil {
		return "", err
	}
	if len(extraDICOM) > 0 {
		sort.Strings(extraDICOM)
		return fmt.Sprintf("%d DICOM files are not in the DICOMDIR (first: %s)", len(extraDICOM), extraDICOM[0]), nil
	}
	return "", nil
}

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

// sampleSeries reads the header of one file per series (the first by
// path). DICOMDIR records carry few attributes (no series description, often
// no birth date); the sample fills the gaps for the whole series and checks
// that the DICOMDIR agrees with the file it names. A disagreement is
// returned as the reason not to trust the DICOMDIR.
func sampleSeries(fsys fs.FS, files []found) string {
	first := map[string]int{}
	for i, f := range files {
		j, ok := first[f.h.SeriesInstanceUID]
		if !ok || f.path < files[j].path {
			first[f.h.SeriesInstanceUID] = i
		}
	}
	samples := map[string]*Header{}
	buf := make([]byte, headerChunk)
	for uid, i := range first {
		f := files[i]
		r := examine(fsys, f.path, buf)
		if r.h == nil {
			reason := "not a DICOM file"
			if r.skipped != nil {
				reason = r.skipped.Reason
			}
			return fmt.Sprintf("%s, listed in the DICOMDIR, cannot be used (%s)", f.path, reason)
		}
		h := r.h
		if h.SOPInstanceUID != f.h.SOPInstanceUID || h.StudyInstanceUID != f.h.StudyInstanceUID || h.SeriesInstanceUID != f.h.SeriesInstanceUID {
			return fmt.Sprintf("the DICOMDIR disagrees with %s (its UIDs differ)", f.path)
		}
		samples[uid] = h
	}
	for _, f := range files {
		fillFromSample(f.h, samples[f.h.SeriesInstanceUID])
	}
	return ""
}

// fillFromSample copies the patient, study and series attributes the
// DICOMDIR left empty from a file of the same series.
func fillFromSample(h, s *Header) {
	if s == nil {
		return
	}
	for _, p := range [][2]*string{
		{&h.PatientName, &s.PatientName}, {&h.PatientID, &s.PatientID},
		{&h.PatientBirthDate, &s.PatientBirthDate}, {&h.PatientSex, &s.PatientSex},
		{&h.StudyDate, &s.StudyDate}, {&h.StudyTime, &s.StudyTime}, {&h.StudyID, &s.StudyID},
		{&h.StudyDescription, &s.StudyDescription}, {&h.AccessionNumber, &s.AccessionNumber},
		{&h.ReferringPhysician, &s.ReferringPhysician}, {&h.Modality, &s.Modality},
		{&h.SeriesDescription, &s.SeriesDescription}, {&h.BodyPart, &s.BodyPart},
		{&h.SOPClassUID, &s.SOPClassUID}, {&h.TransferSyntaxUID, &s.TransferSyntaxUID},
	} {
		setIfEmpty(p[0], *p[1])
	}
	if h.SeriesNumber == 0 {
		h.SeriesNumber = s.SeriesNumber
	}
	// The record's character set is the DICOMDIR's; the files' is what
	// Instance.CharacterSet promises.
	h.CharacterSet = s.CharacterSet
}
