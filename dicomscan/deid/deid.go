package deid

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// DateMode chooses what happens to dates and times.
type DateMode int

const (
	// DatesRemove is the basic profile: dates emptied or replaced per Table E.1-1.
	DatesRemove DateMode = iota
	// DatesKeep is the Retain Longitudinal Temporal Information, Full Dates Option.
	DatesKeep
	// DatesShift is the Retain Longitudinal Temporal Information, Modified
	// Dates Option: every date of a patient moves by one offset in days.
	DatesShift
)

func (m DateMode) String() string {
	switch m {
	case DatesKeep:
		return "keep"
	case DatesShift:
		return "shift"
	}
	return "remove"
}

// Options are the profile options of PS3.15 E.3 a user chooses.
type Options struct {
	Dates                      DateMode
	KeepPatientCharacteristics bool   // Retain Patient Characteristics Option (sex, age, size, weight ...)
	KeepDeviceIdentity         bool   // Retain Device Identity Option
	CleanDescriptors           bool   // Clean Descriptors Option
	KeepUIDs                   bool   // Retain UIDs Option (off by default)
	Pseudonym                  string // becomes Patient Name and Patient ID; "" = a generated one; a session's second, third ... patient gets it with -2, -3 ...

	// KeepInstitutionIdentity is the Retain Institution Identity Option.
	KeepInstitutionIdentity bool
	// KeepSafePrivate is the Retain Safe Private Option: the private
	// attributes in SafePrivate are kept, every other one is removed.
	KeepSafePrivate bool
	// DateShiftDays, when not zero, is the offset used for every patient
	// (tests, or a sender who wants a known offset); otherwise each patient
	// gets a random offset of 30 to 3650 days into the past.
	DateShiftDays int
}

// Warning is something the sender must look at before sending: the engine
// does not touch pixel data, so text burned into the image stays.
type Warning struct {
	Code   string // "burned-in-annotation", "burned-in-modality", "encapsulated-document", "recognizable-visual-features"
	Detail string
}

// Change is one attribute the engine changed.
type Change struct {
	Tag     uint32
	Keyword string // keyword, with the enclosing sequences' keywords before it: "ReferencedSeriesSequence>SeriesInstanceUID"
	Action  string // "X", "Z", "D", "U", "K", "C" (C: cleaned, or shifted)
	Old     string // shown only in a local preview, never logged
	New     string
}

// Result is what Rewrite did to one file.
type Result struct {
	StudyUID, SeriesUID, SOPInstanceUID, SOPClassUID string // the new values, as written
	PatientID, PatientName                           string // the new values
	TransferSyntax                                   string
	Warnings                                         []Warning
	Changes                                          []Change
}

// PatientMapping records who a pseudonym stands for.
type PatientMapping struct {
	OrigPatientName, OrigPatientID, OrigBirthDate, NewPatientName, NewPatientID string
	DateShiftDays                                                               int
}

// Mapping is the local, never uploaded record of who the pseudonym was and
// how UIDs were mapped.
type Mapping struct {
	Pseudonym string
	Patients  []PatientMapping
	UIDs      map[string]string
	Created   time.Time
	Options   Options
	Edition   string // of Table E.1-1 the engine applied
}

// Session de-identifies the files of one send consistently: one UID map,
// one date offset per patient. It is safe for concurrent use.
type Session struct {
	opts     Options
	cols     [numCols]bool
	salt     [32]byte
	created  time.Time
	mu       sync.Mutex
	uids     map[string]string
	patients map[string]*PatientMapping
	order    []string
	rng      *mrand.Rand
}

// ErrPseudonym is returned for a pseudonym that cannot be Patient Name and
// Patient ID.
var ErrPseudonym = errors.New("pseudonym not usable as Patient Name and Patient ID")

// NewSession starts a de-identification session.
func NewSession(opts Options) (*Session, error) {
	if err := checkPseudonym(opts.Pseudonym); err != nil {
		return nil, err
	}
	s := &Session{opts: opts, created: time.Now().UTC(), uids: map[string]string{}, patients: map[string]*PatientMapping{}}
	if _, err := rand.Read(s.salt[:]); err != nil {
		return nil, fmt.Errorf("random salt: %w", err)
	}
	s.rng = mrand.New(mrand.NewChaCha8(s.salt))
	if s.opts.Pseudonym == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("random pseudonym: %w", err)
		}
		s.opts.Pseudonym = "ANON-" + strings.ToUpper(hex.EncodeToString(b[:]))
	}
	s.cols[colSafePriv] = opts.KeepSafePrivate
	s.cols[colUIDs] = opts.KeepUIDs
	s.cols[colDevID] = opts.KeepDeviceIdentity
	s.cols[colInstID] = opts.KeepInstitutionIdentity
	s.cols[colPatChars] = opts.KeepPatientCharacteristics
	s.cols[colFullDates] = opts.Dates == DatesKeep
	s.cols[colModifDates] = opts.Dates == DatesShift
	s.cols[colCleanDesc] = opts.CleanDescriptors
	return s, nil
}

