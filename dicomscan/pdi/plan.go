package pdi

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
)

// plan is the file-set to write: the selected part of the index with a File
// ID for every instance and a name for every document.
type plan struct {
	patients  []*planPatient
	documents []planDocument
	skipped   []dicomscan.Skipped
	files     int
	bytes     int64
}

type planPatient struct {
	p       *dicomscan.Patient
	comp    string // File ID component, e.g. PAT00001
	studies []*planStudy
}

type planStudy struct {
	s      *dicomscan.Study
	comp   string
	number int // 1-based number on the medium, the fallback Study ID
	series []*planSeries
}

type planSeries struct {
	s         *dicomscan.Series
	comp      string
	instances []*planInstance
}

type planInstance struct {
	inst   *dicomscan.Instance
	fileID []string
	// set when written: what the file's meta information says
	written *fileRef
	keys    leafKeys
}

type planDocument struct {
	doc  dicomscan.Document
	name string // path inside the file-set, e.g. IHE_PDI/DOC00001.PDF
}

// maxPerLevel is how many patients, studies per patient, series per study
// and instances per series the 5-digit File ID components allow.
const maxPerLevel = 99999

// makePlan selects studies and assigns File IDs. Studies names Study
// Instance UIDs; empty means all. Instances whose path is not a valid
// fs.FS path, or whose SOP Instance UID was already planned, are skipped.
func makePlan(idx *dicomscan.Index, studies []string, withDocs bool) (*plan, error) {
	want := map[string]bool{}
	for _, uid := range studies {
		if uid = strings.TrimSpace(uid); uid != "" {
			want[uid] = false
		}
	}
	pl := &plan{}
	seen := map[string]bool{}
	studyNo := 0
	for _, p := range idx.Patients {
		pp := &planPatient{p: p}
		for _, s := range p.Studies {
			if len(want) > 0 {
				if _, ok := want[s.InstanceUID]; !ok {
					continue
				}
				want[s.InstanceUID] = true
			}
			studyNo++
			ps := &planStudy{s: s, number: studyNo}
			for _, se := range s.Series {
				pse := &planSeries{s: se}
				for _, in := range se.Instances {
					if code, reason := pl.reject(in, seen); reason != "" {
						pl.skipped = append(pl.skipped, dicomscan.Skipped{Path: in.Path, Code: code, Reason: reason})
						continue
					}
					seen[in.SOPInstanceUID] = true
					pse.instances = append(pse.instances, &planInstance{inst: in})
					pl.files++
					pl.bytes += in.Size
				}
				if len(pse.instances) > 0 {
					ps.series = append(ps.series, pse)
				}
			}
			if len(ps.series) > 0 {
				pp.studies = append(pp.studies, ps)
			}
		}
		if len(pp.studies) > 0 {
			pl.patients = append(pl.patients, pp)
		}
	}
	for uid, found := range want {
		if !found {
			return nil, i18n.NewError(i18n.KindInput, "pdi.err.unknown-study", uid).WithHint("pdi.hint.unknown-study")
		}
	}
	if pl.files == 0 {
		return nil, i18n.NewError(i18n.KindInput, "pdi.err.nothing-to-write").WithHint("pdi.hint.nothing-to-write")
	}
	if err := pl.assignFileIDs(); err != nil {
		return nil, err
	}
	if withDocs {
		pl.planDocuments(idx.Documents)
	}
	return pl, nil
}

// reject says why an instance cannot go into the file-set (a dicomscan
// Skip* code and English detail), or "", "".
func (pl *plan) reject(in *dicomscan.Instance, seen map[string]bool) (code, reason string) {
	switch {
	case !fs.ValidPath(in.Path) || in.Path == ".":
		return dicomscan.SkipUnreadable, "invalid path"
	case isExecutableName(in.Path):
		return dicomscan.SkipClutter, "executable file name"
	case in.SOPInstanceUID != "" && seen[in.SOPInstanceUID]:
		return dicomscan.SkipDuplicate, "duplicate SOP Instance UID"
	}
	return "", ""
}

func (pl *plan) assignFileIDs() error {
	if len(pl.patients) > maxPerLevel {
		return fmt.Errorf("pdi: %d patients, at most %d fit the File ID scheme", len(pl.patients), maxPerLevel)
	}
	for i, pp := range pl.patients {
		pp.comp = fmt.Sprintf("PAT%05d", i+1)
		if len(pp.studies) > maxPerLevel {
			return fmt.Errorf("pdi: %d studies of one patient, at most %d fit", len(pp.studies), maxPerLevel)
		}
		for j, ps := range pp.studies {
			ps.comp = fmt.Sprintf("STU%05d", j+1)
			if len(ps.series) > maxPerLevel {
				return fmt.Errorf("pdi: %d series in one study, at most %d fit", len(ps.series), maxPerLevel)
			}
			for k, pse := range ps.series {
				pse.comp = fmt.Sprintf("SER%05d", k+1)
				if len(pse.instances) > maxPerLevel {
					return fmt.Errorf("pdi: %d instances in one series, at most %d fit", len(pse.instances), maxPerLevel)
				}
				for l, pi := range pse.instances {
					pi.fileID = []string{"DICOM", pp.comp, ps.comp, pse.comp, fmt.Sprintf("IMG%05d", l+1)}
				}
			}
		}
	}
	return nil
}

