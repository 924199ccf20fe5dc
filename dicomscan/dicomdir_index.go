package dicomscan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

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
	// The medium is listed and its files stat'ed while the DICOMDIRs are
	// read: both take about as long, and neither needs the other.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	listing := newDirCache(fsys)
	listed := make(chan struct{})
	go func() { listing.listAll(lctx, opts.workers()); close(listed) }()
	records := make([][]recordFile, len(dicomdirs))
	errs := make([]error, len(dicomdirs))
	for i, p := range dicomdirs {
		if records[i], errs[i] = readDICOMDIRFiles(fsys, p); errs[i] != nil {
			break
		}
	}
	for i, err := range errs {
		if err != nil {
			cancel()
			<-listed
			if err := ctx.Err(); err != nil {
				return false, "", err
			}
			return false, unusableReason(dicomdirs[i], err), nil
		}
	}
	<-listed
	if err := ctx.Err(); err != nil {
		return false, "", err
	}
	dirs = listing
	var files []found
	referenced := 0 // files the DICOMDIRs reference, and the DICOMDIRs
	for i, p := range dicomdirs {
		f, n, err := resolveRecords(dirs, records[i])
		if err != nil {
			return false, unusableReason(p, err), nil
		}
		referenced += n
		if r, ok := dirs.resolve(p, true); ok && r.l.use(r.i) {
			referenced++
		}
		files = append(files, f...)
	}
	extra, err := checkUnreferenced(ctx, dirs, ix)
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
		opts.Progress.Update(Counts{Files: referenced + len(ix.Documents) + len(ix.Skipped), Bytes: ix.Bytes, Folder: "."})
	}
	return true, "", nil
}

// unusableReason is the fallback reason for the DICOMDIR at p.
func unusableReason(p string, err error) string {
	var u errDICOMDIRUnusable
	if errors.As(err, &u) {
		return fmt.Sprintf("%s: %s", p, u.reason)
	}
	return fmt.Sprintf("%s cannot be read: %s", p, errText(err))
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

// recordFile is one instance record of a DICOMDIR: the file it names (as
// written, relative to the medium, not yet matched against the folders)
// and its attributes.
type recordFile struct {
	path string
	h    *Header
}

// readDICOMDIRFiles reads the DICOMDIR at p and returns its instance
// records in file order.
func readDICOMDIRFiles(fsys fs.FS, p string) ([]recordFile, error) {
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
	out := make([]recordFile, 0, len(dd.Records))
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
					out = append(out, recordFile{path: joinPath(base, rel), h: h})
				}
			}
		}
	}
	return out, nil
}

// resolveRecords finds the file of every record in the listing of the
// medium, loosely as CDs need (case, version suffixes), with the size the
// listing stat'ed, and marks it referenced in the listing; n counts the
// files not marked before. A missing or unreadable file makes the DICOMDIR
// unusable.
func resolveRecords(dirs *dirCache, recs []recordFile) (out []found, n int, err error) {
	out = make([]found, 0, len(recs))
	var missing []string
	for _, r := range recs {
		f, ok := dirs.resolve(r.path, false)
		var st *fileStat
		if ok {
			st = f.stat()
		}
		if st == nil {
			missing = append(missing, r.path)
			continue
		}
		if st.err != nil {
			return nil, 0, unusable("%s, listed in the DICOMDIR, cannot be read (%s)", f.path, errText(st.err))
		}
		if f.l.use(f.i) {
			n++
		}
		out = append(out, found{path: f.path, size: st.size, h: r.h})
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, 0, unusable("%d referenced files are missing (first: %s)", len(missing), missing[0])
	}
	return out, n, nil
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
func checkUnreferenced(ctx context.Context, dirs *dirCache, ix *Index) (string, error) {
	var extraDICOM []string
	buf := make([]byte, headerChunk)
	var walk func(dir string) error
	walk = func(dir string) error {
		l, err := dirs.list(dir)
		if err != nil {
			ix.Skipped = append(ix.Skipped, Skipped{Path: dir, Code: SkipUnreadable, Reason: errText(err)})
			return nil
		}
		for i, e := range l.entries {
			if l.isUsed(i) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			p := joinPath(dir, e.Name())
			switch {
			case e.IsDir():
				if err := walk(p); err != nil {
					return err
				}
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