func checkPseudonym(p string) error {
	if len(p) > 64 {
		return fmt.Errorf("%w: longer than 64 characters", ErrPseudonym)
	}
	for _, r := range p {
		if r == '\\' || unicode.IsControl(r) || r == utf8Error {
			return fmt.Errorf("%w: contains %q", ErrPseudonym, r)
		}
	}
	return nil
}

// utf8Error is what ranging over invalid UTF-8 yields: such a pseudonym is
// refused rather than written as replacement characters.
const utf8Error = '\uFFFD'

// Options returns the session's options (with the generated pseudonym).
func (s *Session) Options() Options { return s.opts }

// Mapping returns the session's record of identities and UIDs.
func (s *Session) Mapping() Mapping {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := Mapping{Pseudonym: s.opts.Pseudonym, UIDs: make(map[string]string, len(s.uids)), Created: s.created, Options: s.opts, Edition: Edition}
	for k, v := range s.uids {
		m.UIDs[k] = v
	}
	for _, k := range s.order {
		m.Patients = append(m.Patients, *s.patients[k])
	}
	return m
}

// NewUID returns the replacement of a UID in this session: 2.25. and the
// decimal value of a UUID (version 8) made of HMAC-SHA256(salt, uid), so
// the same UID maps to the same new one across the files of a send and to
// an unrelated one in another send.
func (s *Session) NewUID(uid string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newUIDLocked(uid)
}

func (s *Session) newUIDLocked(uid string) string {
	if n, ok := s.uids[uid]; ok {
		return n
	}
	m := hmac.New(sha256.New, s.salt[:])
	m.Write([]byte(uid))
	h := m.Sum(nil)[:16]
	h[6] = h[6]&0x0F | 0x80
	h[8] = h[8]&0x3F | 0x80
	n := "2.25." + new(big.Int).SetBytes(h).String()
	s.uids[uid] = n
	return n
}

// patient returns the mapping of a patient, creating it on first sight.
func (s *Session) patient(name, id, birth string) *PatientMapping {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := id + "\x00" + name
	if p, ok := s.patients[key]; ok {
		if p.OrigBirthDate == "" {
			p.OrigBirthDate = birth
		}
		return p
	}
	pn := s.opts.Pseudonym
	if n := len(s.order); n > 0 {
		suffix := "-" + strconv.Itoa(n+1)
		if len(pn)+len(suffix) > 64 {
			pn = pn[:64-len(suffix)]
		}
		pn += suffix
	}
	shift := s.opts.DateShiftDays
	if shift == 0 {
		shift = -(30 + s.rng.IntN(3621))
	}
	if s.opts.Dates != DatesShift {
		shift = 0
	}
	p := &PatientMapping{OrigPatientName: name, OrigPatientID: id, OrigBirthDate: birth, NewPatientName: pn, NewPatientID: pn, DateShiftDays: shift}
	s.patients[key] = p
	s.order = append(s.order, key)
	return p
}

// maxFileSize bounds what Rewrite reads into memory.
const maxFileSize = 4 << 30

// Rewrite reads one DICOM file (any transfer syntax, deflated and big
// endian included) and writes the de-identified file to dst: same transfer
// syntax, pixel data byte for byte.
func (s *Session) Rewrite(srcPath string, dst io.Writer) (Result, error) {
	fi, err := os.Stat(srcPath)
	if err != nil {
		return Result{}, fmt.Errorf("de-identify: %w", err)
	}
	if fi.Size() > maxFileSize {
		return Result{}, fmt.Errorf("de-identify: %w: file larger than %d bytes", ErrMalformed, int64(maxFileSize))
	}
	bp := readPool.Get().(*[]byte)
	b, err := readInto(srcPath, (*bp)[:0], fi.Size())
	defer func() {
		if cap(b) <= maxPooledRead { // a rare huge file's buffer is not kept
			*bp = b[:0]
			readPool.Put(bp)
		}
	}()
	if err != nil {
		return Result{}, fmt.Errorf("de-identify: %w", err)
	}
	return s.RewriteBytes(b, dst)
}

// readPool holds file buffers: RewriteBytes keeps no reference to its
// input after it returns.
var readPool = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

const maxPooledRead = 64 << 20

