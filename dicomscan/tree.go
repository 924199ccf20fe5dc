package dicomscan

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// maxSkippedPaths is how many paths WriteTree lists per skip reason.
const maxSkippedPaths = 5

// WriteTree prints the index as a readable tree in lang: the source and how
// it was read, the totals, each patient with studies and series, then the
// documents, the warnings (with the fallback reason) and a summary of the
// skipped files, grouped by reason. Instances are counted, not listed.
//
// Warning and skip codes translate through the catalog keys
// "scan.warning.<code>" and "scan.skip.<code>", which the UI may use too.
func (ix *Index) WriteTree(w io.Writer, lang i18n.Lang) error {
	bw := bufio.NewWriter(w)
	p := func(indent int, s string) { fmt.Fprintf(bw, "%s%s\n", strings.Repeat("  ", indent), s) }

	method := i18n.T(lang, "scan.tree.method."+ix.Method)
	p(0, i18n.T(lang, "scan.tree.source", ix.Source, method))
	var studies, series int
	for _, pa := range ix.Patients {
		studies += len(pa.Studies)
		for _, st := range pa.Studies {
			series += len(st.Series)
		}
	}
	p(0, i18n.T(lang, "scan.tree.totals", len(ix.Patients), studies, series, ix.Files, i18n.Bytes(ix.Bytes).Localize(lang)))
	if len(ix.Patients) == 0 {
		p(0, i18n.T(lang, "scan.tree.empty"))
	}
	for _, pa := range ix.Patients {
		p(0, "")
		p(0, patientLine(lang, pa))
		for _, st := range pa.Studies {
			p(1, studyLine(lang, st))
			for _, se := range st.Series {
				p(2, seriesLine(lang, se))
			}
		}
	}
	if len(ix.Documents) > 0 {
		p(0, "")
		p(0, i18n.T(lang, "scan.tree.documents", len(ix.Documents)))
		for _, d := range ix.Documents {
			p(1, fmt.Sprintf("%s (%s, %s)", d.Path, d.MIMEType, i18n.Bytes(d.Size).Localize(lang)))
		}
	}
	if len(ix.Warnings) > 0 {
		p(0, "")
		p(0, i18n.T(lang, "scan.tree.warnings"))
		for _, wn := range ix.Warnings {
			p(1, "! "+ix.WarningText(lang, wn))
		}
	}
	if len(ix.Skipped) > 0 {
		p(0, "")
		p(0, i18n.T(lang, "scan.tree.skipped", len(ix.Skipped)))
		writeSkipped(p, lang, ix.Skipped)
	}
	return bw.Flush()
}

// WarningText translates a warning of this index for a person.
func (ix *Index) WarningText(lang i18n.Lang, wn Warning) string {
	switch wn.Code {
	case WarnSeveralPatients:
		return i18n.T(lang, "scan.warning.several-patients", len(ix.Patients))
	case WarnDICOMDIRFallback:
		return i18n.T(lang, "scan.warning.dicomdir-fallback", wn.Detail)
	}
	return i18n.T(lang, "scan.warning.other", wn.Code, wn.Detail)
}

// SkipText translates a skip reason code ("" or unknown codes give the
// generic text).
func SkipText(lang i18n.Lang, code string) string {
	key := "scan.skip." + code
	if code == "" || !i18n.Has(lang, key) {
		return i18n.T(lang, "scan.skip.other")
	}
	return i18n.T(lang, key)
}

func writeSkipped(p func(int, string), lang i18n.Lang, skipped []Skipped) {
	var order []string
	byCode := map[string][]Skipped{}
	for _, s := range skipped {
		if _, ok := byCode[s.Code]; !ok {
			order = append(order, s.Code)
		}
		byCode[s.Code] = append(byCode[s.Code], s)
	}
	for _, code := range order {
		list := byCode[code]
		p(1, fmt.Sprintf("%d × %s", len(list), SkipText(lang, code)))
		for i, s := range list {
			if i == maxSkippedPaths {
				p(2, i18n.T(lang, "scan.tree.more", len(list)-maxSkippedPaths))
				break
			}
			line := s.Path
			if code == SkipDamaged || code == SkipUnreadable || code == SkipIncomplete || code == "" {
				line += ": " + s.Reason
			}
			p(2, line)
		}
	}
}

