package pdi

import (
	"bytes"
	"html/template"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/version"
)

// summary is what README.TXT and INDEX.HTM tell: only what was written.
type summary struct {
	Patients  []sumPatient
	Documents []sumDocument
	Studies   int
	Images    int
}

type sumPatient struct {
	Name, ID, BirthDate string
	Studies             []sumStudy
}

type sumStudy struct {
	Date, Description, Modalities string
	Series, Images                int
}

type sumDocument struct {
	Title, Href string
}

func summarize(pl *plan, docs []planDocument) summary {
	var sum summary
	for _, pp := range pl.patients {
		sp := sumPatient{Name: pp.p.Name, ID: pp.p.ID, BirthDate: pp.p.BirthDate}
		for _, ps := range pp.studies {
			st := sumStudy{Date: ps.s.Date, Description: ps.s.Description}
			modalities := map[string]bool{}
			for _, pse := range ps.series {
				n := 0
				for _, pi := range pse.instances {
					if pi.written != nil {
						n++
					}
				}
				if n == 0 {
					continue
				}
				st.Series++
				st.Images += n
				if m := cleanText("CS", pse.s.Modality); m != "" {
					modalities[m] = true
				}
			}
			if st.Images == 0 {
				continue
			}
			st.Modalities = joinSorted(modalities)
			sp.Studies = append(sp.Studies, st)
			sum.Studies++
			sum.Images += st.Images
		}
		if len(sp.Studies) > 0 {
			sum.Patients = append(sum.Patients, sp)
		}
	}
	for _, d := range docs {
		sum.Documents = append(sum.Documents, sumDocument{Title: path.Base(d.doc.Path), Href: d.name})
	}
	return sum
}