func readInto(path string, buf []byte, size int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	if int64(cap(buf)) < size+1 {
		buf = make([]byte, 0, size+512)
	}
	for {
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			if int64(len(buf)) > maxFileSize {
				return buf, fmt.Errorf("%w: file larger than %d bytes", ErrMalformed, int64(maxFileSize))
			}
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// ErrDICOMDIR is returned for a DICOMDIR: its records point to byte
// offsets and to the files' old UIDs, so it is rebuilt for the
// de-identified files (with the Mapping's UIDs), not rewritten.
var ErrDICOMDIR = errors.New("a DICOMDIR is rebuilt, not de-identified")

// RewriteBytes is Rewrite for a file already in memory. b is not modified.
func (s *Session) RewriteBytes(b []byte, dst io.Writer) (Result, error) {
	f, err := parseFile(b)
	if err != nil {
		return Result{}, fmt.Errorf("de-identify: %w", err)
	}
	if f.isDICOMDIR() {
		return Result{}, fmt.Errorf("de-identify: %w", ErrDICOMDIR)
	}
	res, err := s.apply(f)
	if err != nil {
		return Result{}, fmt.Errorf("de-identify: %w", err)
	}
	if err := writeFile(dst, f); err != nil {
		return Result{}, fmt.Errorf("de-identify: writing: %w", err)
	}
	return res, nil
}

// Preview de-identifies one file in memory and returns what would change.
func Preview(srcPath string, opts Options) (Result, error) {
	s, err := NewSession(opts)
	if err != nil {
		return Result{}, err
	}
	return s.Rewrite(srcPath, io.Discard)
}

// run is the state of one file's rewrite.
type run struct {
	s            *Session
	res          *Result
	cs           string // Specific Character Set of the top level
	pat          *PatientMapping
	nameEnc      []byte // the pseudonym encoded for cs
	removeGroups map[uint16]bool
	patTokens    []string // parts of the patient's name and ID, for cleaning text
}

// Tags the engine reads or writes itself.
const (
	tSpecificCharacterSet   = 0x00080005
	tSOPClassUID            = 0x00080016
	tSOPInstanceUID         = 0x00080018
	tModality               = 0x00080060
	tPatientName            = 0x00100010
	tPatientID              = 0x00100020
	tPatientBirthDate       = 0x00100030
	tPatientIdentityRemoved = 0x00120062
	tDeidMethod             = 0x00120063
	tDeidMethodCodeSeq      = 0x00120064
	tStudyInstanceUID       = 0x0020000D
	tSeriesInstanceUID      = 0x0020000E
	tBurnedInAnnotation     = 0x00280301
	tRecognizableVisual     = 0x00280302
	tLongitudinalModified   = 0x00280303
	tCodeValue              = 0x00080100
	tCodingScheme           = 0x00080102
	tCodeMeaning            = 0x00080104
	tMediaSOPInstance       = 0x00020003
	tImplementationClass    = 0x00020012
	tImplementationVersion  = 0x00020013
)

func (s *Session) apply(f *file) (Result, error) {
	res := Result{TransferSyntax: f.ts}
	r := &run{s: s, res: &res}
	ds := f.ds
	r.cs = strings.TrimSpace(r.text(ds, tSpecificCharacterSet))
	name := r.text(ds, tPatientName)
	id := r.text(ds, tPatientID)
	birth := r.text(ds, tPatientBirthDate)
	r.pat = s.patient(name, id, birth)
	for _, p := range strings.FieldsFunc(name+" "+id, func(c rune) bool { return c == '^' || c == ' ' || c == '=' || c == ',' || c == '-' }) {
		if len([]rune(p)) >= 3 {
			r.patTokens = append(r.patTokens, strings.ToLower(p))
		}
	}
	enc, addCharset, err := encodePseudonym(r.pat.NewPatientName, r.cs)
	if err != nil {
		return res, err
	}
	r.nameEnc = enc
	if addCharset != "" {
		setElement(ds, &element{tag: tSpecificCharacterSet, vr: "CS", value: pad([]byte(addCharset), ' ')})
	}
	r.warnings(ds)
	// An overlay whose data is removed goes whole: keeping its rows,
	// columns and origin without the data would leave an invalid overlay.
	for _, el := range ds.elems {
		g := uint16(el.tag >> 16)
		if g >= 0x6000 && g <= 0x601E && g%2 == 0 && el.tag&0xFFFF == 0x3000 && r.effective(lookup(el.tag)) == "X" {
			if r.removeGroups == nil {
				r.removeGroups = map[uint16]bool{}
			}
			r.removeGroups[g] = true
		}
	}
	r.process(ds, "", 0, false)
	// Attributes the profile adds (PS3.15 E.1.1).
	setElement(ds, &element{tag: tPatientIdentityRemoved, vr: "CS", value: []byte("YES ")})
	setElement(ds, &element{tag: tDeidMethod, vr: "LO", value: pad([]byte(s.methodText()), ' ')})
	setElement(ds, &element{tag: tDeidMethodCodeSeq, vr: "SQ", isSQ: true, items: s.methodCodes()})
	switch s.opts.Dates {
	case DatesShift:
		setElement(ds, &element{tag: tLongitudinalModified, vr: "CS", value: []byte("MODIFIED")})
	case DatesKeep:
		setElement(ds, &element{tag: tLongitudinalModified, vr: "CS", value: []byte("UNMODIFIED")})
	default:
		setElement(ds, &element{tag: tLongitudinalModified, vr: "CS", value: []byte("REMOVED ")})
	}
	// The meta group follows the data set.
	var meta []*element
	for _, el := range f.meta {
		switch el.tag {
		case 0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102:
			// Source/Sending/Receiving AE titles and private information
			// identify the sender's systems: not carried.
			continue
		case tMediaSOPInstance:
			if !s.opts.KeepUIDs {
				old := trimUID(el.value)
				el = &element{tag: el.tag, vr: "UI", value: pad([]byte(s.NewUID(old)), 0)}
			}
		case tImplementationClass:
			el = &element{tag: el.tag, vr: "UI", value: pad([]byte(implementationClassUID), 0)}
		case tImplementationVersion:
			el = &element{tag: el.tag, vr: "SH", value: pad([]byte(implementationVersion), ' ')}
		}
		meta = append(meta, el)
	}
	if !f.hadMeta {
		meta = []*element{
			{tag: 0x00020001, vr: "OB", value: []byte{0, 1}},
			{tag: 0x00020002, vr: "UI", value: pad([]byte(r.text(ds, tSOPClassUID)), 0)},
			{tag: tMediaSOPInstance, vr: "UI", value: pad([]byte(r.text(ds, tSOPInstanceUID)), 0)},
			{tag: 0x00020010, vr: "UI", value: pad([]byte(f.ts), 0)},
			{tag: tImplementationClass, vr: "UI", value: pad([]byte(implementationClassUID), 0)},
			{tag: tImplementationVersion, vr: "SH", value: pad([]byte(implementationVersion), ' ')},
		}
	}
	f.meta = meta
	res.StudyUID = r.text(ds, tStudyInstanceUID)
	res.SeriesUID = r.text(ds, tSeriesInstanceUID)
	res.SOPInstanceUID = r.text(ds, tSOPInstanceUID)
	res.SOPClassUID = r.text(ds, tSOPClassUID)
	res.PatientName = r.pat.NewPatientName
	res.PatientID = r.pat.NewPatientID
	return res, nil
}

// effective returns the action for a row under the session's options:
// an enabled option's code replaces the basic profile's (when two enabled
// options give different codes, K wins over C), and combined codes are
// resolved by resolve.
func (r *run) effective(row *Row) string {
	if row == nil {
		return "K"
	}
	a := row.Basic
	best := ""
	for c := 0; c < numCols; c++ {
		if r.s.cols[c] && row.Options[c] != "" {
			o := row.Options[c]
			if best == "" || o == "K" || (o == "C" && best != "K") {
				best = o
			}
		}
	}
	if best != "" {
		a = best
	}
	return a
}

// resolve turns the combined codes of Table E.1-1 into one action. The
// choice between them depends on the attribute's Type in the file's IOD,
// which the engine does not look up; it takes the choice that keeps the
// file valid whatever the Type, and removes the information either way:
//
//	X/Z    -> Z  (an empty value is valid for Type 2 and Type 3)
//	X/D, Z/D, X/Z/D -> D (a dummy value is valid for Type 1, 2 and 3)
//	X/Z/U* -> U  (the sequence stays; the UIDs in it are replaced, so
//	              references stay resolvable within the send)
//
// A D for an attribute that is present with an empty value stays empty
// (Z): the file was valid with it empty.
func resolve(a string, el *element) string {
	switch a {
	case "X/Z":
		return "Z"
	case "X/D", "Z/D", "X/Z/D":
		if !el.isSQ && len(bytes.Trim(el.value, " \x00")) == 0 {
			return "Z"
		}
		return "D"
	case "X/Z/U*":
		return "U"
	}
	return a
}

// process applies the profile to a data set and, recursively, to the
// items of its sequences. dummy is set inside a sequence whose action is D.
func (r *run) process(ds *dataset, path string, depth int, dummy bool) {
	out := ds.elems[:0]
	var keptCreators map[uint32]bool
	var creators []*element
	for _, el := range ds.elems {
		t := el.tag
		g := uint16(t >> 16)
		if g == 0x0002 {
			out = append(out, el)
			continue
		}
		if t&0xFFFF == 0 {
			// Group lengths (retired outside group 0002) would be wrong
			// after the rewrite: PS3.5 7.2 lets them be dropped.
			continue
		}
		if r.removeGroups[g] && depth == 0 {
			r.change(el, path, "X", "")
			continue
		}
		if g%2 == 1 {
			if t&0xFF00 == 0 && t&0xFF >= 0x10 {
				creators = append(creators, el)
				out = append(out, el)
				continue
			}
			if r.s.opts.KeepSafePrivate && r.safePrivate(ds, t) {
				if keptCreators == nil {
					keptCreators = map[uint32]bool{}
				}
				keptCreators[t&0xFFFF0000|(t>>8)&0xFF] = true
				out = append(out, el)
				continue
			}
			r.change(el, path, "X", "")
			continue
		}
		if t == tPatientName || t == tPatientID {
			r.replace(el, path, "D", r.nameEnc)
			out = append(out, el)
			continue
		}
		row := lookup(t)
		if row == nil {
			switch {
			case el.isSQ:
				for _, it := range el.items {
					r.process(it, join(path, keyword(t, row)), depth+1, dummy)
				}
			case r.s.opts.Dates == DatesShift && (vrOfEl(el) == "DA" || vrOfEl(el) == "DT"):
				r.shift(el, path)
			case dummy && dummyText[vrOfEl(el)] && !codeAttribute[t]:
				r.dummy(el, path)
			}
			out = append(out, el)
			continue
		}
		a := resolve(r.effective(row), el)
		if a == "X" && keepPresent[t] {
			a = "Z"
		}
		switch a {
		case "X":
			r.change(el, path, "X", "")
			continue
		case "Z":
			if el.isSQ {
				if len(el.items) > 0 {
					r.change(el, path, "Z", "")
				}
				el.items = nil
			} else if len(el.value) > 0 {
				r.replace(el, path, "Z", nil)
			}
		case "D":
			if el.isSQ {
				for _, it := range el.items {
					r.process(it, join(path, keyword(t, row)), depth+1, true)
				}
			} else {
				r.dummy(el, path)
			}
		case "U":
			if el.isSQ {
				for _, it := range el.items {
					r.process(it, join(path, keyword(t, row)), depth+1, dummy)
				}
			} else {
				r.uid(el, path)
			}
		case "C":
			switch {
			case el.isSQ:
				for _, it := range el.items {
					r.process(it, join(path, keyword(t, row)), depth+1, dummy)
				}
			case vrOfEl(el) == "DA" || vrOfEl(el) == "DT" || row.VR == "DA" || row.VR == "DT":
				if r.s.opts.Dates == DatesShift {
					r.shift(el, path)
				} else {
					r.replace(el, path, "Z", nil)
				}
			case row.VR == "TM" || row.VR == "SH" && t == 0x00080201:
				// Times and the time zone stay with shifted dates.
			default:
				r.clean(el, path, resolve(row.Basic, el) == "D")
			}
		default: // K
			if el.isSQ {
				for _, it := range el.items {
					r.process(it, join(path, keyword(t, row)), depth+1, dummy)
				}
			}
		}
		out = append(out, el)
	}
	// Private creators stay only for the private attributes kept.
	if len(creators) > 0 {
		kept := out[:0]
		for _, el := range out {
			if g := el.tag >> 16; g%2 == 1 && el.tag&0xFF00 == 0 && el.tag&0xFF >= 0x10 {
				if !keptCreators[el.tag] {
					r.change(el, path, "X", "")
					continue
				}
			}
			kept = append(kept, el)
		}
		out = kept
	}
	ds.elems = out
}

// vrOfEl is the VR an element's value has: its own, or for UN (a
// converter's, or an implicit VR file's unknown element) the dictionary's.
func vrOfEl(el *element) string {
	if el.vr == "UN" {
		if v := vrOf(el.tag); v != "" {
			return v
		}
	}
	return el.vr
}

func join(path, kw string) string {
	if path == "" {
		return kw
	}
	return path + ">" + kw
}

func keyword(t uint32, row *Row) string {
	if row != nil && row.Keyword != "" {
		return row.Keyword
	}
	if kw, ok := dictKeyword[t]; ok && kw != "" {
		return kw
	}
	return fmt.Sprintf("(%04X,%04X)", t>>16, t&0xFFFF)
}

// change records a change; el.value is still the old value.
func (r *run) change(el *element, path, action, newText string) {
	r.res.Changes = append(r.res.Changes, Change{Tag: el.tag, Keyword: join(path, keyword(el.tag, lookup(el.tag))), Action: action, Old: r.show(el), New: newText})
}

// replace sets a new value (already encoded for the character set).
func (r *run) replace(el *element, path, action string, v []byte) {
	if el.isSQ {
		return
	}
	padByte := byte(' ')
	if vr := vrOfEl(el); vr == "UI" || !isText(vr) {
		padByte = 0
	}
	v = pad(v, padByte)
	if bytes.Equal(v, el.value) {
		return
	}
	nw := &element{tag: el.tag, vr: el.vr, value: v}
	r.res.Changes = append(r.res.Changes, Change{Tag: el.tag, Keyword: join(path, keyword(el.tag, lookup(el.tag))), Action: action, Old: r.show(el), New: r.show(nw)})
	el.value = v
	el.encapsulated = false
}

// Dummy values consistent with each VR (D).
func dummyFor(vr string, old []byte) []byte {
	switch vr {
	case "PN":
		return []byte("ANONYMIZED")
	case "LO", "SH", "ST", "LT", "UT", "UC", "CS", "AE":
		return []byte("ANONYMIZED")
	case "DA":
		return []byte("20000101")
	case "TM":
		return []byte("000000")
	case "DT":
		return []byte("20000101000000")
	case "AS":
		return []byte("000Y")
	case "DS", "IS":
		return []byte("0")
	case "UR":
		return nil
	case "US", "SS", "UL", "SL", "FL", "FD", "OB", "OW", "OF", "OD", "OL", "OV", "SV", "UV", "AT":
		return make([]byte, len(old))
	}
	return nil
}

func (r *run) dummy(el *element, path string) {
	if el.isSQ || el.encapsulated {
		return
	}
	vr := vrOfEl(el)
	switch vr {
	case "UI":
		// A UID the table does not list stays (SOP Class UIDs, coding
		// scheme UIDs...); one it lists was handled as U.
		return
	case "CS":
		if lookup(el.tag) == nil {
			return // enumerated values (Value Type, Relationship Type ...) carry structure, not identity
		}
	case "SQ", "":
		return
	}
	if len(el.value) == 0 {
		return
	}
	r.replace(el, path, "D", dummyFor(vr, el.value))
}

func (r *run) uid(el *element, path string) {
	old := trimUID(el.value)
	if old == "" {
		return
	}
	parts := strings.Split(old, "\\")
	r.s.mu.Lock()
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p != "" {
			parts[i] = r.s.newUIDLocked(p)
		}
	}
	r.s.mu.Unlock()
	r.replace(el, path, "U", []byte(strings.Join(parts, "\\")))
}

// shift moves the date part of a DA or DT value (every value of it, and
// both ends of a range) by the patient's offset. Values that are not a
// full date (YYYYMMDD) are removed: they cannot be shifted consistently.
func (r *run) shift(el *element, path string) {
	if len(el.value) == 0 || el.isSQ {
		return
	}
	days := r.pat.DateShiftDays
	dt := vrOfEl(el) == "DT"
	vals := strings.Split(strings.TrimRight(string(el.value), " \x00"), "\\")
	for i, v := range vals {
		v = strings.TrimSpace(v)
		var ends []string
		switch {
		case dt && dtValue.MatchString(v):
			ends = []string{v} // one DT, perhaps with a UTC offset like -0500
		case dt:
			ends = splitDTRange(v)
		default:
			ends = strings.Split(v, "-")
		}
		for j, e := range ends {
			if e == "" {
				continue
			}
			d, err := time.Parse("20060102", e[:min(8, len(e))])
			if err != nil || len(e) < 8 {
				ends[j] = ""
				continue
			}
			ends[j] = d.AddDate(0, 0, days).Format("20060102") + e[8:]
		}
		vals[i] = strings.Join(ends, "-")
	}
	nv := strings.Join(vals, "\\")
	if strings.Trim(nv, "\\-") == "" {
		nv = ""
	}
	r.replace(el, path, "C", []byte(nv))
}

// dtValue is one DT value: YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX].
var dtValue = regexp.MustCompile(`^[0-9]{4,14}(\.[0-9]{1,6})?([+-][0-9]{4})?$`)

// splitDTRange splits a DT range "A-B" (either end may be empty) at the
// hyphen that leaves a DT on both sides.
func splitDTRange(v string) []string {
	for i := 0; i < len(v); i++ {
		if v[i] != '-' {
			continue
		}
		a, b := v[:i], v[i+1:]
		if (a == "" || dtValue.MatchString(a)) && (b == "" || dtValue.MatchString(b)) {
			return []string{a, b}
		}
	}
	return []string{""} // not a DT: removed
}

// clean is C for descriptions and comments (Clean Descriptors, Retain
// Patient Characteristics): the words stay, every token that carries a
// digit (dates, IDs, phone numbers), an @ (addresses) or a part of the
// patient's own name or ID is removed. What is left of only spaces becomes
// empty.
func (r *run) clean(el *element, path string, needValue bool) {
	if vr := vrOfEl(el); !isText(vr) || vr == "PN" {
		r.dummy(el, path)
		return
	}
	txt := string(el.value)
	if !isASCII(el.value) {
		// Text in another character set: its words cannot be checked
		// byte-wise for the patient's name; remove it.
		r.replace(el, path, "C", nil)
		return
	}
	fields := strings.Fields(strings.TrimRight(txt, " \x00"))
	kept := fields[:0]
	for _, w := range fields {
		lw := strings.ToLower(w)
		if strings.ContainsAny(w, "0123456789@") {
			continue
		}
		bad := false
		for _, p := range r.patTokens {
			if strings.Contains(lw, p) {
				bad = true
				break
			}
		}
		if !bad {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 && needValue {
		// The basic profile would have put a dummy here (the attribute is
		// Type 1 where it appears): keep the file valid.
		r.replace(el, path, "C", dummyFor(vrOfEl(el), el.value))
		return
	}
	r.replace(el, path, "C", []byte(strings.Join(kept, " ")))
}

// dummyText are the VRs whose values D on a sequence replaces in the
// sequence's items (when the table does not name the attribute): text that
// may identify. Numbers, codes, UIDs and binary values carry structure
// (content item identifiers, numeric measurements) and stay.
var dummyText = map[string]bool{
	"PN": true, "LO": true, "SH": true, "ST": true, "LT": true, "UT": true, "UC": true,
	"DA": true, "DT": true, "TM": true, "AS": true, "AE": true,
}

// codeAttribute are the attributes of a code (PS3.3 Table 8.8-1): a coded
// concept names a finding or a unit, not a person, and stays in a dummied
// sequence so that structured content keeps its meaning.
var codeAttribute = map[uint32]bool{
	0x00080100: true, 0x00080102: true, 0x00080103: true, 0x00080104: true, // Code Value, Coding Scheme Designator and Version, Code Meaning
	0x00080105: true, 0x00080106: true, 0x00080107: true, 0x0008010B: true, // Mapping Resource, Context Group Version, Local Version, Extension Flag
	0x0008010F: true, 0x00080117: true, 0x00080118: true, 0x00080119: true, 0x00080120: true, // Context Identifier, Context UID, Mapping Resource UID, Long Code Value, URN Code Value
	0x00080121: true, 0x00080122: true, 0x00080123: true, 0x00080124: true, // Equivalent Code Sequence, Mapping Resource Name, Context Group Identification Sequence, Mapping Resource Identification Sequence
}

// keepPresent are attributes whose X in Table E.1-1 would leave a file
// invalid because the attribute is Type 2 where it appears; they are
// emptied (Z) instead, which removes the value all the same.
var keepPresent = map[uint32]bool{
	0x300A00B2: true, // Treatment Machine Name: Type 2 in the RT Beams module
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || c == 0x1B {
			return false
		}
	}
	return true
}

func isText(vr string) bool {
	switch vr {
	case "AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT":
		return true
	}
	return false
}

func pad(v []byte, b byte) []byte {
	if len(v)%2 == 1 {
		v = append(v[:len(v):len(v)], b)
	}
	return v
}

// text returns a top-level string value, trimmed, decoded as far as the
// character set allows.
func (r *run) text(ds *dataset, t uint32) string {
	for _, el := range ds.elems {
		if el.tag == t && !el.isSQ {
			return decodeText(el.value, r.cs)
		}
	}
	return ""
}

func (r *run) show(el *element) string {
	switch {
	case el.isSQ:
		return fmt.Sprintf("(sequence of %d items)", len(el.items))
	case el.encapsulated || !isText(vrOfEl(el)):
		return fmt.Sprintf("(%d bytes)", len(el.value))
	}
	return decodeText(el.value, r.cs)
}

// setElement inserts or replaces a top-level element, keeping tag order.
func setElement(ds *dataset, el *element) {
	i := sort.Search(len(ds.elems), func(i int) bool { return ds.elems[i].tag >= el.tag })
	if i < len(ds.elems) && ds.elems[i].tag == el.tag {
		ds.elems[i] = el
		return
	}
	ds.elems = append(ds.elems, nil)
	copy(ds.elems[i+1:], ds.elems[i:])
	ds.elems[i] = el
}

// Codes of CID 7050 (De-identification Method) for the options applied.
func (s *Session) methodCodes() []*dataset {
	type code struct{ value, meaning string }
	codes := []code{{"113100", "Basic Application Confidentiality Profile"}}
	if s.opts.CleanDescriptors {
		codes = append(codes, code{"113105", "Clean Descriptors Option"})
	}
	switch s.opts.Dates {
	case DatesKeep:
		codes = append(codes, code{"113106", "Retain Longitudinal Temporal Information Full Dates Option"})
	case DatesShift:
		codes = append(codes, code{"113107", "Retain Longitudinal Temporal Information Modified Dates Option"})
	}
	if s.opts.KeepPatientCharacteristics {
		codes = append(codes, code{"113108", "Retain Patient Characteristics Option"})
	}
	if s.opts.KeepDeviceIdentity {
		codes = append(codes, code{"113109", "Retain Device Identity Option"})
	}
	if s.opts.KeepUIDs {
		codes = append(codes, code{"113110", "Retain UIDs Option"})
	}
	if s.opts.KeepSafePrivate {
		codes = append(codes, code{"113111", "Retain Safe Private Option"})
	}
	if s.opts.KeepInstitutionIdentity {
		codes = append(codes, code{"113112", "Retain Institution Identity Option"})
	}
	var items []*dataset
	for _, c := range codes {
		items = append(items, &dataset{elems: []*element{
			{tag: tCodeValue, vr: "SH", value: pad([]byte(c.value), ' ')},
			{tag: tCodingScheme, vr: "SH", value: pad([]byte("DCM"), ' ')},
			{tag: tCodeMeaning, vr: "LO", value: pad([]byte(c.meaning), ' ')},
		}})
	}
	return items
}

// methodText is De-identification Method (0012,0063), one LO value (at
// most 64 characters) per part.
func (s *Session) methodText() string {
	parts := []string{"PS3.15 E.1 Basic Profile (Bildbote)"}
	if s.opts.CleanDescriptors {
		parts = append(parts, "Clean Descriptors")
	}
	switch s.opts.Dates {
	case DatesKeep:
		parts = append(parts, "Retain Full Dates")
	case DatesShift:
		parts = append(parts, "Retain Modified Dates")
	}
	if s.opts.KeepPatientCharacteristics {
		parts = append(parts, "Retain Patient Characteristics")
	}
	if s.opts.KeepDeviceIdentity {
		parts = append(parts, "Retain Device Identity")
	}
	if s.opts.KeepUIDs {
		parts = append(parts, "Retain UIDs")
	}
	if s.opts.KeepSafePrivate {
		parts = append(parts, "Retain Safe Private")
	}
	if s.opts.KeepInstitutionIdentity {
		parts = append(parts, "Retain Institution Identity")
	}
	return strings.Join(parts, "\\")
}

// warnings flags files whose pixels may show identifying text.
func (r *run) warnings(ds *dataset) {
	if strings.EqualFold(strings.TrimSpace(r.text(ds, tBurnedInAnnotation)), "YES") {
		r.res.Warnings = append(r.res.Warnings, Warning{Code: "burned-in-annotation", Detail: "Burned In Annotation (0028,0301) is YES"})
	}
	if strings.EqualFold(strings.TrimSpace(r.text(ds, tRecognizableVisual)), "YES") {
		r.res.Warnings = append(r.res.Warnings, Warning{Code: "recognizable-visual-features", Detail: "Recognizable Visual Features (0028,0302) is YES"})
	}
	mod := strings.ToUpper(strings.TrimSpace(r.text(ds, tModality)))
	cls := r.text(ds, tSOPClassUID)
	if burnedInModalities[mod] {
		r.res.Warnings = append(r.res.Warnings, Warning{Code: "burned-in-modality", Detail: "modality " + mod + " often has text burned into the image"})
	} else if cls == "1.2.840.10008.5.1.4.1.1.7" || strings.HasPrefix(cls, "1.2.840.10008.5.1.4.1.1.7.") {
		r.res.Warnings = append(r.res.Warnings, Warning{Code: "burned-in-modality", Detail: "Secondary Capture images are often screenshots with text"})
	} else if strings.HasPrefix(cls, "1.2.840.10008.5.1.4.1.1.77.") || strings.HasPrefix(cls, "1.2.840.10008.5.1.4.1.1.78.") {
		r.res.Warnings = append(r.res.Warnings, Warning{Code: "burned-in-modality", Detail: "visible light and ophthalmic photographs may show labels, faces or text"})
	}
	if strings.HasPrefix(cls, "1.2.840.10008.5.1.4.1.1.104.") {
		r.res.Warnings = append(r.res.Warnings, Warning{Code: "encapsulated-document", Detail: "an encapsulated document (PDF, CDA, STL ...) is not de-identified inside"})
	}
}

// burnedInModalities are modalities whose images commonly carry burned-in
// patient text: ultrasound (US, IVUS), secondary capture and other (SC,
// OT), angiography and fluoroscopy (XA, RF), endoscopy, external camera
// and microscopy photographs (ES, XC, GM, SM), ophthalmic photography (OP)
// and scanned documents (DOC). Besides these modalities, the Secondary
// Capture SOP classes (1.2.840.10008.5.1.4.1.1.7 and .7.x) and the visible
// light and ophthalmic photography classes (.77.x, .78.x) are flagged
// "burned-in-modality", the encapsulated document classes (.104.x)
// "encapsulated-document", and Burned In Annotation (0028,0301) YES and
// Recognizable Visual Features (0028,0302) YES by their own codes.
var burnedInModalities = map[string]bool{
	"US": true, "IVUS": true, "SC": true, "OT": true, "XA": true, "RF": true,
	"ES": true, "XC": true, "GM": true, "SM": true, "OP": true, "DOC": true,
}

// PrivateElement names a private attribute by its group and the low byte
// of its element (the block byte depends on where the creator sits).
type PrivateElement struct {
	Group   uint16
	Element byte
}

// SafePrivate is the Retain Safe Private Option's list (PS3.15 E.3.10):
// private attributes known to hold acquisition physics, not identity, by
// private creator. Everything private that is not listed is removed, with
// the option too; without it every private attribute is removed.
var SafePrivate = map[string][]PrivateElement{
	// B_value, DiffusionDirectionality, DiffusionGradientDirection, B_matrix
	"SIEMENS MR HEADER": {{0x0019, 0x0C}, {0x0019, 0x0D}, {0x0019, 0x0E}, {0x0019, 0x27}},
	// Diffusion B-Factor
	"Philips MR Imaging DD 001": {{0x2001, 0x03}},
	// slop_int_6..9 (diffusion b-value)
	"GEMS_PARM_01": {{0x0043, 0x39}},
}

// safePrivate reports whether private attribute t is on the safe list,
// looking up its creator in ds.
func (r *run) safePrivate(ds *dataset, t uint32) bool {
	g := uint16(t >> 16)
	creatorTag := t&0xFFFF0000 | (t>>8)&0xFF
	for _, el := range ds.elems {
		if el.tag == creatorTag {
			name := strings.TrimRight(string(el.value), " \x00")
			for _, e := range SafePrivate[name] {
				if e.Group == g && e.Element == byte(t) {
					return true
				}
			}
			return false
		}
	}
	return false
}
