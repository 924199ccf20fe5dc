package httpclient

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/kdc"
	"github.com/bildbote/bildbote/internal/testkit/squid"
)

// Negotiate (Kerberos) with a user and password through a real squid
// (negotiate_kerberos_auth against its keytab) and a real MIT KDC on
// loopback (internal/testkit/kdc): without a login the 407 stands; a
// wrong password gets no ticket (ProxyAuthError with credentials, the
// password in no message); the right one passes both the CONNECT tunnel
// and a plain http request, logged as anna@BILDBOTE.TEST.
func TestNegotiateThroughSquid(t *testing.T) {
	const realm = "BILDBOTE.TEST"
	k := kdc.Start(t, realm, map[string]string{"anna": "geheim"}, "HTTP/localhost")
	t.Setenv("KRB5_CONFIG", k.Conf)
	t.Setenv("KRB5CCNAME", "FILE:"+filepath.Join(t.TempDir(), "none")) // no tickets of the login
	p := squid.Start(t, squid.Options{Auth: squid.Negotiate,
		Kerberos: &squid.Kerberos{Conf: k.Conf, Keytab: k.Keytab, Principal: "HTTP/localhost@" + realm}})
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls ok") }))
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain ok") }))
	defer plain.Close()
	// the service ticket is for HTTP/<the proxy's name>
	proxyURL := "http://localhost:" + strings.TrimPrefix(p.Addr, "127.0.0.1:")
	client := func(user *url.Userinfo) *http.Client {
		pu, _ := url.Parse(proxyURL)
		pu.User = user
		tr := tlsSrv.Client().Transport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		return New(Options{Transport: tr, Proxy: FixedProxy(pu)})
	}
	get := func(c *http.Client, u string) (string, error) {
		resp, err := c.Get(u)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	var pe *ProxyAuthError
	if _, err := get(client(nil), tlsSrv.URL); !errors.As(err, &pe) || pe.WithCredentials {
		t.Fatalf("without login: %v", err)
	}
	_, err := get(client(url.UserPassword("anna", "verkehrt7")), tlsSrv.URL)
	if !errors.As(err, &pe) || !pe.WithCredentials || strings.Contains(err.Error(), "verkehrt7") {
		t.Fatalf("wrong password: %v", err)
	}
	c := client(url.UserPassword("anna@"+realm, "geheim"))
	for i := 0; i < 2; i++ {
		if body, err := get(c, tlsSrv.URL+"/x"); err != nil || body != "tls ok" {
			t.Fatalf("CONNECT with Kerberos: %q, %v", body, err)
		}
		if body, err := get(c, plain.URL+"/y"); err != nil || body != "plain ok" {
			t.Fatalf("plain http with Kerberos: %q, %v", body, err)
		}
	}
	c.CloseIdleConnections()
	// no krb5.conf: a login is there, but not of the kind the proxy takes
	t.Setenv("KRB5_CONFIG", filepath.Join(t.TempDir(), "missing.conf"))
	_, err = get(client(url.UserPassword("bernd", "x")), tlsSrv.URL)
	if !errors.As(err, &pe) || pe.Unsupported != "Negotiate" {
		t.Fatalf("without krb5.conf: %v", err)
	}
	if m, _ := i18n.Localize(i18n.DE, err); !strings.Contains(m, "einer Art, die Bildbote") || !strings.Contains(m, "(Negotiate)") {
		t.Fatalf("de: %q", m)
	}
	host := strings.TrimPrefix(tlsSrv.URL, "https://")
	t.Logf("squid: %s", p.WaitLog(t, 10*time.Second, "TCP_TUNNEL/200", "CONNECT "+host, "anna@"+realm)[0])
	t.Logf("squid: %s", p.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+plain.URL+"/y", "anna@"+realm)[0])
}

// Negotiate without a user, with the login's own tickets: kinit (MIT
// krb5-user) puts anna's TGT into a file cache ($KRB5CCNAME), and a
// client with no proxy login at all passes the CONNECT tunnel as
// anna@BILDBOTE.TEST; without the cache the 407 stands.
func TestNegotiateFromTicketCache(t *testing.T) {
	const realm = "BILDBOTE.TEST"
	k := kdc.Start(t, realm, map[string]string{"anna": "geheim"}, "HTTP/localhost")
	kinit, err := exec.LookPath("kinit")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kinit (krb5-user) not on PATH")
		}
		t.Skip("kinit (krb5-user) not on PATH")
	}
	t.Setenv("KRB5_CONFIG", k.Conf)
	cache := filepath.Join(t.TempDir(), "cc")
	t.Setenv("KRB5CCNAME", "FILE:"+cache)
	p := squid.Start(t, squid.Options{Auth: squid.Negotiate,
		Kerberos: &squid.Kerberos{Conf: k.Conf, Keytab: k.Keytab, Principal: "HTTP/localhost@" + realm}})
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls ok") }))
	defer tlsSrv.Close()
	pu, _ := url.Parse("http://localhost:" + strings.TrimPrefix(p.Addr, "127.0.0.1:"))
	get := func() (string, error) {
		tr := tlsSrv.Client().Transport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		resp, err := New(Options{Transport: tr, Proxy: FixedProxy(pu)}).Get(tlsSrv.URL + "/k")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	if _, err := get(); !IsProxyAuth(err) {
		t.Fatalf("without tickets: %v", err)
	}
	cmd := exec.Command(kinit, "anna@"+realm)
	cmd.Stdin = strings.NewReader("geheim\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v\n%s", err, out)
	}
	if body, err := get(); err != nil || body != "tls ok" {
		t.Fatalf("with the login's tickets: %q, %v", body, err)
	}
	t.Logf("squid: %s", p.WaitLog(t, 10*time.Second, "TCP_TUNNEL/200", "anna@"+realm)[0])
}
