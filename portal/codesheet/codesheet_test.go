package codesheet

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/portal/accesscode"
	"github.com/bildbote/bildbote/transfer/dlx"
)

// TestSheetRendersAndScans renders a sheet with poppler, reads its text
// and scans its QR code back with gozxing's reader.
func TestSheetRendersAndScans(t *testing.T) {
	pdftotext := corpus.Tool(t, "pdftotext")
	pdftoppm := corpus.Tool(t, "pdftoppm")
	dir := t.TempDir()
	code := accesscode.Generate()
	sheet := Sheet{
		Code: code, PublicURL: "https://bilder.praxis-saarbrücken.example", ExpiresAt: time.Date(2027, 2, 21, 12, 0, 0, 0, time.Local),
		Questions: []string{"PAT_BIRTH_DATE", "PASSWORD"}, Issuer: "Radiologie Klinikum Saarbrücken", Contents: "2 Studien, 1 Befund",
	}
	pdfPath := filepath.Join(dir, "sheet.pdf")
	f, err := os.Create(pdfPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(f, sheet); err != nil {
		t.Fatal(err)
	}
	f.Close()

	text, err := exec.Command(pdftotext, "-layout", pdfPath, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	for _, want := range []string{
		accesscode.Format(code), "21.02.2027", "Gültig bis", "Valid until", "Saarbrücken",
		"Ihr Geburtsdatum", "your date of birth", "das Ihnen genannte Kennwort", "So erhalten Sie Ihre Bilder", "How to get your images",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("sheet text lacks %q:\n%s", want, text)
		}
	}
	info, _ := exec.Command(corpus.Tool(t, "pdfinfo"), pdfPath).Output()
	if compact := strings.Join(strings.Fields(string(info)), " "); !strings.Contains(compact, "Pages: 1 ") || !strings.Contains(compact, "595.28 x 841.89 pts (A4)") {
		t.Errorf("not one A4 page:\n%s", info)
	}

	if out, err := exec.Command(pdftoppm, "-r", "100", "-png", "-singlefile", pdfPath, filepath.Join(dir, "sheet")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	if got := scanQR(t, filepath.Join(dir, "sheet.png")); got != CodeURL(sheet.PublicURL, code) {
		t.Fatalf("QR code says %q, want %q", got, CodeURL(sheet.PublicURL, code))
	}
	if keep := os.Getenv("CODESHEET_KEEP"); keep != "" {
		b, _ := os.ReadFile(filepath.Join(dir, "sheet.png"))
		if err := os.WriteFile(keep, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// scanQR reads the sheet's QR code with the decoder the desktop app uses
// for photos and scans of a code sheet, so the test proves that the
// portal's sheet and the client's reader agree.
func scanQR(t *testing.T, pngPath string) string {
	t.Helper()
	got, err := dlx.DecodeQRImage(pngPath)
	if err != nil {
		t.Fatalf("QR decode: %v", err)
	}
	return got
}

func TestCodeURL(t *testing.T) {
	if got := CodeURL("https://p.example/", "ABCDEFGHJKMN"); got != "https://p.example/c?token=ABCD-EFGH-JKMN" {
		t.Fatal(got)
	}
}

// The sheet tells patients which tab of the app to choose: it must be the
// app's real tab name, in both languages (issue 13: it said "Bilder
// empfangen", a name the app does not have).
func TestSheetNamesTheAppTab(t *testing.T) {
	for _, lang := range i18n.Langs {
		tab := i18n.T(lang, "ui.tab.redeem")
		for _, key := range []string{"portal.sheet.step2", "portal.page.step2"} {
			if s := i18n.T(lang, key); !strings.Contains(s, tab) {
				t.Errorf("%s %s = %q: does not name the app's tab %q", lang, key, s, tab)
			}
		}
	}
}
