package squid

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/testkit/testca"
)

// A bumping squid shows its own certificate for the origin (signed by
// the test's inspecting CA), trusts the origin's CA itself, and logs the
// requests inside the tunnel with method and https:// URL.
func TestBump(t *testing.T) {
	BumpAvailable(t)
	dir := t.TempDir()
	portalCA, err := testca.New(dir, "portal-ca", pkix.Name{CommonName: "Test Portal CA"}, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := portalCA.Issue(dir, "portal", []string{"127.0.0.1"}, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bumpCA, err := testca.New(dir, "bump-ca", pkix.Name{CommonName: "Klinik TLS-Inspektion CA", Organization: []string{"Klinik Süd IT"}}, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()

	p := Start(t, Options{Bump: &Bump{CACert: bumpCA.CertFile, CAKey: bumpCA.KeyFile, Trust: portalCA.CertFile}})
	pu, _ := url.Parse(p.URL)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: bumpCA.Pool()},
	}}
	resp, err := client.Post(srv.URL+"/api/v1/uploads/", "text/plain", strings.NewReader("hallo"))
	if err != nil {
		t.Fatalf("through the bumping squid: %v\n%s", err, p.logs())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "POST /api/v1/uploads/ hallo" {
		t.Fatalf("answer %q", body)
	}
	seen := resp.TLS.PeerCertificates[0]
	if seen.Issuer.CommonName != "Klinik TLS-Inspektion CA" || seen.Equal(leaf.Cert) {
		t.Fatalf("the client saw %s issued by %s, not squid's certificate", seen.Subject, seen.Issuer)
	}
	if !strings.Contains(seen.Subject.CommonName, "127.0.0.1") {
		t.Errorf("squid's certificate is for %q", seen.Subject.CommonName)
	}
	p.WaitLog(t, 10*time.Second, "TCP_MISS/200", "POST "+srv.URL+"/api/v1/uploads/")

	// A client that trusts only the portal's CA refuses squid's
	// certificate: that is what an inspecting proxy looks like.
	strict := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: portalCA.Pool()},
	}}
	if _, err := strict.Get(srv.URL + "/"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("squid's certificate was accepted without its CA: %v", err)
	}
}