func joinSorted(set map[string]bool) string {
	var s []string
	for k := range set {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// readme is README.TXT: what the medium holds, in the chosen language
// first and then the other one. UTF-8 with CRLF line ends, for Windows
// editors.
func readme(sum summary, opts Options) []byte {
	langs := []i18n.Lang{opts.Lang}
	for _, l := range i18n.Langs {
		if l != opts.Lang {
			langs = append(langs, l)
		}
	}
	var b strings.Builder
	for i, l := range langs {
		if i > 0 {
			b.WriteString("\n\n----------------------------------------------------------------\n\n")
		}
		body := i18n.T(l, "pdi.readme.body", formatDate(l, opts.Time.Format("20060102")), version.Version,
			len(sum.Patients), sum.Studies, sum.Images, len(sum.Documents))
		if len(sum.Documents) == 0 {
			body = withoutLine(body, "  "+documentsDir+`\`) // no such folder: do not point to it
		}
		b.WriteString(body)
	}
	b.WriteString("\n")
	return []byte(strings.ReplaceAll(b.String(), "\n", "\r\n"))
}

// documentsDir is the folder documents go to (see planDocuments).
const documentsDir = "IHE_PDI"

// withoutLine drops the lines of s that start with prefix.
func withoutLine(s, prefix string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// indexTemplate is INDEX.HTM; html/template escapes every value.
var indexTemplate = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8"/>
<title>{{.T.Title}}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}th,td{border:1px solid #999;padding:.3em .6em;text-align:left}</style>
</head>
<body>
<h1>{{.T.Title}}</h1>
<p>{{.T.Intro}}</p>
{{range .Patients}}<h2>{{.Name}}</h2>
{{if .Details}}<p>{{.Details}}</p>
{{end}}
<table>
<thead><tr><th>{{$.T.Date}}</th><th>{{$.T.Description}}</th><th>{{$.T.Modalities}}</th><th>{{$.T.Series}}</th><th>{{$.T.Images}}</th></tr></thead>
<tbody>
{{range .Studies}}<tr><td>{{.Date}}</td><td>{{.Description}}</td><td>{{.Modalities}}</td><td>{{.Series}}</td><td>{{.Images}}</td></tr>
{{end}}</tbody>
</table>
{{end}}{{if .Documents}}<h2>{{.T.Documents}}</h2>
<ul>
{{range .Documents}}<li><a href="{{.Href}}">{{.Title}}</a></li>
{{end}}</ul>
{{end}}<p><a href="README.TXT">{{.T.Readme}}</a></p>
<p>{{.T.Made}}</p>
</body>
</html>
`))

type indexLabels struct {
	Title, Intro, Date, Description, Modalities, Series, Images, Documents, Readme, Made string
}

type indexPatient struct {
	Name, Details string
	Studies       []sumStudy
}

func indexHTML(sum summary, lang i18n.Lang, made time.Time) ([]byte, error) {
	unknown := i18n.T(lang, "pdi.index.unknown")
	data := struct {
		Lang      string
		T         indexLabels
		Patients  []indexPatient
		Documents []sumDocument
	}{
		Lang: string(lang),
		T: indexLabels{
			Title:       i18n.T(lang, "pdi.index.title"),
			Intro:       i18n.T(lang, "pdi.index.intro"),
			Date:        i18n.T(lang, "pdi.index.date"),
			Description: i18n.T(lang, "pdi.index.description"),
			Modalities:  i18n.T(lang, "pdi.index.modalities"),
			Series:      i18n.T(lang, "pdi.index.series"),
			Images:      i18n.T(lang, "pdi.index.images"),
			Documents:   i18n.T(lang, "pdi.index.documents"),
			Readme:      i18n.T(lang, "pdi.index.readme"),
			Made:        i18n.T(lang, "pdi.index.made", formatDate(lang, made.Format("20060102"))),
		},
		Documents: sum.Documents,
	}
	for _, p := range sum.Patients {
		ip := indexPatient{Name: displayName(p.Name)}
		if ip.Name == "" {
			ip.Name = unknown
		}
		var details []string
		if d := formatDate(lang, p.BirthDate); d != "" {
			details = append(details, i18n.T(lang, "pdi.index.born", d))
		}
		if id := strings.TrimSpace(p.ID); id != "" {
			details = append(details, i18n.T(lang, "pdi.index.patient-id", id))
		}
		ip.Details = strings.Join(details, " · ")
		for _, s := range p.Studies {
			s.Date = formatDate(lang, s.Date)
			if s.Date == "" {
				s.Date = unknown
			}
			if s.Description == "" {
				s.Description = "—"
			}
			ip.Studies = append(ip.Studies, s)
		}
		data.Patients = append(data.Patients, ip)
	}
	var b bytes.Buffer
	if err := indexTemplate.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// displayName turns a DICOM PN ("Family^Given^Middle^Prefix^Suffix",
// component groups separated by "=") into "Family, Given Middle".
func displayName(pn string) string {
	var groups []string
	for _, g := range strings.Split(pn, "=") {
		parts := strings.Split(g, "^")
		for len(parts) < 5 {
			parts = append(parts, "")
		}
		given := strings.TrimSpace(strings.Join([]string{parts[3], parts[1], parts[2]}, " "))
		given = strings.Join(strings.Fields(given), " ")
		family := strings.TrimSpace(parts[0])
		name := family
		if given != "" {
			if name != "" {
				name += ", "
			}
			name += given
		}
		if suffix := strings.TrimSpace(parts[4]); suffix != "" {
			name += " " + suffix
		}
		if name != "" {
			groups = append(groups, name)
		}
	}
	if len(groups) == 0 {
		return ""
	}
	if len(groups) == 1 {
		return groups[0]
	}
	return groups[0] + " (" + strings.Join(groups[1:], "; ") + ")"
}

// formatDate shows a DICOM date (YYYYMMDD) the way lang's readers expect,
// "" when it is not a date.
func formatDate(lang i18n.Lang, da string) string {
	t, err := time.Parse("20060102", cleanDate(da))
	if err != nil {
		return ""
	}
	return t.Format(i18n.DateLayout(lang))
}
