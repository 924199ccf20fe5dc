package pdi

import (
	"strconv"

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

// leafKeys picks the leaf record type for the SOP class and its keys.
func (w *writer) leafKeys(pi *planInstance, ref *fileRef) (leafKeys, error) {
	return leafKeys{typ: "IMAGE", keys: []key{
		{tag: tagInstanceNumber, vr: "IS", text: strconv.Itoa(pi.inst.Number)},
	}}, nil
}
