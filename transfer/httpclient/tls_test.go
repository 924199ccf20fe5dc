package httpclient

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/testca"
	"github.com/bildbote/bildbote/transfer"
)

// tlsServer serves 200 "ok" over TLS with leaf's certificate and chain.
func tlsServer(t *testing.T, leaf *testca.Leaf) *httptest.Server {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.Config.ErrorLog = discardLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func newCA(t *testing.T, dir, base string, name pkix.Name) *testca.CA {
	t.Helper()
	ca, err := testca.New(dir, base, name, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t *testing.T, ca *testca.CA, dir, base string, o testca.Options, hosts ...string) *testca.Leaf {
	t.Helper()
	l, err := ca.Issue(dir, base, hosts, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func getOK(t *testing.T, c *http.Client, url string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("GET %s: %d %q", url, resp.StatusCode, body)
	}
}

// A portal whose certificate comes from a CA the OS does not trust (an
// inspecting proxy's, here a test CA) fails with a CertError naming the
// certificate; with that CA in an extra bundle it passes, and the OS
// trust store still counts.
func TestCABundleTrustsAndCertErrorTells(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, dir, "ca", pkix.Name{CommonName: "Klinik Proxy Root CA", Organization: []string{"Klinik Süd IT"}})
	leaf := issue(t, ca, dir, "portal", testca.Options{}, "127.0.0.1")
	srv := tlsServer(t, leaf)

	_, err := New(Options{}).Get(srv.URL + "/api/v1/communities/bM1X")
	ce, ok := IsCertError(err)
	if !ok {
		t.Fatalf("want a CertError, got %v", err)
	}
	sum := sha256.Sum256(leaf.Cert.Raw)
	want := CertError{Host: strings.TrimPrefix(srv.URL, "https://"), Reason: CertUnknownAuthority,
		Subject: "CN=127.0.0.1, O=Bildbote Test Portal", Issuer: "CN=Klinik Proxy Root CA, O=Klinik Süd IT",
		Fingerprint: colonHex(sum[:]), Inspecting: true}
	if ce.Host != want.Host || ce.Reason != want.Reason || ce.Subject != want.Subject || ce.Issuer != want.Issuer ||
		ce.Fingerprint != want.Fingerprint || !ce.Inspecting || ce.Product != "" {
		t.Fatalf("CertError\n got %+v\nwant %+v", ce, want)
	}
	if !ce.NotBefore.Equal(leaf.Cert.NotBefore) || !ce.NotAfter.Equal(leaf.Cert.NotAfter) {
		t.Fatalf("validity %v–%v, want %v–%v", ce.NotBefore, ce.NotAfter, leaf.Cert.NotBefore, leaf.Cert.NotAfter)
	}
	if len(ce.Chain) != 2 || !ce.Chain[1].Equal(ca.Cert) {
		t.Fatalf("chain of %d, want leaf and CA", len(ce.Chain))
	}
	if len(ce.ShortFingerprint()) != 23 || !strings.HasPrefix(ce.Fingerprint, ce.ShortFingerprint()) {
		t.Fatalf("short fingerprint %q of %q", ce.ShortFingerprint(), ce.Fingerprint)
	}
	if v := transfer.Classify(err); v.Class != transfer.Permanent || v.Reason != transfer.ReasonTLS {
		t.Fatalf("classified %v", v)
	}
	for _, c := range []struct {
		lang  i18n.Lang
		parts []string
	}{
		{i18n.EN, []string{"The certificate shown for " + want.Host + " is not trusted", "issued to CN=127.0.0.1, O=Bildbote Test Portal by CN=Klinik Proxy Root CA, O=Klinik Süd IT",
			"valid " + leaf.Cert.NotBefore.UTC().Format("2006-01-02") + " to ", "SHA-256 " + ce.ShortFingerprint() + ".", "TLS inspection", "ca_bundle", "--ca-bundle"}},
		{i18n.DE, []string{"Das Zertifikat, das für " + want.Host + " vorgezeigt wurde, ist nicht vertrauenswürdig", "ausgestellt für CN=127.0.0.1, O=Bildbote Test Portal von CN=Klinik Proxy Root CA",
			"gültig " + leaf.Cert.NotBefore.UTC().Format("02.01.2006") + " bis ", "TLS-Inspektion", "Stammzertifikat", "ca_bundle"}},
	} {
		msg, hint := i18n.Localize(c.lang, err)
		for _, p := range c.parts {
			if !strings.Contains(msg+" "+hint, p) {
				t.Errorf("%s: %q missing in\n%s\n%s", c.lang, p, msg, hint)
			}
		}
	}

	// The bundle: an unrelated CA first, then the one that signed.
	other := newCA(t, dir, "other", pkix.Name{CommonName: "Unrelated CA"})
	bundle := filepath.Join(dir, "bundle.pem")
	writeCerts(t, bundle, other.Cert, ca.Cert)
	b, err := LoadCABundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Certs) != 2 || b.Path != bundle {
		t.Fatalf("bundle %+v", b)
	}
	getOK(t, New(Options{TLS: TLS{Roots: b.Pool}}), srv.URL+"/")

	// Only the other CA: still refused.
	only := filepath.Join(dir, "other-only.pem")
	writeCerts(t, only, other.Cert)
	ob, err := LoadCABundle(only)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{TLS: TLS{Roots: ob.Pool}}).Get(srv.URL + "/"); err == nil {
		t.Fatal("an unrelated CA made the portal trusted")
	} else if _, ok := IsCertError(err); !ok {
		t.Fatalf("want a CertError, got %v", err)
	}

	// The OS trust store is still in the pool: a root of Debian's
	// ca-certificates verifies against it (on Windows and macOS the
	// platform verifier is asked first, see TLS).
	sys, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Skipf("no system CA file to compare with: %v", err)
	}
	blk, _ := pem.Decode(sys)
	root, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Verify(x509.VerifyOptions{Roots: b.Pool, CurrentTime: root.NotBefore.Add(time.Hour)}); err != nil {
		t.Fatalf("a system root (%s) is not in the bundle's pool: %v", root.Subject, err)
	}
}

