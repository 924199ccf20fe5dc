package httpclient

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/squid"
	"github.com/bildbote/bildbote/internal/testkit/testca"
	"github.com/bildbote/bildbote/transfer"
)

// Through a real TLS-inspecting squid (ssl_bump, its own CA): without
// that CA the request fails with a CertError naming squid's generated
// certificate and its issuer; with the CA as the extra bundle it passes,
// and squid's log shows the request inside the tunnel.
func TestCertErrorBehindInspectingSquid(t *testing.T) {
	squid.BumpAvailable(t)
	dir := t.TempDir()
	portalCA := newCA(t, dir, "portal-ca", pkix.Name{CommonName: "Bildbote Test Portal CA"})
	leaf := issue(t, portalCA, dir, "portal", testca.Options{}, "127.0.0.1")
	srv := tlsServer(t, leaf)
	bumpCA := newCA(t, dir, "bump-ca", pkix.Name{CommonName: "Klinik Süd TLS-Inspektion", Organization: []string{"Klinik Süd IT"}})
	p := squid.Start(t, squid.Options{Bump: &squid.Bump{CACert: bumpCA.CertFile, CAKey: bumpCA.KeyFile, Trust: portalCA.CertFile}})
	pu, _ := url.Parse(p.URL)
	host := strings.TrimPrefix(srv.URL, "https://")

	_, err := New(Options{Proxy: FixedProxy(pu)}).Get(srv.URL + "/api/v1/communities/bM1X")
	ce, ok := IsCertError(err)
	if !ok {
		t.Fatalf("want a CertError, got %v", err)
	}
	if ce.Host != host || ce.Reason != CertUnknownAuthority || !ce.Inspecting || ce.Issuer != "CN=Klinik Süd TLS-Inspektion, O=Klinik Süd IT" ||
		!strings.Contains(ce.Subject, "CN=127.0.0.1") || ce.Fingerprint == Fingerprint(leaf.Cert.Raw) {
		t.Fatalf("CertError %+v (portal's own fingerprint %s)", ce, Fingerprint(leaf.Cert.Raw))
	}
	if v := transfer.Classify(err); !v.Permanent() || v.Reason != transfer.ReasonTLS {
		t.Fatalf("classified %v", v)
	}
	msg, hint := i18n.Localize(i18n.DE, err)
	for _, want := range []string{host, "CN=Klinik Süd TLS-Inspektion, O=Klinik Süd IT", ce.ShortFingerprint(), "TLS-Inspektion", "ca_bundle"} {
		if !strings.Contains(msg+hint, want) {
			t.Errorf("de: %q missing in %q / %q", want, msg, hint)
		}
	}
	t.Logf("en: %s", strings.Join(func() []string { m, h := i18n.Localize(i18n.EN, err); return []string{m, h} }(), " — "))

	bundle := filepath.Join(dir, "bundle.pem")
	writeCerts(t, bundle, bumpCA.Cert)
	b, err := LoadCABundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, h1 := range []bool{false, true} {
		c := New(Options{Proxy: FixedProxy(pu), TLS: TLS{Roots: b.Pool, HTTP1Only: h1}})
		getOK(t, c, srv.URL+"/api/v1/communities/bM1X")
		c.CloseIdleConnections()
	}
	t.Logf("squid: %s", p.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+srv.URL+"/api/v1/communities/bM1X")[0])
}

// HTTP/1.1 only holds through a proxy's CONNECT tunnel too (our own
// tunnel, connect.go): an HTTP/2 server behind a plain squid sees
// HTTP/2 without the switch and HTTP/1.1 with it.
func TestHTTP1OnlyThroughSquid(t *testing.T) {
	squid.Available(t)
	got := make(chan int, 4)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.ProtoMajor
		io.WriteString(w, "ok")
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = discardLog()
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	p := squid.Start(t, squid.Options{})
	pu, _ := url.Parse(p.URL)
	for _, c := range []struct {
		h1    bool
		major int
	}{{false, 2}, {true, 1}} {
		cl := New(Options{Proxy: FixedProxy(pu), TLS: TLS{Roots: pool, HTTP1Only: c.h1}})
		getOK(t, cl, srv.URL+"/x")
		if m := <-got; m != c.major {
			t.Fatalf("HTTP1Only %v: the server saw HTTP/%d, want HTTP/%d", c.h1, m, c.major)
		}
		cl.CloseIdleConnections() // squid logs a tunnel when it ends
	}
	p.WaitLog(t, 10*time.Second, "TCP_TUNNEL/200", "CONNECT "+strings.TrimPrefix(srv.URL, "https://"))
}
