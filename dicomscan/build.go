package dicomscan

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// buildIndex groups the found files into patients, studies, series and
// instances. The result does not depend on the order the workers finished
// in: files are taken in path order, the first file of a study or series
// supplies its attributes, and everything is sorted at the end.
func buildIndex(ix *Index, files []found) {
	slices.SortFunc(files, func(a, b found) int { return strings.Compare(a.path, b.path) })

	patients := map[string]*Patient{}
	studies := map[string]*Study{}
	series := map[string]*Series{}
	seen := make(map[string]string, len(files)) // SOP Instance UID → path
	// Files in path order mostly come series by series: the last study and
	// series found are tried before the maps.
	var lastStudy *Study
	var lastSeries *Series
	for _, f := range files {
		h := f.h
		if first, dup := seen[h.SOPInstanceUID]; dup {
			ix.Duplicates++
			ix.Skipped = append(ix.Skipped, Skipped{Path: f.path, Code: SkipDuplicate,
				Reason: "same SOP Instance UID as " + first})
			continue
		}
		seen[h.SOPInstanceUID] = f.path

		st := lastStudy
		if st == nil || st.InstanceUID != h.StudyInstanceUID {
			st = studies[h.StudyInstanceUID]
		}
		if st == nil {
			st = &Study{InstanceUID: h.StudyInstanceUID}
			studies[h.StudyInstanceUID] = st
			key := h.PatientID + "\x00" + h.PatientName
			p := patients[key]
			if p == nil {
				p = &Patient{Name: h.PatientName, ID: h.PatientID}
				patients[key] = p
			}
			p.Studies = append(p.Studies, st)
			fillPatient(p, h)
		}
		fillStudy(st, h)
		lastStudy = st

		se := lastSeries
		if se == nil || se.InstanceUID != h.SeriesInstanceUID {
			se = series[h.SeriesInstanceUID]
		}
		if se == nil {
			se = &Series{InstanceUID: h.SeriesInstanceUID, Number: h.SeriesNumber}
			series[h.SeriesInstanceUID] = se
			st.Series = append(st.Series, se)
		}
		fillSeries(se, h)
		lastSeries = se

		se.Instances = append(se.Instances, &Instance{
			SOPInstanceUID:    h.SOPInstanceUID,
			SOPClassUID:       h.SOPClassUID,
			TransferSyntaxUID: h.TransferSyntaxUID,
			Number:            h.InstanceNumber,
			Path:              f.path,
			Size:              f.size,
			CharacterSet:      h.CharacterSet,
		})
		se.Bytes += f.size
		st.Files++
		st.Bytes += f.size
		ix.Files++
		ix.Bytes += f.size
	}

	ix.Patients = ix.Patients[:0]
	for _, p := range patients {
		ix.Patients = append(ix.Patients, p)
	}
	sortIndex(ix)
	if len(ix.Patients) > 1 {
		ix.Warnings = append(ix.Warnings, Warning{Code: WarnSeveralPatients,
			Detail: fmt.Sprintf("%d patients on one medium", len(ix.Patients))})
	}
}

func fillPatient(p *Patient, h *Header) {
	setIfEmpty(&p.BirthDate, h.PatientBirthDate)
	setIfEmpty(&p.Sex, h.PatientSex)
}

func fillStudy(st *Study, h *Header) {
	setIfEmpty(&st.StudyID, h.StudyID)
	setIfEmpty(&st.Date, h.StudyDate)
	setIfEmpty(&st.Time, h.StudyTime)
	setIfEmpty(&st.Description, h.StudyDescription)
	setIfEmpty(&st.AccessionNumber, h.AccessionNumber)
	setIfEmpty(&st.ReferringPhysician, h.ReferringPhysician)
	if h.Modality != "" && !contains(st.Modalities, h.Modality) {
		st.Modalities = append(st.Modalities, h.Modality)
	}
}

func fillSeries(se *Series, h *Header) {
	if se.Number == 0 {
		se.Number = h.SeriesNumber
	}
	setIfEmpty(&se.Modality, h.Modality)
	setIfEmpty(&se.Description, h.SeriesDescription)
	setIfEmpty(&se.BodyPart, h.BodyPart)
}

func setIfEmpty(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// sortIndex puts everything in reading order: patients by name and ID,
// studies by date and time, series by number, instances by number, each
// with the UID or path as the tie-breaker; skipped files and documents by path.
func sortIndex(ix *Index) {
	sort.Slice(ix.Patients, func(i, j int) bool {
		a, b := ix.Patients[i], ix.Patients[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
	for _, p := range ix.Patients {
		sort.Slice(p.Studies, func(i, j int) bool {
			a, b := p.Studies[i], p.Studies[j]
			if a.Date != b.Date {
				return a.Date < b.Date
			}
			if a.Time != b.Time {
				return a.Time < b.Time
			}
			return a.InstanceUID < b.InstanceUID
		})
		for _, st := range p.Studies {
			sort.Strings(st.Modalities)
			sort.Slice(st.Series, func(i, j int) bool {
				a, b := st.Series[i], st.Series[j]
				if a.Number != b.Number {
					return a.Number < b.Number
				}
				return a.InstanceUID < b.InstanceUID
			})
			for _, se := range st.Series {
				slices.SortFunc(se.Instances, func(a, b *Instance) int {
					if a.Number != b.Number {
						return cmp.Compare(a.Number, b.Number)
					}
					return strings.Compare(a.Path, b.Path)
				})
			}
		}
	}
	sort.Slice(ix.Documents, func(i, j int) bool { return ix.Documents[i].Path < ix.Documents[j].Path })
	sortSkipped(ix.Skipped)
}
