package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"
)

// testPortal is a real portal on a loopback httptest server.
type testPortal struct {
	t   *testing.T
	dir string
	srv *Server
	ts  *httptest.Server
}

func startPortal(t *testing.T, dir string, mod ...func(*Config)) *testPortal {
	t.Helper()
	cfg := Config{DataDir: dir}
	for _, m := range mod {
		m(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	p := &testPortal{t: t, dir: dir, srv: srv, ts: ts}
	t.Cleanup(p.stop)
	return p
}

func (p *testPortal) stop() {
	if p.ts == nil {
		return
	}
	p.ts.Close()
	p.srv.Close()
	p.ts = nil
}

// makePDF writes a small real PDF.
func makePDF(t *testing.T, path, text string) {
	t.Helper()
	doc := fpdf.New("P", "mm", "A4", "")
	doc.AddPage()
	doc.SetFont("Helvetica", "", 14)
	doc.Cell(40, 10, text)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := doc.OutputFileAndClose(path); err != nil {
		t.Fatal(err)
	}
}

// issuePDFCode issues a code for one PDF report with a date-of-birth
// question and returns the code and record ID.
func (p *testPortal) issuePDFCode(dob string, expires time.Time, extra ...QuestionSpec) (code, recordID string) {
	p.t.Helper()
	rid := NewRecordID()
	pdf := filepath.Join(RecordDir(p.dir, rid), "src", "REPORT.PDF")
	makePDF(p.t, pdf, "Befund")
	st, _ := os.Stat(pdf)
	res, err := p.srv.Store().IssueCode(context.Background(), IssueRequest{
		RecordID:  rid,
		Items:     []Item{{ID: "r1", Kind: KindPDF, MIMEType: "application/pdf", Description: "Befund", Path: "REPORT.PDF", Size: st.Size()}},
		Questions: append([]QuestionSpec{{Type: QuestionBirthDate, Answer: dob}}, extra...),
		ExpiresAt: expires,
	})
	if err != nil {
		p.t.Fatalf("IssueCode: %v", err)
	}
	return res.Code, res.RecordID
}

// do sends a request and returns the response with its body read.
func (p *testPortal) do(method, path string, header http.Header, body []byte) (*http.Response, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp, b
}

func answers(pairs ...string) []byte {
	var a tfaAnswers
	for i := 0; i+1 < len(pairs); i += 2 {
		a.TFAAnswer = append(a.TFAAnswer, tfaAnswer{QuestionID: lenientString(pairs[i]), Answer: lenientString(pairs[i+1])})
	}
	b, _ := json.Marshal(a)
	return b
}

// login redeems code with answers and returns the JWT.
func (p *testPortal) login(code string, pairs ...string) string {
	p.t.Helper()
	resp, body := p.do("POST", "/dlx/v1/tokentfa/"+code, http.Header{"Content-Type": {"application/json"}}, answers(pairs...))
	if resp.StatusCode != 200 {
		p.t.Fatalf("tokentfa: %d %s", resp.StatusCode, body)
	}
	return strings.TrimSpace(string(body))
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}