func writeCerts(t *testing.T, path string, certs ...*x509.Certificate) {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCABundleErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, dir, "ca", pkix.Name{CommonName: "Bundle Test CA"})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	keyPEM, err := os.ReadFile(ca.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	broken := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw[:100]})
	files := map[string][]byte{
		"empty.pem":   {},
		"text.pem":    []byte("this is not a certificate\n"),
		"withkey.pem": append(append([]byte{}, certPEM...), keyPEM...),
		"broken.pem":  append(append([]byte{}, certPEM...), broken...),
		"ca.cer":      ca.Cert.Raw, // DER, as Windows exports it
		"ca.pem":      certPEM,
	}
	for n, data := range files {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		file, what string
		block      int
		en, de     string
	}{
		{"missing.pem", BundleUnreadable, 0, "cannot be read", "lässt sich nicht lesen"},
		{".", BundleUnreadable, 0, "cannot be read", "lässt sich nicht lesen"},
		{"empty.pem", BundleEmpty, 0, "holds no certificate", "enthält kein Zertifikat"},
		{"text.pem", BundleEmpty, 0, "holds no certificate", "enthält kein Zertifikat"},
		{"withkey.pem", BundleNotCert, 2, "other than a certificate in block 2", "in Block 2 etwas anderes als ein Zertifikat"},
		{"broken.pem", BundleBad, 2, "cannot be read in block 2", "in Block 2 ein Zertifikat, das sich nicht lesen lässt"},
	} {
		path := filepath.Join(dir, c.file)
		_, err := LoadCABundle(path)
		var be *CABundleError
		if !errors.As(err, &be) || be.What != c.what || be.Block != c.block || be.Path != path {
			t.Errorf("%s: got %v (%+v), want %s block %d", c.file, err, be, c.what, c.block)
			continue
		}
		ue, ok := i18n.AsUserError(err)
		if !ok || ue.Kind != i18n.KindInput {
			t.Errorf("%s: not an input error: %v", c.file, err)
		}
		for lang, want := range map[i18n.Lang]string{i18n.EN: c.en, i18n.DE: c.de} {
			msg, hint := i18n.Localize(lang, err)
			if !strings.Contains(msg, path) || !strings.Contains(msg, want) || !strings.Contains(hint, "ca_bundle") {
				t.Errorf("%s %s: %q / %q", c.file, lang, msg, hint)
			}
		}
		if strings.Contains(err.Error(), "PRIVATE KEY-----") || strings.Contains(err.Error(), string(keyPEM[30:60])) {
			t.Errorf("%s: the error shows the key: %v", c.file, err)
		}
	}
	for _, n := range []string{"ca.cer", "ca.pem"} {
		b, err := LoadCABundle(filepath.Join(dir, n))
		if err != nil || len(b.Certs) != 1 || !b.Certs[0].Equal(ca.Cert) {
			t.Errorf("%s: %v", n, err)
		}
	}
}

