package pdi

import (
	"bufio"
	"strconv"
	"strings"

	"github.com/bildbote/bildbote/dicomscan"
)

// leafKeys is a leaf record's type and keys.
type leafKeys struct {
	typ  string
	keys []key
}

// records builds the directory records of everything written.
func (w *writer) records(pl *plan) []*dirRecord {
	var patients []*dirRecord
	for _, pp := range pl.patients {
		pr := &dirRecord{typ: "PATIENT", keys: patientKeys(pp)}
		for _, ps := range pp.studies {
			sr := &dirRecord{typ: "STUDY", keys: w.studyKeys(ps)}
			for _, pse := range ps.series {
				ser := &dirRecord{typ: "SERIES", keys: seriesKeys(pse.s)}
				for _, pi := range pse.instances {
					if pi.written == nil {
						continue
					}
					ser.children = append(ser.children, &dirRecord{typ: pi.keys.typ, keys: pi.keys.keys, ref: pi.written})
				}
				if len(ser.children) > 0 {
					sr.children = append(sr.children, ser)
				}
			}
			if len(sr.children) > 0 {
				pr.children = append(pr.children, sr)
				w.res.Studies++
			}
		}
		if len(pr.children) > 0 {
			patients = append(patients, pr)
			w.res.Patients++
		}
	}
	return patients
}

// patientKeys: Patient's Name (2), Patient ID (1), and birth date and sex
// when known (additional keys viewers like to show).
func patientKeys(pp *planPatient) []key {
	p := pp.p
	id := cleanText("LO", p.ID)
	if id == "" {
		id = pp.comp
	}
	keys := []key{
		{tag: tagPatientName, vr: "PN", text: p.Name},
		{tag: tagPatientID, vr: "LO", text: id},
	}
	if d := cleanDate(p.BirthDate); d != "" {
		keys = append(keys, key{tag: tagPatientBirthDate, vr: "DA", text: d})
	}
	if s := cleanText("CS", p.Sex); s != "" {
		keys = append(keys, key{tag: tagPatientSex, vr: "CS", text: s})
	}
	return keys
}

// studyKeys: Study Date, Time, ID (1), Description, Accession Number (2),
// Study Instance UID (1C, always written).
func (w *writer) studyKeys(ps *planStudy) []key {
	s := ps.s
	date, tm := cleanDate(s.Date), cleanTime(s.Time)
	if date == "" {
		date = w.opts.Time.Format("20060102")
	}
	if tm == "" {
		tm = w.opts.Time.Format("150405")
	}
	id := cleanText("SH", s.StudyID)
	if id == "" {
		id = strconv.Itoa(ps.number)
	}
	keys := []key{
		{tag: tagStudyDate, vr: "DA", text: date},
		{tag: tagStudyTime, vr: "TM", text: tm},
		{tag: tagAccessionNumber, vr: "SH", text: s.AccessionNumber},
		{tag: tagStudyDescription, vr: "LO", text: s.Description},
		{tag: tagStudyInstanceUID, vr: "UI", text: s.InstanceUID},
		{tag: tagStudyID, vr: "SH", text: id},
	}
	if s.ReferringPhysician != "" {
		keys = append(keys, key{tag: tagReferringPhysician, vr: "PN", text: s.ReferringPhysician})
	}
	return keys
}

// seriesKeys: Modality, Series Instance UID, Series Number (1), and the
// description when known.
func seriesKeys(s *dicomscan.Series) []key {
	modality := cleanText("CS", s.Modality)
	if modality == "" {
		modality = "OT"
	}
	keys := []key{
		{tag: tagModality, vr: "CS", text: modality},
		{tag: tagSeriesInstanceUID, vr: "UI", text: s.InstanceUID},
		{tag: tagSeriesNumber, vr: "IS", text: strconv.Itoa(s.Number)},
	}
	if s.Description != "" {
		keys = append(keys, key{tag: tagSeriesDescription, vr: "LO", text: s.Description})
	}
	return keys
}

