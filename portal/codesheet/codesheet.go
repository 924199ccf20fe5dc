// Package codesheet prints the sheet a patient takes home: an A4 PDF, in
// German and English, with the access code, a QR code of the code's URL,
// the portal's address, the expiry date and short instructions.
//
// The QR code is drawn as vector squares (gozxing's encoder, error
// correction level M, 4-module quiet zone), so it stays sharp at any
// printer resolution.
package codesheet

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/portal/accesscode"
)

// Sheet is what goes on a code sheet. It holds the code in clear: write
// it and forget it.
type Sheet struct {
	Code      string    // normalised access code
	PublicURL string    // the portal, e.g. https://portal.example
	ExpiresAt time.Time // shown as a date in the local time zone
	// Questions are the DLX question types the patient must answer
	// (PAT_BIRTH_DATE, STUDY_DATE, PASSWORD, CUSTOM).
	Questions []string
	// Issuer is the practice or clinic that issued the code (optional).
	Issuer string
	// Contents summarises what the code opens, e.g. "2 studies, 1 report"
	// (optional, already in the reader's words).
	Contents string
}

// CodeURL is the address the QR code encodes: {portal}/c?token=CODE.
func CodeURL(publicURL, code string) string {
	return strings.TrimSuffix(publicURL, "/") + "/c?token=" + url.QueryEscape(accesscode.Format(code))
}

// Write renders the sheet as a one-page A4 PDF.
func Write(w io.Writer, s Sheet) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle("Bildbote", true)
	pdf.SetCreator("bildbote-portal", true)
	pdf.SetMargins(20, 18, 20)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddPage()
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252: umlauts, „quotes“
	t := func(lang i18n.Lang, key string, args ...any) string { return tr(i18n.T(lang, key, args...)) }
	both := func(key string) string { // "Gültig bis / Valid until", once when the same
		de, en := t(i18n.DE, key), t(i18n.EN, key)
		if de == en {
			return de
		}
		return de + " / " + en
	}
	const width = 170.0

	// Header band.
	pdf.SetFillColor(0x1f, 0x4e, 0x79)
	pdf.Rect(0, 0, 210, 12, "F")
	pdf.SetY(20)
	pdf.SetFont("Helvetica", "B", 20)
	pdf.SetTextColor(0x1f, 0x4e, 0x79)
	pdf.CellFormat(width, 9, t(i18n.DE, "portal.sheet.title"), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 13)
	pdf.SetTextColor(0x55, 0x55, 0x55)
	pdf.CellFormat(width, 7, t(i18n.EN, "portal.sheet.title"), "", 1, "L", false, 0, "")
	if s.Issuer != "" {
		pdf.SetFont("Helvetica", "", 11)
		pdf.SetTextColor(0, 0, 0)
		pdf.CellFormat(width, 7, tr(s.Issuer), "", 1, "L", false, 0, "")
	}

	// Code box with the QR code on the right.
	top := 50.0
	pdf.SetDrawColor(0x1f, 0x4e, 0x79)
	pdf.SetLineWidth(0.6)
	pdf.RoundedRect(20, top, width, 62, 3, "1234", "D")
	if err := drawQR(pdf, CodeURL(s.PublicURL, s.Code), 20+width-56, top+4, 54); err != nil {
		return err
	}
	pdf.SetTextColor(0, 0, 0)
	pdf.SetXY(26, top+7)
	pdf.SetFont("Helvetica", "", 10)
	pdf.CellFormat(100, 5, both("portal.sheet.code_label"), "", 2, "L", false, 0, "")
	pdf.SetFont("Courier", "B", 26)
	pdf.SetX(26)
	pdf.CellFormat(100, 14, accesscode.Format(s.Code), "", 2, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	pdf.SetX(26)
	pdf.CellFormat(100, 5, both("portal.sheet.portal_label"), "", 2, "L", false, 0, "")
	pdf.SetFont("Helvetica", "B", 11)
	pdf.SetX(26)
	pdf.CellFormat(100, 6, tr(s.PublicURL), "", 2, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	pdf.SetX(26)
	pdf.CellFormat(100, 5, both("portal.sheet.valid_label"), "", 2, "L", false, 0, "")
	pdf.SetFont("Helvetica", "B", 11)
	pdf.SetX(26)
	pdf.CellFormat(100, 6, s.ExpiresAt.Local().Format("02.01.2006")+"  ("+s.ExpiresAt.Local().Format("2006-01-02")+")", "", 2, "L", false, 0, "")
	if s.Contents != "" {
		pdf.SetFont("Helvetica", "", 10)
		pdf.SetX(26)
		pdf.CellFormat(100, 6, tr(s.Contents), "", 2, "L", false, 0, "")
	}

	// Instructions, German then English.
	y := top + 70
	for _, lang := range i18n.Langs {
		y = instructions(pdf, t, lang, s, y)
		y += 4
	}

	// Footer.
	pdf.SetY(270)
	pdf.SetDrawColor(0xbb, 0xbb, 0xbb)
	pdf.SetLineWidth(0.2)
	pdf.Line(20, 268, 190, 268)
	pdf.SetFont("Helvetica", "", 8)
	pdf.SetTextColor(0x55, 0x55, 0x55)
	pdf.MultiCell(width, 4, t(i18n.DE, "portal.sheet.footer")+"\n"+t(i18n.EN, "portal.sheet.footer"), "", "L", false)
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("code sheet: %w", err)
	}
	return pdf.Output(w)
}