func patientLine(lang i18n.Lang, pa *Patient) string {
	name := FormatName(pa.Name)
	if name == "" {
		name = i18n.T(lang, "scan.tree.no-name")
	}
	var details []string
	if pa.ID != "" {
		details = append(details, i18n.T(lang, "scan.tree.id", pa.ID))
	}
	if pa.BirthDate != "" {
		details = append(details, i18n.T(lang, "scan.tree.born", FormatDate(lang, pa.BirthDate)))
	}
	if pa.Sex != "" {
		details = append(details, i18n.T(lang, "scan.tree.sex", pa.Sex))
	}
	line := i18n.T(lang, "scan.tree.patient", name)
	if len(details) > 0 {
		line += " (" + strings.Join(details, ", ") + ")"
	}
	return line
}

func studyLine(lang i18n.Lang, st *Study) string {
	parts := []string{i18n.T(lang, "scan.tree.study")}
	if st.Date != "" {
		parts = append(parts, FormatDate(lang, st.Date))
	}
	if t := formatTime(st.Time); t != "" {
		parts = append(parts, t)
	}
	if st.Description != "" {
		parts = append(parts, st.Description)
	}
	if len(st.Modalities) > 0 {
		parts = append(parts, "["+strings.Join(st.Modalities, ", ")+"]")
	}
	if st.AccessionNumber != "" {
		parts = append(parts, i18n.T(lang, "scan.tree.accession", st.AccessionNumber))
	}
	return strings.Join(parts, " ") + " — " + filesText(lang, st.Files, st.Bytes)
}

func seriesLine(lang i18n.Lang, se *Series) string {
	parts := []string{i18n.T(lang, "scan.tree.series", se.Number)}
	if se.Modality != "" {
		parts = append(parts, se.Modality)
	}
	if se.Description != "" {
		parts = append(parts, se.Description)
	}
	return strings.Join(parts, " ") + " — " + filesText(lang, len(se.Instances), se.Bytes)
}

func filesText(lang i18n.Lang, n int, size int64) string {
	if n == 1 {
		return i18n.T(lang, "scan.tree.file", n, i18n.Bytes(size).Localize(lang))
	}
	return i18n.T(lang, "scan.tree.files", n, i18n.Bytes(size).Localize(lang))
}

// FormatName shows a DICOM person name (family^given^middle^prefix^suffix,
// alphabetic group only) as "Family, Given Middle".
func FormatName(pn string) string {
	alpha, _, _ := strings.Cut(pn, "=")
	comps := strings.Split(alpha, "^")
	for i := range comps {
		comps[i] = strings.TrimSpace(comps[i])
	}
	family := comps[0]
	var rest []string
	for _, c := range comps[1:] {
		if c != "" {
			rest = append(rest, c)
		}
	}
	switch {
	case len(rest) == 0:
		return family
	case family == "":
		return strings.Join(rest, " ")
	}
	return family + ", " + strings.Join(rest, " ")
}

// FormatDate shows a DICOM date (DA, YYYYMMDD) the way lang writes dates
// (i18n.DateLayout); anything that is not a valid date is returned as it
// is.
func FormatDate(lang i18n.Lang, da string) string {
	t, err := time.Parse("20060102", da)
	if err != nil || len(da) != 8 {
		return da
	}
	return t.Format(i18n.DateLayout(lang))
}

func formatTime(tm string) string {
	if len(tm) < 4 || strings.Trim(tm[:4], "0123456789") != "" {
		return ""
	}
	return tm[:2] + ":" + tm[2:4]
}