// cleanDate keeps a DA value only when it is YYYYMMDD.
func cleanDate(s string) string {
	s = cleanText("DA", s)
	if len(s) != 8 {
		return ""
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return s
}

// cleanTime keeps a TM value only when it is HH[MM[SS[.F{1,6}]]].
func cleanTime(s string) string {
	s = cleanText("TM", s)
	whole, frac, hasFrac := cut(s, '.')
	if len(whole) < 2 || len(whole) > 6 || len(whole)%2 != 0 || !digits(whole) {
		return ""
	}
	if hasFrac && (len(frac) == 0 || len(frac) > 6 || !digits(frac)) {
		return whole
	}
	return s
}

func cut(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// leafRecordType is the Directory Record Type for a SOP class (PS3.3
// F.4, following pydicom's FileSet): IMAGE unless the class is one of the
// non-image kinds below. Less common classes (spectroscopy, raw data,
// registration...) get IMAGE, as pydicom gives every unknown class.
func leafRecordType(sopClass string) string {
	const storage = "1.2.840.10008.5.1.4.1.1."
	c, ok := strings.CutPrefix(sopClass, storage)
	if !ok {
		return "IMAGE"
	}
	switch {
	case c == "481.2":
		return "RT DOSE"
	case c == "481.3":
		return "RT STRUCTURE SET"
	case c == "481.5" || c == "481.8":
		return "RT PLAN"
	case c == "481.4" || c == "481.6" || c == "481.7" || c == "481.9":
		return "RT TREAT RECORD"
	case strings.HasPrefix(c, "11.") || c == "131":
		return "PRESENTATION"
	case strings.HasPrefix(c, "9."):
		return "WAVEFORM"
	case c == "88.59":
		return "KEY OBJECT DOC"
	case strings.HasPrefix(c, "88."):
		return "SR DOCUMENT"
	case strings.HasPrefix(c, "104."):
		return "ENCAP DOC"
	}
	return "IMAGE"
}

// leafKeys picks the leaf record type for the SOP class and its keys. The
// keys of non-image records are read from the file; when a Type 1 key is
// missing there the record falls back to IMAGE (pydicom would refuse the
// file, dcmmkdir too), so the instance stays on the medium.
func (w *writer) leafKeys(pi *planInstance, ref *fileRef) (leafKeys, error) {
	number := key{tag: tagInstanceNumber, vr: "IS", text: strconv.Itoa(pi.inst.Number)}
	image := leafKeys{typ: "IMAGE", keys: []key{number}}
	typ := leafRecordType(ref.sopClass)
	if typ == "IMAGE" {
		return image, nil
	}
	dk, err := w.readKeys(pi.inst.Path, ref.ts)
	if err != nil {
		return image, nil // the copy will read the file again and report real trouble
	}
	if keys, ok := nonImageKeys(typ, dk, number); ok {
		return leafKeys{typ: typ, keys: keys}, nil
	}
	return image, nil
}

// readKeys opens a file a second time and reads the non-image keys.
func (w *writer) readKeys(p, ts string) (*datasetKeys, error) {
	f, err := w.fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := int64(1 << 40)
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	br := bufio.NewReaderSize(f, 64<<10)
	m, err := readSourceMeta(br)
	if err != nil {
		return nil, err
	}
	return readDatasetKeys(br, firstNonEmpty(m.ts, ts), size-m.dataStart)
}

// nonImageKeys builds the keys of a non-image record (PS3.3 F.5); ok is
// false when a Type 1 key is missing or empty.
func nonImageKeys(typ string, dk *datasetKeys, number key) ([]key, bool) {
	v := dk.values
	keys := []key{number}
	ok := true
	need := func(t tag, vr string) {
		s := v[t]
		if vr == "DA" {
			s = cleanDate(s)
		} else if vr == "TM" {
			s = cleanTime(s)
		} else {
			s = cleanText(vr, s)
		}
		if s == "" {
			ok = false
		}
		keys = append(keys, key{tag: t, vr: vr, text: s})
	}
	optional := func(t tag, vr string) {
		s := v[t]
		if vr == "DA" {
			s = cleanDate(s)
		} else if vr == "TM" {
			s = cleanTime(s)
		}
		keys = append(keys, key{tag: t, vr: vr, text: s})
	}
	concept := func(required bool) {
		cn := dk.conceptName
		if cn == nil || cn[tagCodeValue] == "" || cn[tagCodingSchemeDesig] == "" || cn[tagCodeMeaning] == "" {
			if required {
				ok = false
			} else {
				keys = append(keys, key{tag: tagConceptNameCodeSeq, vr: "SQ"})
			}
			return
		}
		item := []key{
			{tag: tagCodeValue, vr: "SH", text: cn[tagCodeValue]},
			{tag: tagCodingSchemeDesig, vr: "SH", text: cn[tagCodingSchemeDesig]},
			{tag: tagCodeMeaning, vr: "LO", text: cn[tagCodeMeaning]},
		}
		if ver := cn[tagCodingSchemeVersion]; ver != "" {
			item = append(item, key{tag: tagCodingSchemeVersion, vr: "SH", text: ver})
		}
		keys = append(keys, key{tag: tagConceptNameCodeSeq, vr: "SQ", items: [][]key{item}})
	}
	switch typ {
	case "RT DOSE":
		need(tagDoseSummationType, "CS")
	case "RT STRUCTURE SET":
		need(tagStructureSetLabel, "SH")
		optional(tagStructureSetDate, "DA")
		optional(tagStructureSetTime, "TM")
	case "RT PLAN":
		need(tagRTPlanLabel, "SH")
		optional(tagRTPlanDate, "DA")
		optional(tagRTPlanTime, "TM")
	case "RT TREAT RECORD":
		optional(tagTreatmentDate, "DA")
		optional(tagTreatmentTime, "TM")
	case "PRESENTATION":
		need(tagPresentationDate, "DA")
		need(tagPresentationTime, "TM")
		need(tagContentLabel, "CS")
		optional(tagContentDescription, "LO")
		optional(tagContentCreatorName, "PN")
	case "WAVEFORM":
		need(tagContentDate, "DA")
		need(tagContentTime, "TM")
	case "SR DOCUMENT":
		need(tagCompletionFlag, "CS")
		need(tagVerificationFlag, "CS")
		need(tagContentDate, "DA")
		need(tagContentTime, "TM")
		if cleanText("CS", v[tagVerificationFlag]) == "VERIFIED" {
			need(tagVerificationDateTime, "DT")
		}
		concept(true)
	case "KEY OBJECT DOC":
		need(tagContentDate, "DA")
		need(tagContentTime, "TM")
		concept(true)
	case "ENCAP DOC":
		optional(tagContentDate, "DA")
		optional(tagContentTime, "TM")
		optional(tagDocumentTitle, "ST")
		need(tagMIMETypeEncapsulated, "LO")
		concept(false)
	}
	return keys, ok
}
