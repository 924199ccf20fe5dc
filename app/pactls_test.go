package app

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/squid"
	"github.com/bildbote/bildbote/internal/testkit/testca"
)

// TestPACOverHTTPSWithCABundle: the clinic's PAC file on an https server
// whose certificate the clinic's own CA signed, naming a real squid.
// Without the CA bundle the PAC cannot be fetched: the way is DIRECT and
// the problem names the certificate (de/en, the hint says ca_bundle).
// With the bundle — --ca-bundle, the policy's ca_bundle next to its
// proxy_pac (what the MSI writes), or the setting saved on a running
// core — the PAC is fetched and its proxy takes the request (squid logs
// it).
func TestPACOverHTTPSWithCABundle(t *testing.T) {
	clearProxyEnv(t)
	t.Setenv(CABundleEnv, "")
	dir := t.TempDir()
	ca, err := testca.New(dir, "klinik-ca", pkix.Name{CommonName: "Klinik Intern CA", Organization: []string{"Klinik"}}, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(dir, "pac", []string{"127.0.0.1"}, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	sq := squid.Start(t, squid.Options{})
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "via="+r.Header.Get("Via"))
	}))
	defer target.Close()
	var fetched atomic.Int32
	pacSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		io.WriteString(w, `function FindProxyForURL(url, host) { return "PROXY `+sq.Addr+`"; }`)
	}))
	pacSrv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	pacSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	pacSrv.StartTLS()
	defer pacSrv.Close()
	pac := pacSrv.URL + "/proxy.pac"

	through := func(c *Core, path string) {
		t.Helper()
		got := c.Proxy(target.URL)
		if got.Source != ProxyFromPAC || got.URL != sq.URL || got.Problem != nil {
			t.Fatalf("%s: %+v, want the PAC's squid without a problem", path, got)
		}
		resp, err := c.HTTPClient().Get(target.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "squid") {
			t.Errorf("GET %s not through squid: %q", path, b)
		}
		sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+target.URL+path)
	}

	// Without the bundle: DIRECT, and the certificate is the problem.
	c := openCore(t, Config{PolicyPath: writePolicy(t, ""), ProxyPAC: pac})
	got := c.Proxy(target.URL)
	if got.URL != "" || got.Source != ProxyFromPAC || got.Problem == nil {
		t.Fatalf("without the bundle: %+v, want DIRECT with a problem", got)
	}
	en, hint := i18n.Localize(i18n.EN, got.Problem)
	de, deHint := i18n.Localize(i18n.DE, got.Problem)
	host := strings.TrimPrefix(pacSrv.URL, "https://")
	if !strings.Contains(en, "The PAC file "+pac+" could not be loaded: the certificate of "+host+" comes from a certificate authority this computer does not trust") ||
		!strings.Contains(en, "by CN=Klinik Intern CA, O=Klinik") || !strings.Contains(hint, "ca_bundle") {
		t.Errorf("English problem: %q / %q", en, hint)
	}
	if !strings.Contains(de, "Die PAC-Datei "+pac+" konnte nicht geladen werden: Das Zertifikat von "+host+" stammt von einer Zertifizierungsstelle, der dieser Computer nicht vertraut") ||
		!strings.Contains(deHint, "ca_bundle") {
		t.Errorf("German problem: %q / %q", de, deHint)
	}
	if n := fetched.Load(); n != 0 {
		t.Errorf("the PAC server answered %d requests through a refused handshake", n)
	}

	// The setting saved on the running core: the next request fetches
	// the PAC with the bundle (no wait for the 30 s retry).
	if err := c.UpdateSettings(func(s *Settings) { s.CABundle = ca.CertFile }); err != nil {
		t.Fatal(err)
	}
	through(c, "/setting")
	c.Close()

	c = openCore(t, Config{PolicyPath: writePolicy(t, ""), ProxyPAC: pac, CABundle: ca.CertFile})
	through(c, "/flag")
	c.Close()

	policy := writePolicy(t, "proxy_pac = \""+pac+"\"\nca_bundle = \""+ca.CertFile+"\"\n")
	c = openCore(t, Config{PolicyPath: policy})
	through(c, "/policy")
	if info := c.Proxy(target.URL); info.PACFrom != ProxyFromPolicy {
		t.Errorf("PAC from %q, want the policy", info.PACFrom)
	}
	c.Close()
}
