package dicomscan

import (
	"io/fs"
	"time"
)

// Index is what a scan found on a medium: patient → study → series →
// instance, plus the documents and the files it skipped. It is the contract
// between the scanner, the file-set writer (package pdi), the app layer and
// the portal, and it serialises to JSON for `bildbote-cli scan --json`.
//
// Paths are slash-separated and relative to the medium's root (the fs.FS the
// scan ran on), never absolute host paths.
type Index struct {
	// Source is what the user gave (folder, ZIP, ISO, or "N items").
	Source string `json:"source"`
	// Method is "dicomdir" when the index was built from a DICOMDIR, "scan"
	// after a full scan.
	Method string `json:"method"`
	// FallbackReason says why a present DICOMDIR was not used (empty when
	// none was present or it was used). Translated text is the caller's job:
	// this is a stable English sentence for logs and JSON.
	FallbackReason string `json:"fallbackReason,omitempty"`

	Patients  []*Patient `json:"patients"`
	Documents []Document `json:"documents,omitempty"`
	Skipped   []Skipped  `json:"skipped,omitempty"`
	// Duplicates counts instances dropped because their SOP Instance UID
	// was already in the index.
	Duplicates int `json:"duplicates,omitempty"`
	// Warnings are things the user should see but that did not stop the
	// scan (several patients on one medium, a DICOMDIR that disagreed).
	Warnings []Warning `json:"warnings,omitempty"`

	Files int   `json:"files"` // instances in the index
	Bytes int64 `json:"bytes"` // their total size

	ScannedAt time.Time     `json:"scannedAt"`
	Took      time.Duration `json:"tookNs"`

	fsys fs.FS
}

// Warning is a machine-readable code plus English detail; the UI translates
// by Code.
type Warning struct {
	Code   string `json:"code"` // e.g. "several-patients", "dicomdir-mismatch"
	Detail string `json:"detail,omitempty"`
}

// Patient groups the studies of one patient (by ID and name).
type Patient struct {
	Name      string   `json:"name"` // UTF-8, DICOM PN with ^ separators
	ID        string   `json:"id"`
	BirthDate string   `json:"birthDate,omitempty"` // YYYYMMDD
	Sex       string   `json:"sex,omitempty"`
	Studies   []*Study `json:"studies"`
}

// Study is one DICOM study.
type Study struct {
	InstanceUID        string    `json:"studyInstanceUID"`
	StudyID            string    `json:"studyID,omitempty"`
	Date               string    `json:"date,omitempty"` // YYYYMMDD
	Time               string    `json:"time,omitempty"` // HHMMSS[.f]
	Description        string    `json:"description,omitempty"`
	AccessionNumber    string    `json:"accessionNumber,omitempty"`
	ReferringPhysician string    `json:"referringPhysician,omitempty"`
	Modalities         []string  `json:"modalities,omitempty"`
	Series             []*Series `json:"series"`
	Files              int       `json:"files"`
	Bytes              int64     `json:"bytes"`
}

// Series is one DICOM series.
type Series struct {
	InstanceUID string      `json:"seriesInstanceUID"`
	Number      int         `json:"number,omitempty"`
	Modality    string      `json:"modality,omitempty"`
	Description string      `json:"description,omitempty"`
	BodyPart    string      `json:"bodyPart,omitempty"`
	Instances   []*Instance `json:"instances"`
	Bytes       int64       `json:"bytes"`
}

// Instance is one DICOM file.
type Instance struct {
	SOPInstanceUID    string `json:"sopInstanceUID"`
	SOPClassUID       string `json:"sopClassUID"`
	TransferSyntaxUID string `json:"transferSyntaxUID"`
	Number            int    `json:"number,omitempty"`
	Path              string `json:"path"`
	Size              int64  `json:"size"`
	// CharacterSet is the file's Specific Character Set (0008,0005) as
	// written, e.g. "ISO_IR 100"; the names in the index are already UTF-8.
	CharacterSet string `json:"characterSet,omitempty"`
}

// Document is a non-DICOM file worth keeping with the studies (a PDF report,
// a picture): listed, not an error.
type Document struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	MIMEType string `json:"mimeType"`
}

// Skipped is a file the scan did not index, with the reason.
type Skipped struct {
	Path string `json:"path"`
	// Code sorts the reason for translation: one of the Skip* constants.
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason"` // English detail
}

// FS returns the medium the index was built from, so callers can open the
// instances' Paths; nil for an index decoded from JSON.
func (ix *Index) FS() fs.FS { return ix.fsys }

// SetFS attaches a medium to an index (for example one decoded from JSON
// whose files are known to be at the same paths).
func (ix *Index) SetFS(fsys fs.FS) { ix.fsys = fsys }
