package dlx_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/faultproxy"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/portal"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/dlx"
	"github.com/bildbote/bildbote/transfer/internal/retry"
	"github.com/bildbote/bildbote/transfer/safezip"
)

// testPortal is the real bildbote-portal on a loopback server.
type testPortal struct {
	dir string
	srv *portal.Server
	ts  *httptest.Server
}

func startPortal(t *testing.T, cfg portal.Config) *testPortal {
	t.Helper()
	cfg.DataDir = t.TempDir()
	srv, err := portal.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return &testPortal{dir: cfg.DataDir, srv: srv, ts: ts}
}

// issue stages a "report" of size bytes (random after a PDF header, so
// every byte counts) and issues a code for it.
func (p *testPortal) issue(t *testing.T, size int, expires time.Time, questions ...portal.QuestionSpec) (code string, data []byte) {
	t.Helper()
	rid := portal.NewRecordID()
	data = make([]byte, size)
	rand.Read(data)
	copy(data, "%PDF-1.4\n")
	path := filepath.Join(portal.RecordDir(p.dir, rid), "src", "REPORT.PDF")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if len(questions) == 0 {
		questions = []portal.QuestionSpec{{Type: dlx.TypeBirthDate, Answer: "1958-02-14"}}
	}
	res, err := p.srv.Store().IssueCode(context.Background(), portal.IssueRequest{
		RecordID:  rid,
		Items:     []portal.Item{{ID: "r1", Kind: portal.KindPDF, MIMEType: "application/pdf", Description: "Befund", Path: "REPORT.PDF", Size: int64(size)}},
		Questions: questions,
		ExpiresAt: expires,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Code, data
}

func fast() retry.Policy {
	return retry.Policy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}
}

func dob(questions []dlx.Question, date string) []dlx.Answer {
	var out []dlx.Answer
	for _, q := range questions {
		if q.Type == dlx.TypeBirthDate {
			out = append(out, dlx.Answer{QuestionID: q.ID, Answer: date})
		}
	}
	return out
}

func TestResolveEveryInput(t *testing.T) {
	p := startPortal(t, portal.Config{})
	code, _ := p.issue(t, 1000, time.Now().Add(time.Hour))
	typed := strings.ToLower(code[:4] + " " + code[4:8] + "-" + code[8:])
	c := &dlx.Client{Retry: fast()}
	ctx := context.Background()
	base := p.ts.URL + "/dlx/v1"

	cases := map[string]struct {
		input, portal, base, token string
	}{
		"code URL (QR)":    {p.ts.URL + "/c?token=" + url.QueryEscape(typed), "", base, code},
		"token URL":        {base + "/token/" + code, "", base, code},
		"base URL":         {base + "/", "", base, ""},
		"portal root":      {p.ts.URL, "", base, ""},
		"bare code":        {typed, p.ts.URL, base, code},
		"bare opaque code": {" ABC-S1Z-98A ", base, base, "ABC-S1Z-98A"},
	}
	for name, tc := range cases {
		got, err := dlx.Resolve(ctx, c, tc.input, tc.portal)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got.Base != tc.base || got.Token != tc.token {
			t.Errorf("%s: got base %q token %q, want %q %q", name, got.Base, got.Token, tc.base, tc.token)
		}
		if name == "code URL (QR)" && (len(got.Questions) != 1 || got.Questions[0].Type != dlx.TypeBirthDate) {
			t.Errorf("code URL questions: %+v", got.Questions)
		}
	}
	if _, err := dlx.Resolve(ctx, c, "ABCD-EFGH-JKMN", ""); !errors.Is(err, dlx.ErrNoPortal) {
		t.Errorf("bare code without portal: %v", err)
	}
	// A web server that is no DLX server.
	other := httptest.NewServer(nil)
	defer other.Close()
	_, err := dlx.Resolve(ctx, c, other.URL, "")
	var nd *dlx.NotDLXError
	if !errors.As(err, &nd) {
		t.Errorf("not a DLX server: %v", err)
	}
}

func TestRedeemListDownload(t *testing.T) {
	p := startPortal(t, portal.Config{})
	code, data := p.issue(t, 300<<10, time.Now().Add(time.Hour),
		portal.QuestionSpec{Type: dlx.TypeBirthDate, Answer: "1958-02-14"},
		portal.QuestionSpec{Type: dlx.TypeCustom, Answer: "Bello", Texts: map[string]string{"de": "Name Ihres Hundes?", "en": "Your dog's name?"}})
	c := &dlx.Client{Base: p.ts.URL + "/dlx/v1", Retry: fast()}
	ctx := context.Background()

	qs, err := c.Questions(ctx, code)
	if err != nil || len(qs) != 2 {
		t.Fatalf("Questions: %v %v", qs, err)
	}
	custom := qs[1]
	if custom.Type != dlx.TypeCustom || custom.Text(i18n.DE) != "Name Ihres Hundes?" || custom.Text(i18n.EN) != "Your dog's name?" {
		t.Fatalf("custom question texts: %+v", custom)
	}
	if qs[0].Format != dlx.FormatDate || qs[0].Text(i18n.DE) == "" {
		t.Fatalf("birth date question: %+v", qs[0])
	}
	birth, _ := dlx.NormalizeDate("14.02.1958")
	answers := []dlx.Answer{{QuestionID: qs[0].ID, Answer: birth}, {QuestionID: custom.ID, Answer: "bello"}}

	_, err = c.Authorize(ctx, code, []dlx.Answer{answers[0], {QuestionID: custom.ID, Answer: "Rex"}})
	var wrong *dlx.WrongAnswerError
	if !errors.As(err, &wrong) {
		t.Fatalf("wrong answer: %v", err)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindInput {
		t.Fatalf("wrong answer is no input error: %v", err)
	}

	s, err := c.Authorize(ctx, code, answers)
	if err != nil {
		t.Fatal(err)
	}
	items, err := s.List(ctx)
	if err != nil || len(items) != 1 || items[0].ID != "r1" || items[0].MIMEType != "application/pdf" {
		t.Fatalf("List: %+v %v", items, err)
	}
	dst := filepath.Join(t.TempDir(), "Befund.pdf")
	res, err := s.Download(ctx, "r1", dst)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, data) || res.Size != int64(len(data)) || res.MIMEType != "application/pdf" {
		t.Fatalf("download: %d bytes, %+v", len(got), res)
	}
	if _, err := os.Stat(dst + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Error(".part left behind")
	}
	_, err = s.Download(ctx, "nope", filepath.Join(t.TempDir(), "x"))
	var unknown *dlx.UnknownItemError
	if !errors.As(err, &unknown) {
		t.Fatalf("unknown item: %v", err)
	}
}

func TestExpiredCode(t *testing.T) {
	p := startPortal(t, portal.Config{})
	code, _ := p.issue(t, 1000, time.Now().Add(-time.Hour))
	c := &dlx.Client{Base: p.ts.URL + "/dlx/v1", Retry: fast()}
	qs, _ := c.Questions(context.Background(), code)
	_, err := c.Authorize(context.Background(), code, dob(qs, "19580214"))
	var exp *dlx.ExpiredError
	if !errors.As(err, &exp) {
		t.Fatalf("expired: %v", err)
	}
	msg, hint := i18n.Localize(i18n.EN, err)
	if !strings.Contains(msg, "expired") || !strings.Contains(hint, "practice") {
		t.Fatalf("expired message: %q / %q", msg, hint)
	}
}

// TestSessionExpires reads the reference portal's expiry extension, and
// leaves Expires zero behind a portal that sends no or a broken header
// (the real portal behind a proxy that rewrites the header, as a foreign
// DLX portal would answer).
func TestSessionExpires(t *testing.T) {
	p := startPortal(t, portal.Config{})
	expires := time.Now().Add(36 * time.Hour).UTC().Truncate(time.Second)
	code, _ := p.issue(t, 1000, expires)

	s := login(t, &dlx.Client{Base: p.ts.URL + "/dlx/v1", Retry: fast()}, code, "19580214")
	if !s.Expires.Equal(expires) {
		t.Fatalf("Expires = %v, want %v", s.Expires, expires)
	}

	for name, value := range map[string]string{"missing": "", "unparsable": "next Tuesday"} {
		target, _ := url.Parse(p.ts.URL)
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxy.ModifyResponse = func(resp *http.Response) error {
			resp.Header.Del(wire.CodeExpiresHeader)
			if value != "" {
				resp.Header.Set(wire.CodeExpiresHeader, value)
			}
			return nil
		}
		foreign := httptest.NewServer(proxy)
		s := login(t, &dlx.Client{Base: foreign.URL + "/dlx/v1", Retry: fast()}, code, "19580214")
		foreign.Close()
		if !s.Expires.IsZero() {
			t.Errorf("%s header: Expires = %v, want zero", name, s.Expires)
		}
	}
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

// login answers the date-of-birth question for code and returns the
// session.
func login(t *testing.T, c *dlx.Client, code, birthDate string) *dlx.Session {
	t.Helper()
	ctx := context.Background()
	qs, err := c.Questions(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Authorize(ctx, code, dob(qs, birthDate))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// downloadReport downloads item r1, the document p.issue shared, and
// fails unless it arrived as issued.
func downloadReport(t *testing.T, s *dlx.Session, data []byte) *dlx.DownloadResult {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "r1.pdf")
	res, err := s.Download(context.Background(), "r1", dst)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); sum(got) != sum(data) {
		t.Fatal("r1: hash mismatch")
	}
	return res
}

// Ten cut connections during a download: every resume uses Range with
// If-Range and the file hashes like the original.
func TestDownloadSurvivesTenCuts(t *testing.T) {
	p := startPortal(t, portal.Config{})
	code, data := p.issue(t, 4<<20, time.Now().Add(time.Hour))
	proxy, err := faultproxy.New(p.ts.Listener.Addr().String(), faultproxy.Options{Cuts: 10, MinBytes: 100 << 10, MaxBytes: 600 << 10, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	var mu sync.Mutex
	waits := 0
	c := &dlx.Client{Base: "http://" + proxy.Addr() + "/dlx/v1", Retry: fast(), Progress: transfer.ProgressFunc(func(s transfer.Status) {
		if s.State == transfer.StateWaitingNetwork {
			mu.Lock()
			waits++
			mu.Unlock()
		}
	})}
	res := downloadReport(t, login(t, c, code, "19580214"), data)
	if proxy.Cuts() != 10 || res.Resumed == 0 || res.Restarted != 0 || waits == 0 {
		t.Fatalf("cuts %d, resumed %d, restarted %d, waits %d", proxy.Cuts(), res.Resumed, res.Restarted, waits)
	}
}

// The JWT expires while a slow download runs; the connection is cut, the
// resume gets 401, the client re-answers (answers kept in memory) and
// continues where it was.
func TestJWTExpiresMidDownload(t *testing.T) {
	// The portal counts the lifetime in whole seconds: a 2 s JWT is valid
	// for at least 1 s, enough for each request to start.
	p := startPortal(t, portal.Config{JWTLifetime: 2 * time.Second})
	code, data := p.issue(t, 1<<20, time.Now().Add(time.Hour))
	// 400 KiB/s: the first connection is cut after 880–950 KiB, ≥ 2.2 s
	// in, when the JWT has certainly expired.
	proxy, err := faultproxy.New(p.ts.Listener.Addr().String(), faultproxy.Options{Cuts: 1, MinBytes: 880 << 10, MaxBytes: 950 << 10, BytesPerSecond: 400 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	c := &dlx.Client{Base: "http://" + proxy.Addr() + "/dlx/v1", Retry: fast()}
	s := login(t, c, code, "1958-02-14")
	res := downloadReport(t, s, data)
	if s.Renewals() < 1 || res.Resumed < 1 {
		t.Fatalf("renewals %d, resumed %d", s.Renewals(), res.Resumed)
	}
}

// issueStudies stages real DICOM files (pydicom's) through the portal's
// own staging and issues a code for them.
func (p *testPortal) issueStudies(t *testing.T, files ...string) string {
	t.Helper()
	src := t.TempDir()
	for i, name := range files {
		data, err := os.ReadFile(corpus.PydicomFile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("IM%06d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rid := portal.NewRecordID()
	staged, err := portal.StageItems(context.Background(), p.dir, rid, []string{src}, portal.StageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.srv.Store().IssueCode(context.Background(), portal.IssueRequest{RecordID: rid, Items: staged.Items,
		Questions: []portal.QuestionSpec{{Type: dlx.TypeBirthDate, Answer: "1958-02-14"}}, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return res.Code
}

// downloadall is built on demand: the portal answers 503 with
// timeOutInSeconds until the ZIP is ready; the client waits and reports it.
func TestBusyThenReady(t *testing.T) {
	p := startPortal(t, portal.Config{})
	code := p.issueStudies(t, "CT_small.dcm", "MR_small.dcm")
	var mu sync.Mutex
	var busy []time.Duration
	c := &dlx.Client{Base: p.ts.URL + "/dlx/v1", Retry: fast(), MaxBusyWait: 100 * time.Millisecond,
		Progress: transfer.ProgressFunc(func(s transfer.Status) {
			if s.State == transfer.StateWaitingServer {
				var be *dlx.BusyError
				if !errors.As(s.Err, &be) {
					t.Errorf("busy report without BusyError: %v", s.Err)
				}
				mu.Lock()
				busy = append(busy, s.Wait)
				mu.Unlock()
			}
		})}
	ctx := context.Background()
	s := login(t, c, code, "19580214")
	dst := filepath.Join(t.TempDir(), "all.zip")
	res, err := s.DownloadAll(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(busy) == 0 || busy[0] != 100*time.Millisecond {
		t.Fatalf("busy waits %v", busy)
	}
	if res.MIMEType != "application/zip" || res.Size == 0 {
		t.Fatalf("downloadall: %+v", res)
	}
	// The IHE PDI ZIP extracts safely and holds a DICOMDIR at its root.
	out := filepath.Join(t.TempDir(), "studies")
	if _, err := safezip.ExtractFile(ctx, dst, out, safezip.Limits{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "DICOMDIR")); err != nil {
		t.Fatalf("no DICOMDIR in the downloaded ZIP: %v", err)
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	c := &dlx.Client{Base: "http://127.0.0.1:1/dlx/v1", Retry: fast()}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Questions(ctx, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled: %v", err)
	}
}