// Expired, not yet valid, another name, and a known inspecting product.
func TestCertErrorReasons(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, dir, "ca", pkix.Name{CommonName: "Reasons CA"})
	trusting := New(Options{TLS: TLS{Roots: ca.Pool()}})
	past := testca.Options{NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}
	future := testca.Options{NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().Add(72 * time.Hour)}
	for _, c := range []struct {
		name   string
		leaf   *testca.Leaf
		reason string
		hint   string
		en, de string
	}{
		{"expired", issue(t, ca, dir, "expired", past, "127.0.0.1"), CertExpired, "transfer.tls.cert.time.hint", "has expired", "ist abgelaufen"},
		{"future", issue(t, ca, dir, "future", future, "127.0.0.1"), CertNotYetValid, "transfer.tls.cert.time.hint", "is not valid yet", "ist noch nicht gültig"},
		{"hostname", issue(t, ca, dir, "name", testca.Options{}, "portal.example"), CertHostname, "transfer.tls.cert.hostname.hint", "is for another name", "gilt für einen anderen Namen"},
	} {
		srv := tlsServer(t, c.leaf)
		_, err := trusting.Get(srv.URL)
		ce, ok := IsCertError(err)
		if !ok || ce.Reason != c.reason || ce.Inspecting {
			t.Errorf("%s: got %v", c.name, err)
			continue
		}
		ue, _ := i18n.AsUserError(err)
		if ue.HintKey != c.hint {
			t.Errorf("%s: hint %s", c.name, ue.HintKey)
		}
		for lang, want := range map[i18n.Lang]string{i18n.EN: c.en, i18n.DE: c.de} {
			if msg, _ := i18n.Localize(lang, err); !strings.Contains(msg, want) || !strings.Contains(msg, ce.ShortFingerprint()) {
				t.Errorf("%s %s: %q", c.name, lang, msg)
			}
		}
	}

	z := newCA(t, dir, "zscaler", pkix.Name{CommonName: "Zscaler Intermediate Root CA (zscaler.net)", Organization: []string{"Zscaler Inc."}})
	srv := tlsServer(t, issue(t, z, dir, "z", testca.Options{}, "127.0.0.1"))
	_, err := trusting.Get(srv.URL)
	ce, ok := IsCertError(err)
	if !ok || !ce.Inspecting || ce.Product != "Zscaler" {
		t.Fatalf("got %v", err)
	}
	for lang, want := range map[i18n.Lang]string{i18n.EN: "Zscaler inspects TLS here", i18n.DE: "Zscaler prüft hier TLS (TLS-Inspektion)"} {
		if msg, _ := i18n.Localize(lang, err); !strings.Contains(msg, want) {
			t.Errorf("%s: %q", lang, msg)
		}
	}
}

