package portal

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPDFOnlyCode: a code for reports only (no DICOM) lists the PDF and
// downloadall still gives a ZIP with it.
func TestPDFOnlyCode(t *testing.T) {
	p := startPortal(t, t.TempDir())
	src := t.TempDir()
	makePDF(t, filepath.Join(src, "BEFUND.PDF"), "Befund")
	rid := NewRecordID()
	staged, err := StageItems(t.Context(), p.dir, rid, []string{src}, StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.srv.Store().IssueCode(t.Context(), IssueRequest{
		RecordID: rid, Items: staged.Items, ExpiresAt: time.Now().Add(time.Hour),
		Questions: []QuestionSpec{{Type: QuestionBirthDate, Answer: "19580214"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	bearer := hdr("Authorization", "Bearer "+p.login(res.Code, "1", "19580214"))
	_, body := p.do("GET", "/dlx/v1/list", bearer, nil)
	if !strings.Contains(string(body), `"mimeType":"application/pdf"`) || strings.Contains(string(body), "application/zip") {
		t.Fatalf("list: %s", body)
	}
	all, _ := p.fetchZip("/dlx/v1/downloadall", bearer)
	names := unzipTo(t, all, t.TempDir())
	if !strings.Contains(strings.Join(names, " "), "BEFUND") {
		t.Fatalf("downloadall: %v", names)
	}
}