func instructions(pdf *fpdf.Fpdf, t func(i18n.Lang, string, ...any) string, lang i18n.Lang, s Sheet, y float64) float64 {
	pdf.SetXY(20, y)
	pdf.SetTextColor(0x1f, 0x4e, 0x79)
	pdf.SetFont("Helvetica", "B", 12)
	pdf.CellFormat(170, 7, t(lang, "portal.sheet.how"), "", 1, "L", false, 0, "")
	pdf.SetTextColor(0, 0, 0)
	pdf.SetFont("Helvetica", "", 10)
	steps := []string{
		t(lang, "portal.sheet.step1"),
		t(lang, "portal.sheet.step2"),
		t(lang, "portal.sheet.step3", questionList(t, lang, s.Questions)),
		t(lang, "portal.sheet.step4"),
	}
	for i, step := range steps {
		pdf.SetX(20)
		pdf.CellFormat(7, 5, fmt.Sprintf("%d.", i+1), "", 0, "L", false, 0, "")
		pdf.MultiCell(163, 5, step, "", "L", false)
		pdf.Ln(0.8)
	}
	return pdf.GetY()
}

// questionList names the second factors in the reader's language.
func questionList(t func(i18n.Lang, string, ...any) string, lang i18n.Lang, types []string) string {
	if len(types) == 0 {
		types = []string{"PAT_BIRTH_DATE"}
	}
	var names []string
	for _, q := range types {
		names = append(names, t(lang, "portal.sheet.factor."+strings.ToLower(q)))
	}
	return strings.Join(names, ", ")
}

// drawQR draws the QR code of content as squares, size mm wide, with a
// quiet zone of 4 modules inside that size.
func drawQR(pdf *fpdf.Fpdf, content string, x, y, size float64) error {
	hints := map[gozxing.EncodeHintType]any{
		gozxing.EncodeHintType_ERROR_CORRECTION: decoder.ErrorCorrectionLevel_M,
		gozxing.EncodeHintType_MARGIN:           0,
	}
	m, err := qrcode.NewQRCodeWriter().Encode(content, gozxing.BarcodeFormat_QR_CODE, 0, 0, hints)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	n := m.GetWidth()
	module := size / float64(n+8)
	pdf.SetFillColor(255, 255, 255)
	pdf.Rect(x, y, size, size, "F")
	pdf.SetFillColor(0, 0, 0)
	for row := 0; row < m.GetHeight(); row++ {
		for col := 0; col < n; {
			if !m.Get(col, row) {
				col++
				continue
			}
			run := col // one rectangle per horizontal run: smaller file, no hairline gaps
			for run < n && m.Get(run, row) {
				run++
			}
			pdf.Rect(x+float64(col+4)*module, y+float64(row+4)*module, float64(run-col)*module, module+0.01, "F")
			col = run
		}
	}
	return nil
}