// planDocuments names the documents IHE_PDI/DOC00001.PDF and so on: the
// extension comes from the MIME type or a safe original extension, the
// original name only ever appears (escaped) as text in INDEX.HTM.
func (pl *plan) planDocuments(docs []dicomscan.Document) {
	n := 0
	for _, d := range docs {
		if !fs.ValidPath(d.Path) || d.Path == "." {
			pl.skipped = append(pl.skipped, dicomscan.Skipped{Path: d.Path, Code: dicomscan.SkipUnreadable, Reason: "invalid path"})
			continue
		}
		if isExecutableName(d.Path) || isExecutableMIME(d.MIMEType) {
			pl.skipped = append(pl.skipped, dicomscan.Skipped{Path: d.Path, Code: dicomscan.SkipClutter, Reason: "executable"})
			continue
		}
		n++
		name := fmt.Sprintf("IHE_PDI/DOC%05d", n)
		if ext := documentExtension(d); ext != "" {
			name += "." + ext
		}
		pl.documents = append(pl.documents, planDocument{doc: d, name: name})
		pl.files++
		pl.bytes += d.Size
	}
}

// documentExtension picks an upper-case extension of at most 3 letters:
// from the MIME type when known, else from the original name when it is
// plain letters and digits.
func documentExtension(d dicomscan.Document) string {
	switch strings.ToLower(strings.TrimSpace(strings.SplitN(d.MIMEType, ";", 2)[0])) {
	case "application/pdf":
		return "PDF"
	case "image/jpeg":
		return "JPG"
	case "image/png":
		return "PNG"
	case "text/plain":
		return "TXT"
	}
	ext := strings.ToUpper(strings.TrimPrefix(path.Ext(d.Path), "."))
	if len(ext) == 0 || len(ext) > 3 {
		return ""
	}
	for _, r := range ext {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return ""
		}
	}
	if isExecutableName("x." + ext) {
		return ""
	}
	return ext
}

// executableExtensions are never copied onto a medium, whatever the index
// says: autorun and installer files are how patient CDs spread malware,
// and web pages run script.
var executableExtensions = map[string]bool{
	"EXE": true, "COM": true, "BAT": true, "CMD": true, "INF": true, "MSI": true,
	"MSP": true, "SCR": true, "PIF": true, "CPL": true, "DLL": true, "SYS": true,
	"VBS": true, "VBE": true, "JS": true, "JSE": true, "WSF": true, "WSH": true,
	"PS1": true, "HTA": true, "LNK": true, "REG": true, "JAR": true, "APP": true,
	"SH": true, "COMMAND": true, "APK": true, "DMG": true, "PKG": true, "DEB": true,
	"RPM": true, "APPIMAGE": true, "OCX": true, "MSC": true, "SCT": true, "ELF": true,
	"HTM": true, "HTML": true, "XHTML": true, "SVG": true, "MHT": true, "URL": true,
}

func isExecutableName(p string) bool {
	base := path.Base(p)
	if strings.EqualFold(base, "autorun.inf") {
		return true
	}
	return executableExtensions[strings.ToUpper(strings.TrimPrefix(path.Ext(base), "."))]
}

// isExecutableMIME also refuses active web content (HTML, SVG): opened
// from the medium in a browser it runs script. INDEX.HTM is the only page
// on a medium this package writes.
func isExecutableMIME(m string) bool {
	m = strings.ToLower(m)
	for _, bad := range []string{"executable", "x-msdownload", "x-msdos-program", "x-sh", "x-msi", "x-bat", "javascript", "x-elf", "x-mach-o", "html", "svg"} {
		if strings.Contains(m, bad) {
			return true
		}
	}
	return false
}

// isExecutableContent looks at a file's first bytes: PE/DOS "MZ", ELF,
// Mach-O, and "#!" scripts.
func isExecutableContent(head []byte) bool {
	if len(head) < 4 {
		return false
	}
	switch {
	case head[0] == 'M' && head[1] == 'Z',
		string(head[:4]) == "\x7fELF",
		head[0] == '#' && head[1] == '!':
		return true
	}
	switch string(head[:4]) {
	case "\xfe\xed\xfa\xce", "\xfe\xed\xfa\xcf", "\xce\xfa\xed\xfe", "\xcf\xfa\xed\xfe", "\xca\xfe\xba\xbe":
		return true
	}
	return false
}
