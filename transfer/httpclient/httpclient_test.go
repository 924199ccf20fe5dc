package httpclient

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
)

// other returns a server on another origin ("localhost" instead of
// 127.0.0.1) that counts what reaches it.
func other(t *testing.T) (*httptest.Server, string, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("other"))
	}))
	t.Cleanup(srv.Close)
	return srv, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), &hits
}

func redirectTo(status int, target func(r *http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target(r), status)
	})
}

func wantRedirect(t *testing.T, err error, what, to string) {
	t.Helper()
	var re *RedirectError
	if !errors.As(err, &re) || re.What != what || !strings.Contains(re.To, to) {
		t.Fatalf("want redirect error %s to %s, got %v", what, to, err)
	}
	if v := transfer.Classify(err); v.Class != transfer.Permanent || v.Reason != transfer.ReasonRedirect {
		t.Fatalf("classified %v", v)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.HintKey == "" || !strings.Contains(ue.Message(i18n.DE), to) {
		t.Fatalf("user error %v", err)
	}
}

func TestRedirectLoopEndsAfterMax(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/loop?n=x", http.StatusFound)
	}))
	defer srv.Close()
	_, err := New(Options{}).Get(srv.URL + "/start")
	wantRedirect(t, err, "too-many", "/loop")
	var re *RedirectError
	if errors.As(err, &re); strings.Contains(re.Error(), "n=x") {
		t.Fatalf("query in error: %v", err)
	}
	if hits.Load() != DefaultMaxRedirects+1 {
		t.Fatalf("%d requests, want %d", hits.Load(), DefaultMaxRedirects+1)
	}
}

func TestCrossOrigin307WithBodyRefused(t *testing.T) {
	_, otherURL, hits := other(t)
	srv := httptest.NewServer(redirectTo(http.StatusTemporaryRedirect, func(r *http.Request) string { return otherURL + r.URL.Path }))
	defer srv.Close()
	resp, err := New(Options{}).Post(srv.URL+"/dlx/v1/tokentfa/ABCD", "application/json", strings.NewReader(`{"answer":"19580214"}`))
	if resp != nil {
		resp.Body.Close()
	}
	wantRedirect(t, err, "cross-origin", "/tokentfa/…")
	var re *RedirectError
	if errors.As(err, &re); strings.Contains(re.Error(), "ABCD") {
		t.Fatalf("code in error: %v", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the other host received the body")
	}
}

func TestCrossOriginCredentialsRefused(t *testing.T) {
	_, otherURL, hits := other(t)
	srv := httptest.NewServer(redirectTo(http.StatusTemporaryRedirect, func(r *http.Request) string { return otherURL + "/x" }))
	defer srv.Close()
	for _, h := range []string{"Upload-Metadata", "Bildbote-Upload-Secret", "X-Api-Key"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/uploads/", nil)
		req.Header.Set(h, "secret")
		_, err := New(Options{}).Do(req)
		wantRedirect(t, err, "cross-origin", otherURL)
	}
	if hits.Load() != 0 {
		t.Fatal("credentials reached the other host")
	}
}

// A GET without credentials may go elsewhere (a QR short link); a GET
// with a bearer token arrives there without it.
func TestCrossOriginGETFollowedWithoutCredentials(t *testing.T) {
	var auth atomic.Value
	auth.Store("")
	dst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization") + r.Header.Get("X-Secret-Thing"))
		w.Write([]byte("ok"))
	}))
	defer dst.Close()
	dstURL := strings.Replace(dst.URL, "127.0.0.1", "localhost", 1)
	srv := httptest.NewServer(redirectTo(http.StatusFound, func(r *http.Request) string { return dstURL + "/file" }))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/download/1", nil)
	req.Header.Set("X-Secret-Thing", "s")
	resp, err := New(Options{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if auth.Load().(string) != "" {
		t.Fatalf("credentials sent to the other origin: %q", auth.Load())
	}
}

func TestHTTPSToHTTPRefused(t *testing.T) {
	_, otherURL, hits := other(t)
	plain := strings.Replace(otherURL, "localhost", "127.0.0.1", 1)
	srv := httptest.NewTLSServer(redirectTo(http.StatusFound, func(r *http.Request) string { return plain + "/list" }))
	defer srv.Close()
	_, err := New(Options{Transport: srv.Client().Transport}).Get(srv.URL + "/list")
	wantRedirect(t, err, "downgrade", plain)
	if hits.Load() != 0 {
		t.Fatal("followed to http")
	}
}

func TestUntrustedCertificateIsCertError(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	srv.Config.ErrorLog = discardLog()
	_, err := New(Options{}).Get(srv.URL)
	var ce *CertError
	if !errors.As(err, &ce) || !strings.Contains(ce.Host, "127.0.0.1") || ce.Reason != CertUnknownAuthority {
		t.Fatalf("want CertError, got %v", err)
	}
	if v := transfer.Classify(err); v.Class != transfer.Permanent || v.Reason != transfer.ReasonTLS {
		t.Fatalf("classified %v", v)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindRefused || ue.HintKey != "transfer.tls.cert.inspecting.hint" {
		t.Fatalf("user error %v", err)
	}
}

// A handshake that fails without a certificate (a plain HTTP server
// behind an https:// URL) stays a *transfer.TLSError.
func TestFailedHandshakeIsTLSError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, err := New(Options{}).Get(strings.Replace(srv.URL, "http://", "https://", 1))
	var te *transfer.TLSError
	if _, isCert := IsCertError(err); !errors.As(err, &te) || isCert {
		t.Fatalf("want TLSError, got %v", err)
	}
	if v := transfer.Classify(err); v.Class != transfer.Permanent || v.Reason != transfer.ReasonTLS {
		t.Fatalf("classified %v", v)
	}
}

// A POST with credentials to http://host may follow the host's own
// redirect to https (SameOrUpgrade); the reverse is a downgrade.
func TestUpgradeToHTTPSIsSameOrigin(t *testing.T) {
	a, _ := parse("http://portal.example/api/v1/uploads/")
	b, _ := parse("https://portal.example/api/v1/uploads/")
	c, _ := parse("https://evil.example/api/v1/uploads/")
	if !SameOrUpgrade(a, b) || SameOrUpgrade(b, a) || SameOrUpgrade(a, c) {
		t.Fatal("SameOrUpgrade")
	}
}

func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"https://p.example/a", "https://P.example:443/b", true},
		{"https://p.example/", "http://p.example/", false},
		{"https://p.example/", "https://p.example:8443/", false},
		{"https://p.example/", "https://evil.p.example/", false},
		{"http://127.0.0.1:80/", "http://127.0.0.1/", true},
	} {
		a, _ := parse(c.a)
		b, _ := parse(c.b)
		if SameOrigin(a, b) != c.same {
			t.Errorf("SameOrigin(%s, %s) != %v", c.a, c.b, c.same)
		}
	}
}
