package envelope

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/bildbote/bildbote/transfer"
)

// FormatName and FormatVersion identify the container format.
const (
	FormatName    = "bildbote-envelope"
	FormatVersion = 1
)

// Names inside the tar stream.
const (
	ManifestName = "manifest.json"
	FilesPrefix  = "files/"
)

// Manifest describes an envelope's contents.
type Manifest struct {
	Format   string    `json:"format"`
	Version  int       `json:"version"`
	Created  time.Time `json:"created"`
	Sender   Sender    `json:"sender"`
	Patient  Patient   `json:"patient"`
	Referrer Referrer  `json:"referrer"`
	Message  string    `json:"message,omitempty"`
	Studies  []Study   `json:"studies"`
	Files    []File    `json:"files"`
}

// Sender is the sending practice, as typed by its staff (not authenticated).
type Sender struct {
	Name     string `json:"name"`
	Practice string `json:"practice"`
	Phone    string `json:"phone,omitempty"`
	Email    string `json:"email,omitempty"`
}

// Patient is the patient as shown to the sender when sealing.
type Patient struct {
	Name      string `json:"name"` // DICOM PN, UTF-8
	ID        string `json:"id,omitempty"`
	BirthDate string `json:"birthDate,omitempty"` // YYYYMMDD
	Sex       string `json:"sex,omitempty"`
}

// Referrer is who asked for the images to be sent.
type Referrer struct {
	Name     string `json:"name,omitempty"`
	Practice string `json:"practice,omitempty"`
	Phone    string `json:"phone,omitempty"`
}

// Study summarises one study in the envelope.
type Study struct {
	StudyInstanceUID string   `json:"studyInstanceUID"`
	PatientName      string   `json:"patientName,omitempty"`
	PatientID        string   `json:"patientID,omitempty"`
	Date             string   `json:"date,omitempty"`
	Time             string   `json:"time,omitempty"`
	Description      string   `json:"description,omitempty"`
	AccessionNumber  string   `json:"accessionNumber,omitempty"`
	Modalities       []string `json:"modalities,omitempty"`
	Series           int      `json:"series"`
	Instances        int      `json:"instances"`
	Bytes            int64    `json:"bytes"`
}

// File is one file in the envelope.
type File struct {
	Path   string `json:"path"` // relative, slash separated; stored as files/<Path>
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lower-case hex
	// SOPInstanceUID is set for DICOM instances, empty for documents.
	SOPInstanceUID string `json:"sopInstanceUID,omitempty"`
	StudyUID       string `json:"studyInstanceUID,omitempty"`
}

// TotalBytes is the sum of the files' sizes.
func (m *Manifest) TotalBytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Caps of the manifest's texts (bytes): they are typed by a sender nobody
// authenticated and shown to the clinic.
const (
	maxFieldLen   = 1 << 10
	maxMessageLen = 8 << 10
)

// clean makes the manifest's texts safe to show (transfer.CleanText: no
// control characters, terminal escapes or bidi overrides; the message
// keeps its line breaks) and cuts them. Paths and checksums are checked
// by validate, not changed.
func (m *Manifest) clean() {
	for _, p := range []*string{&m.Sender.Name, &m.Sender.Practice, &m.Sender.Phone, &m.Sender.Email,
		&m.Patient.Name, &m.Patient.ID, &m.Patient.BirthDate, &m.Patient.Sex,
		&m.Referrer.Name, &m.Referrer.Practice, &m.Referrer.Phone} {
		*p = transfer.CleanText(*p, maxFieldLen)
	}
	lines := strings.Split(strings.ReplaceAll(m.Message, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = transfer.CleanText(l, maxMessageLen)
	}
	m.Message = strings.TrimSpace(strings.Join(lines, "\n"))
	if len(m.Message) > maxMessageLen {
		m.Message = strings.ToValidUTF8(m.Message[:maxMessageLen], "")
	}
	for i := range m.Studies {
		st := &m.Studies[i]
		for _, p := range []*string{&st.StudyInstanceUID, &st.PatientName, &st.PatientID, &st.Date, &st.Time, &st.Description, &st.AccessionNumber} {
			*p = transfer.CleanText(*p, maxFieldLen)
		}
		if len(st.Modalities) > 64 {
			st.Modalities = st.Modalities[:64]
		}
		for j := range st.Modalities {
			st.Modalities[j] = transfer.CleanText(st.Modalities[j], 16)
		}
	}
}

// validate checks what Open relies on before extracting anything.
func (m *Manifest) validate(lim Limits) error {
	if m.Format != FormatName {
		return corrupt("manifest format %q", m.Format)
	}
	if m.Version != FormatVersion {
		return &VersionError{Version: m.Version}
	}
	if len(m.Files) > lim.MaxFiles {
		return &LimitError{What: "files", Limit: int64(lim.MaxFiles), Got: int64(len(m.Files))}
	}
	seen := make(map[string]bool, len(m.Files))
	var total int64
	for _, f := range m.Files {
		if err := checkPath(f.Path); err != nil {
			return err
		}
		key := strings.ToLower(f.Path) // case-insensitive file systems
		if seen[key] {
			return corrupt("manifest lists %q twice", f.Path)
		}
		seen[key] = true
		if f.Size < 0 || f.Size > lim.MaxFileBytes {
			return &LimitError{What: "file size", Limit: lim.MaxFileBytes, Got: f.Size}
		}
		if len(f.SHA256) != 64 {
			return corrupt("manifest: bad sha256 for %q", f.Path)
		}
		total += f.Size
		if total > lim.MaxTotalBytes {
			return &LimitError{What: "total size", Limit: lim.MaxTotalBytes, Got: total}
		}
	}
	return nil
}

// checkPath accepts only clean relative slash paths without "..", empty or
// dot components, backslashes, colons or control characters: what a CD or
// a folder can hold and every OS can write.
func checkPath(p string) error {
	if !fs.ValidPath(p) || p == "." || strings.ContainsAny(p, "\\:") {
		return corrupt("unsafe path %q", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return corrupt("unsafe path %q", p)
		}
	}
	return nil
}

func decodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, corrupt("manifest: %v", err)
	}
	return &m, nil
}

func corrupt(format string, args ...any) error {
	return &CorruptError{Reason: fmt.Sprintf(format, args...)}
}
