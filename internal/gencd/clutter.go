package gencd

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// writeClutter adds the non-DICOM files a real CD carries.
func writeClutter(dir string, res *Result, opt Options) error {
	files := []struct {
		path, mime string
		data       []byte
		document   bool
	}{
		{"AUTORUN.INF", "text/plain", []byte(autorun), false},
		{"README.TXT", "text/plain", latin1(strings.ReplaceAll(readme, "\n", "\r\n")), false},
		{"VIEWER/VIEWER.EXE", "application/x-msdownload", fakeExecutable(), false},
	}
	if opt.Documents {
		files = append(files, struct {
			path, mime string
			data       []byte
			document   bool
		}{"REPORT/BEFUND.PDF", "application/pdf", reportPDF(res), true})
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("gencd: %w", err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return fmt.Errorf("gencd: %w", err)
		}
		entry := File{Path: f.path, Size: int64(len(f.data)), MIMEType: f.mime}
		if f.document {
			res.Documents = append(res.Documents, entry)
		} else {
			res.Clutter = append(res.Clutter, entry)
		}
	}
	return nil
}

const autorun = "[autorun]\r\nopen=VIEWER\\VIEWER.EXE\r\nicon=VIEWER\\VIEWER.EXE,0\r\nlabel=PATIENTEN-CD\r\n"

const readme = `Patienten-CD
============

Diese CD enthält Bilddaten im DICOM-Format (Verzeichnis DICOM).
Zum Betrachten unter Windows startet der Viewer automatisch,
sonst bitte VIEWER\VIEWER.EXE aufrufen.

Die Daten sind vertraulich. Bitte bewahren Sie die CD sorgfältig auf.

Synthetische Testdaten (bildbote gencd) - keine echten Patientendaten.
`

// fakeExecutable is a small file that looks like a Windows program to a
// file sniffer (MZ header, e_lfanew pointing at a PE signature) but is not
// one: the PE header after the signature is empty.
func fakeExecutable() []byte {
	b := make([]byte, 4096)
	copy(b, "MZ")
	binary.LittleEndian.PutUint16(b[2:], 0x90)    // bytes on last page
	binary.LittleEndian.PutUint16(b[4:], 3)       // pages
	binary.LittleEndian.PutUint16(b[8:], 4)       // header paragraphs
	binary.LittleEndian.PutUint32(b[0x3C:], 0x80) // e_lfanew
	copy(b[0x4E:], "This program cannot be run in DOS mode.\r\r\n$")
	copy(b[0x80:], "PE\x00\x00")
	copy(b[0x200:], "bildbote gencd fake viewer - not a program")
	return b
}

// reportPDF is a minimal one-page PDF 1.4 report with a correct xref
// table (pdfinfo accepts it). Text is WinAnsi, which equals Latin-1 for
// the German letters used.
func reportPDF(res *Result) []byte {
	p := res.Patients[0]
	family, given, _ := strings.Cut(p.Name, "^")
	lines := []string{
		"Radiologischer Befund",
		"Patient: " + family + ", " + given + " (geb. " + p.BirthDate + ")",
		"Untersuchung: " + p.Studies[0].Description + " vom " + p.Studies[0].Date,
		"Beurteilung: Kein Nachweis pulmonaler Rundherde. Unauffälliger Befund.",
		"Synthetische Testdaten - keine echten Patientendaten.",
	}
	var content bytes.Buffer
	content.WriteString("BT /F1 12 Tf 72 770 Td 16 TL\n")
	for _, l := range lines {
		content.WriteString("(" + pdfEscape(l) + ") '\n")
	}
	content.WriteString("ET\n")

	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.Bytes()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

// pdfEscape escapes a PDF literal string and encodes it as Latin-1.
func pdfEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	return string(latin1(r.Replace(s)))
}

// makeDICOMDIR runs dcmmkdir over DICOM/ with the General Purpose CD-R
// profile (STD-GEN-CD). The files carry every Type 1 attribute the
// DICOMDIR records need, so no "invent" option is used: a missing one is
// a generator bug and must fail here.
func makeDICOMDIR(dir string) error {
	tool, err := exec.LookPath("dcmmkdir")
	if err != nil {
		return fmt.Errorf("gencd: DICOMDIR requested but dcmtk's dcmmkdir is not installed: %w", err)
	}
	cmd := exec.Command(tool, "-Pgp", "+r", "-nb", "+F", "BILDBOTE_GENCD", "DICOM")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("gencd: dcmmkdir in %s: %w\n%s", dir, err, out)
	}
	return nil
}