// With HTTP1Only an HTTP/2 server sees HTTP/1.1, and the ClientHello's
// ALPN offers http/1.1 only; without it HTTP/2 with h2 offered. SetTLS
// switches a client in place.
func TestHTTP1Only(t *testing.T) {
	got := make(chan int, 1)
	offered := make(chan []string, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.ProtoMajor
		io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		offered <- append([]string(nil), h.SupportedProtos...)
		return nil, nil
	}}
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = discardLog()
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	check := func(c *http.Client, major int, alpn string) {
		t.Helper()
		getOK(t, c, srv.URL)
		if m := <-got; m != major {
			t.Fatalf("server saw HTTP/%d, want HTTP/%d", m, major)
		}
		select {
		case p := <-offered:
			if strings.Join(p, ",") != alpn {
				t.Fatalf("ClientHello offered ALPN %q, want %q", p, alpn)
			}
		default:
			t.Fatal("no new TLS connection")
		}
	}
	h2 := New(Options{TLS: TLS{Roots: pool}})
	check(h2, 2, "h2,http/1.1")
	h1 := New(Options{TLS: TLS{Roots: pool, HTTP1Only: true}})
	check(h1, 1, "http/1.1")
	if tc, ok := CurrentTLS(h1); !ok || !tc.HTTP1Only || tc.Roots != pool {
		t.Fatalf("CurrentTLS %+v %v", tc, ok)
	}

	// Switched in place: the idle HTTP/2 connection is closed, a new one
	// is made.
	if !SetTLS(h2, TLS{Roots: pool, HTTP1Only: true}) {
		t.Fatal("SetTLS refused a client of New")
	}
	check(h2, 1, "http/1.1")
	SetTLS(h2, TLS{Roots: pool})
	check(h2, 2, "h2,http/1.1")
	if tc, _ := CurrentTLS(h2); tc.HTTP1Only {
		t.Fatal("CurrentTLS still says HTTP/1.1 only")
	}
	// A client with its own transport keeps it.
	own := New(Options{Transport: srv.Client().Transport})
	if SetTLS(own, TLS{HTTP1Only: true}) {
		t.Fatal("SetTLS changed a caller's transport")
	}
	// A caller's layer around New's transport (a Wrapper) is seen through.
	wrapped := New(Options{TLS: TLS{Roots: pool}})
	wrapped.Transport = layer{wrapped.Transport}
	check(wrapped, 2, "h2,http/1.1")
	if !SetTLS(wrapped, TLS{Roots: pool, HTTP1Only: true}) {
		t.Fatal("SetTLS did not see through the Wrapper")
	}
	check(wrapped, 1, "http/1.1")
	if _, ok := CurrentTLS(&http.Client{}); ok {
		t.Fatal("CurrentTLS of a foreign client")
	}
}

// layer is a caller's RoundTripper around a client of New.
type layer struct{ base http.RoundTripper }

func (l layer) RoundTrip(r *http.Request) (*http.Response, error) { return l.base.RoundTrip(r) }
func (l layer) Unwrap() http.RoundTripper                         { return l.base }

// A refused certificate of an https proxy (its own handshake, wrapped as
// a TLSError naming the proxy) names the proxy, not the portal.
func TestCertErrorNamesTheProxysHandshake(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, dir, "ca", pkix.Name{CommonName: "Proxy CA"})
	srv := tlsServer(t, issue(t, ca, dir, "proxy", testca.Options{}, "127.0.0.1"))
	proxyHost := strings.TrimPrefix(srv.URL, "https://")
	_, err := (&http.Client{}).Get(srv.URL) // the handshake with the "proxy"
	if err == nil {
		t.Fatal("untrusted certificate accepted")
	}
	ce, ok := IsCertError(tlsFailure("portal.example:443", &transfer.TLSError{Host: proxyHost, Err: err}))
	if !ok || ce.Host != proxyHost || ce.Issuer != "CN=Proxy CA" {
		t.Fatalf("got %+v", ce)
	}
}
