package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/transfer/dlx"
)

// hostileDLX is a DLX portal gone bad: any token, any answer, and a /list
// the test writes (IDs, MIME types, descriptions, patient names, dates,
// file counts straight from the test). Every item is served as the one
// real IHE PDI ZIP (for application/zip) or a small PDF.
type hostileDLX struct {
	zip    []byte
	server *httptest.Server

	mu        sync.Mutex
	items     []map[string]any
	downloads []string
}

func newHostileDLX(t testing.TB, zip []byte) *hostileDLX {
	h := &hostileDLX{zip: zip}
	h.server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.server.Close)
	return h
}

func (h *hostileDLX) setItems(items ...map[string]any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.items, h.downloads = items, nil
}

func (h *hostileDLX) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case strings.HasPrefix(p, "/dlx/v1/token/"):
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"apiInfo":[{"dlxVersion":"1.0","apiBasePath":"/dlx/v1"}],"tfaQuestion":[{"question":[{"text":"Geburtsdatum","language":"de"}],"questionId":"1","questionType":"PAT_BIRTH_DATE","answerFormat":"DATE"}]}`))
	case strings.HasPrefix(p, "/dlx/v1/tokentfa/"):
		w.Header().Set("Content-Type", "application/jwt")
		w.Write([]byte("eyJhbGciOiJub25lIn0.e30.hostile"))
	case p == "/dlx/v1/list":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"dataItem": h.items})
	case strings.HasPrefix(p, "/dlx/v1/download/"):
		id, _ := url.PathUnescape(strings.TrimPrefix(p, "/dlx/v1/download/"))
		h.downloads = append(h.downloads, id)
		for _, it := range h.items {
			if it["id"] == id {
				if it["mimeType"] == "application/zip" {
					w.Header().Set("Content-Type", "application/zip")
					http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.zip))
				} else {
					w.Header().Set("Content-Type", "application/pdf")
					w.Write([]byte("%PDF-1.4 hostile report\n%%EOF\n"))
				}
				return
			}
		}
		w.WriteHeader(http.StatusBadRequest)
	default:
		http.NotFound(w, r)
	}
}

// realStudyZIP is one study as the real portal serves it over DLX: an
// IHE PDI ZIP with a DICOMDIR and real DICOM files.
func realStudyZIP(t testing.TB) []byte {
	t.Helper()
	p := startPortal(t, t.TempDir())
	cdDir, cd := generateCD(t, gencd.MinFiles)
	pa := cd.Patients[0]
	code := p.issueCode(cdDir, pa, time.Now().Add(time.Hour))
	ctx := context.Background()
	c := &dlx.Client{Base: p.url + "/dlx/v1"}
	qs, err := c.Questions(ctx, dlx.NormalizeToken(code))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := c.Authorize(ctx, dlx.NormalizeToken(code), []dlx.Answer{{QuestionID: qs[0].ID, Answer: pa.BirthDate}})
	if err != nil {
		t.Fatal(err)
	}
	items, err := sess.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.MIMEType == "application/zip" {
			dst := filepath.Join(t.TempDir(), "study.zip")
			if _, err := sess.Download(ctx, it.ID, dst); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
	t.Fatal("the portal lists no study")
	return nil
}

// redeemAndSave redeems any code at the hostile portal and saves all it
// lists into to; it returns the job (nil when nothing was listed).
func redeemAndSave(t *testing.T, core *app.Core, base, to string) (*app.Job, error) {
	t.Helper()
	s, err := core.RedeemStart(context.Background(), base, "ABCD-EFGH-JKMN")
	if err != nil {
		return nil, err
	}
	if _, err := s.Answer(context.Background(), map[string]string{s.Questions[0].ID: "19580214"}); err != nil {
		return nil, err
	}
	job, err := core.StartSave(s, nil, to)
	if err != nil {
		return nil, err
	}
	return waitShort(t, core, job), nil
}

// dlxItem is a listing entry with the given fields.
func dlxItem(id, mime, desc, name, date, birth string, files int) map[string]any {
	return map[string]any{"id": id, "mimeType": mime, "description": desc, "patientsName": name,
		"date": date, "patientsBirthdate": birth, "fileCount": files, "studyInstanceUID": "1.2.3"}
}

// TestHostileDLXListing: a DLX portal lists items whose IDs, descriptions
// and patient names are paths ("x/../..", "../../keys/clinic", absolute,
// a drive, "..") and control characters. Everything saved lands inside
// the chosen folder under sanitised names; nothing else changes.
func TestHostileDLXListing(t *testing.T) {
	site := newSentinelSite(t)
	core, _ := site.clinicCore(t)
	h := newHostileDLX(t, realStudyZIP(t))
	h.setItems(
		dlxItem("x/../..", "application/zip", "../../keys", "../..", "20240101", "19580214", 3),
		dlxItem("../../keys/clinic", "application/pdf", "../../keys/clinic", "/etc", "", "", -1),
		dlxItem(`C:\..`, "application/pdf", `C:\Windows\evil`, `..\..`, "..", "..", 0),
		dlxItem("..", "application/zip", "..", ".", "2024", "1958", 1<<30),
		dlxItem("ok", "application/octet-stream", "\x1b[2J\u202e..", "\x00", "", "", 0),
	)
	before := site.snapshot(t)
	j, err := redeemAndSave(t, core, h.server.URL+"/dlx/v1", site.to)
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "hostile DLX listing", before, site.snapshot(t))
	if j.State != app.StateDone || j.Receipt == nil || len(j.Receipt.Saved) != 5 {
		t.Fatalf("save: %s %+v %+v", j.State, j.Error, j.Receipt)
	}
	for _, s := range j.Receipt.Saved {
		rel, err := filepath.Rel(site.to, s.Dir)
		if err != nil || !filepath.IsLocal(rel) || strings.Count(filepath.ToSlash(rel), "/") != 1 {
			t.Errorf("item %q saved to %q, not <patient>/<study> inside %q", s.ItemID, s.Dir, site.to)
		}
		t.Logf("%-20q → %s", s.ItemID, rel)
	}
}

// FuzzHostileDLXListing runs a real redeem and save against a hostile DLX
// portal whose listing the fuzzer writes (two items sharing the fuzzed
// names: IDs, MIME type, description, patient name, dates, file count) and
// checks that nothing outside the chosen folder changes and that every
// saved item is a <patient>/<study> folder or file inside it.
func FuzzHostileDLXListing(f *testing.F) {
	for _, s := range []string{"x/../..", "../../keys/clinic", "/etc/passwd", `C:\..`, `\\server\share`, "a\x00b", strings.Repeat("A", 300),
		"ｘ／．．", "\u2215..\u2215..", ".", "..", "", " ", "CON", "nul.txt", "\u202e", "a/b/c"} {
		f.Add(s, s, s, uint8(0), 1)
		f.Add("item1", s, "Müller^Jürgen", uint8(1), -1)
	}
	site := newSentinelSite(f)
	core, _ := site.clinicCore(f)
	h := newHostileDLX(f, realStudyZIP(f))
	base := h.server.URL + "/dlx/v1"
	f.Fuzz(func(t *testing.T, id, desc, name string, mime uint8, files int) {
		mt := []string{"application/zip", "application/pdf", "text/html", desc}[mime%4]
		h.setItems(dlxItem(id, mt, desc, name, desc, name, files), dlxItem(id+"2", "application/pdf", desc, name, "", "", files))
		before := site.snapshot(t)
		j, err := redeemAndSave(t, core, base, site.to)
		if !sameSnapshot(t, "listing "+strconvQuote(id)+" "+strconvQuote(desc)+" "+strconvQuote(name), before, site.snapshot(t)) {
			return
		}
		if err == nil && j != nil && j.Receipt != nil {
			for _, s := range j.Receipt.Saved {
				rel, err := filepath.Rel(site.to, s.Dir)
				if err != nil || !filepath.IsLocal(rel) || strings.Count(filepath.ToSlash(rel), "/") != 1 {
					t.Errorf("item %q saved to %q, not <patient>/<study> inside %q", s.ItemID, s.Dir, site.to)
				}
			}
			core.Forget(j.ID)
		}
		site.clearTarget(t)
	})
}
