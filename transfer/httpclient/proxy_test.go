package httpclient

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/squid"
)

func TestParseProxy(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:3128":   "http://127.0.0.1:3128",
		"proxy.klinik.local:8080": "http://proxy.klinik.local:8080",
		"http://proxy:3128/":      "http://proxy:3128",
		"https://proxy:443":       "https://proxy:443",
	} {
		u, err := ParseProxy(in)
		if err != nil || u.String() != want {
			t.Errorf("ParseProxy(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, in := range []string{"", "socks5://p:1080", "http://", "http://anna:geheim@proxy:3128", "http://proxy:3128/pac?x=1", "ftp://p"} {
		_, err := ParseProxy(in)
		if err == nil {
			t.Errorf("ParseProxy(%q) accepted", in)
		} else if strings.Contains(err.Error(), "geheim") {
			t.Errorf("ParseProxy(%q): the password in the error: %v", in, err)
		}
	}
}

// A fixed proxy takes loopback requests too (Go's environment proxy does
// not), sends its login as Basic, and a 407 is a translated
// *ProxyAuthError naming the proxy without the password.
func TestFixedProxyLoopbackAnd407(t *testing.T) {
	var seen atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.String())
		if r.Header.Get("Proxy-Authorization") != "Basic YW5uYTpnZWhlaW0=" { // anna:geheim
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusProxyAuthRequired)
			io.WriteString(w, "login")
			return
		}
		io.WriteString(w, "via proxy")
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	get := func(u *url.URL) (string, error) {
		c := New(Options{Proxy: FixedProxy(u)})
		resp, err := c.Get("http://127.0.0.1:1/x")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	_, err := get(pu)
	var pe *ProxyAuthError
	if !errors.As(err, &pe) || pe.WithCredentials || pe.Proxy != proxy.URL {
		t.Fatalf("without login: %v (%#v)", err, pe)
	}
	if seen.Load() != "http://127.0.0.1:1/x" {
		t.Fatalf("loopback request did not reach the proxy: %v", seen.Load())
	}
	ue, ok := i18n.AsUserError(err)
	if !ok || ue.Kind != i18n.KindInput {
		t.Fatalf("not a user error of kind input: %v", err)
	}
	for _, l := range i18n.Langs {
		if m := ue.Message(l); strings.Contains(m, "transfer.net") || !strings.Contains(m, proxy.URL) {
			t.Errorf("%s: %q", l, m)
		}
	}
	wrong := *pu
	wrong.User = url.UserPassword("anna", "falsch")
	if _, err := get(&wrong); !errors.As(err, &pe) || !pe.WithCredentials || strings.Contains(err.Error(), "falsch") {
		t.Fatalf("wrong login: %v", err)
	}
	right := *pu
	right.User = url.UserPassword("anna", "geheim")
	if body, err := get(&right); err != nil || body != "via proxy" {
		t.Fatalf("right login: %q, %v", body, err)
	}
}

// Through a real squid: an https request tunnels (CONNECT) to a loopback
// server; with a login required, the refused CONNECT is a
// *ProxyAuthError too, and the right login passes.
func TestConnectThroughSquid(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls ok") }))
	defer srv.Close()
	p := squid.Start(t, squid.Options{Users: map[string]string{"anna": "geheim"}})
	get := func(user *url.Userinfo) (string, error) {
		pu, _ := url.Parse(p.URL)
		pu.User = user
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.Proxy = FixedProxy(pu)
		defer tr.CloseIdleConnections() // squid logs a tunnel when it ends
		resp, err := New(Options{Transport: tr, Proxy: tr.Proxy}).Get(srv.URL + "/x")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	_, err := get(nil)
	var pe *ProxyAuthError
	if !errors.As(err, &pe) || pe.WithCredentials || pe.Proxy != p.URL {
		t.Fatalf("CONNECT without login: %v", err)
	}
	if _, err := get(url.UserPassword("anna", "falsch")); !errors.As(err, &pe) || !pe.WithCredentials {
		t.Fatalf("CONNECT with a wrong login: %v", err)
	}
	if body, err := get(url.UserPassword("anna", "geheim")); err != nil || body != "tls ok" {
		t.Fatalf("CONNECT with the login: %q, %v", body, err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	t.Logf("squid: %s", p.WaitLog(t, 10*time.Second, "TCP_TUNNEL/200", "CONNECT "+host, " anna ")[0])
	p.WaitLog(t, 10*time.Second, "TCP_DENIED/407", "CONNECT "+host)
}
