package httpclient

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/squid"
	"github.com/bildbote/bildbote/transfer"
)

// RFC 7616 section 3.9.1: the example's responses for MD5 and SHA-256.
func TestDigestRFC7616Vectors(t *testing.T) {
	for alg, want := range map[string]string{
		"MD5":     "8ca523f5e9506fed4657c9700eebdbec",
		"SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
	} {
		chs := parseChallenges([]string{`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=` + alg +
			`, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`})
		if len(chs) != 1 || chs[0].scheme != "digest" {
			t.Fatalf("%s: parsed %+v", alg, chs)
		}
		d, err := parseDigest(chs[0].params)
		if err != nil {
			t.Fatal(err)
		}
		got := d.response("Mufasa", "Circle of Life", "GET", "/dir/index.html", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", 1)
		if got != want {
			t.Errorf("%s: response %s, want %s", alg, got, want)
		}
		h := d.header("Mufasa", "Circle of Life", "GET", "/dir/index.html", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", 1)
		for _, part := range []string{`username="Mufasa"`, "algorithm=" + alg, `response="` + want + `"`, "nc=00000001", "qop=auth,", `opaque="FQhe`} {
			if !strings.Contains(h, part) {
				t.Errorf("%s: header %q lacks %q", alg, h, part)
			}
		}
	}
}

func TestParseChallenges(t *testing.T) {
	chs := parseChallenges([]string{
		`Negotiate, NTLM`,
		`Basic realm="a, b", Digest realm="x", nonce="n=", qop="auth", stale=TRUE`,
		`NTLM TlRMTVNTUAACAAAACQAJAK6qqqoGgggA4h1OpF4dHfQAAAAAAAA6AFdPUktHUk9VUA==`,
	})
	var got []string
	for _, c := range chs {
		got = append(got, c.scheme+"|"+c.token+"|"+c.params["realm"]+"|"+c.params["stale"])
	}
	want := []string{"negotiate|||", "ntlm|||", "basic||a, b|", "digest||x|TRUE", "ntlm|TlRMTVNTUAACAAAACQAJAK6qqqoGgggA4h1OpF4dHfQAAAAAAAA6AFdPUktHUk9VUA==||"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Through a real squid with Basic, Digest (digest_file_auth) and NTLM
// (ntlm_fake_auth: the real type 1/2/3 handshake, any password): an
// https request to a loopback server through our CONNECT tunnel and a
// plain http request; 407 without a login (translated, kind input),
// a wrong password refused (Basic, Digest; the password in no message),
// the right login passes, and squid's access log shows the user.
func TestProxyLoginThroughSquid(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls ok") }))
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, "plain ok "+string(b))
	}))
	defer plain.Close()
	for _, scheme := range []string{squid.Basic, squid.Digest, squid.NTLM} {
		t.Run(scheme, func(t *testing.T) {
			p := squid.Start(t, squid.Options{Auth: scheme, Users: map[string]string{"anna": "geheim"}})
			client := func(user *url.Userinfo) *http.Client {
				pu, _ := url.Parse(p.URL)
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
				if resp.StatusCode != 200 {
					return "", errors.New(resp.Status)
				}
				return string(b), nil
			}
			for _, target := range []string{tlsSrv.URL + "/x", plain.URL + "/y"} {
				_, err := get(client(nil), target)
				var pe *ProxyAuthError
				if !errors.As(err, &pe) || pe.WithCredentials || pe.Proxy != p.URL {
					t.Fatalf("%s without login: %v", target, err)
				}
				ue, ok := i18n.AsUserError(err)
				if !ok || ue.Kind != i18n.KindInput || strings.Contains(ue.Message(i18n.DE), "transfer.net") {
					t.Fatalf("not a translated input error: %v", err)
				}
				if scheme != squid.NTLM {
					_, err = get(client(url.UserPassword("anna", "verkehrt7")), target)
					if !errors.As(err, &pe) || !pe.WithCredentials {
						t.Fatalf("%s with a wrong password: %v", target, err)
					}
					for _, l := range i18n.Langs {
						if m, _ := i18n.Localize(l, err); strings.Contains(m, "verkehrt7") || strings.Contains(err.Error(), "verkehrt7") {
							t.Fatalf("the password in the message: %q", m)
						}
					}
				}
			}
			c := client(url.UserPassword(`KLINIK\anna`, "geheim"))
			if scheme != squid.NTLM {
				c = client(url.UserPassword("anna", "geheim"))
			}
			// twice each: the second request answers pre-emptively (Basic,
			// Digest with nc 2) or rides the authenticated connection (NTLM)
			for i := 0; i < 2; i++ {
				if body, err := get(c, tlsSrv.URL+"/x"); err != nil || body != "tls ok" {
					t.Fatalf("CONNECT with the login: %q, %v", body, err)
				}
				if body, err := get(c, plain.URL+"/y2"); err != nil || body != "plain ok " {
					t.Fatalf("plain http with the login: %q, %v", body, err)
				}
			}
			if scheme == squid.Basic {
				// nothing listens there: squid's 503 is a transient, translated refusal
				_, err := get(c, "https://127.0.0.1:1/")
				var ce *ProxyConnectError
				if !errors.As(err, &ce) || ce.Status != http.StatusServiceUnavailable || transfer.Classify(err).Class != transfer.Transient {
					t.Fatalf("CONNECT to a closed port: %v", err)
				}
				if m, _ := i18n.Localize(i18n.DE, err); !strings.Contains(m, "konnte keine Verbindung zu 127.0.0.1:1 aufbauen") {
					t.Fatalf("de: %q", m)
				}
			}
			// a body that can be sent again (GetBody) passes too
			resp, err := c.Post(plain.URL+"/z", "text/plain", strings.NewReader("hallo"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "plain ok hallo" {
				t.Fatalf("POST: %q", b)
			}
			c.CloseIdleConnections() // squid logs a tunnel when it ends
			host := strings.TrimPrefix(tlsSrv.URL, "https://")
			t.Logf("squid: %s", p.WaitLog(t, 10*time.Second, "TCP_TUNNEL/200", "CONNECT "+host, "anna")[0])
			t.Logf("squid: %s", p.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+plain.URL+"/y2", "anna")[0])
			p.WaitLog(t, 10*time.Second, "TCP_MISS/200", "POST "+plain.URL+"/z", "anna")
			p.WaitLog(t, 10*time.Second, "TCP_DENIED/407", "CONNECT "+host)
			// Basic, Digest: the CONNECT learnt the scheme, the plain
			// requests answer pre-emptively; NTLM: the plain connection's
			// own handshake (two 407s), then the POST rides it.
			n, want := len(p.Lines("TCP_DENIED/407", plain.URL+"/y2")), 0
			if scheme == squid.NTLM {
				want = 2
			}
			if n != want || len(p.Lines("TCP_DENIED/407", plain.URL+"/z")) != 0 {
				t.Errorf("%d 407s for the plain requests of the right login, want %d:\n%s", n, want, p.Log())
			}
		})
	}
}

// Digest with a nonce squid accepts only twice: a later request gets
// 407 stale=true. A request without a second body (a tus PATCH) is then
// a transient *ProxyChallengeError, and sent again it passes; a GET or
// a body with GetBody is answered at once.
func TestDigestStaleNonce(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, "ok "+string(b))
	}))
	defer plain.Close()
	p := squid.Start(t, squid.Options{Auth: squid.Digest, Users: map[string]string{"anna": "geheim"}, NonceMaxCount: 2})
	pu, _ := url.Parse(p.URL)
	pu.User = url.UserPassword("anna", "geheim")
	c := New(Options{Proxy: FixedProxy(pu)})
	do := func(body io.Reader, replay bool) (string, error) {
		req, _ := http.NewRequest(http.MethodPatch, plain.URL+"/p", nil)
		if body != nil {
			req.Body = io.NopCloser(body)
			req.ContentLength = 4
			if replay {
				req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("data")), nil }
			}
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	var challenged, passed int
	for i := 0; i < 8; i++ {
		got, err := do(&onlyReader{r: bytes.NewReader([]byte("data"))}, false)
		var ce *ProxyChallengeError
		switch {
		case errors.As(err, &ce):
			if transfer.Classify(err).Class != transfer.Transient {
				t.Fatalf("not transient: %v", err)
			}
			challenged++
		case err != nil || got != "ok data":
			t.Fatalf("PATCH %d: %q, %v", i, got, err)
		default:
			passed++
		}
	}
	// the first (no nonce yet) and one after every two uses were challenged
	if challenged < 3 || passed < 4 {
		t.Fatalf("%d challenged, %d passed", challenged, passed)
	}
	for i := 0; i < 5; i++ {
		if got, err := do(strings.NewReader("data"), true); err != nil || got != "ok data" {
			t.Fatalf("replayable PATCH %d: %q, %v", i, got, err)
		}
		if got, err := do(nil, false); err != nil || got != "ok " {
			t.Fatalf("empty PATCH %d: %q, %v", i, got, err)
		}
	}
	t.Logf("%d challenged, %d passed; stale 407s: %d", challenged, passed, len(p.Lines("TCP_DENIED/407", "PATCH")))
}

// onlyReader hides a bytes.Reader's type so net/http cannot replay it.
type onlyReader struct{ r io.Reader }

func (o *onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// A proxy change between two https requests to the same target: the
// second goes through the new route (net/http pools a tunnel under the
// target's address alone; without routeChanged the idle direct
// connection would carry it past the proxy).
func TestProxyChangeNewRoute(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	p := squid.Start(t, squid.Options{})
	pu, _ := url.Parse(p.URL)
	var via atomic.Pointer[url.URL]
	tr := srv.Client().Transport.(*http.Transport).Clone()
	c := New(Options{Transport: tr, Proxy: func(*http.Request) (*url.URL, error) { return via.Load(), nil }})
	get := func() {
		t.Helper()
		resp, err := c.Get(srv.URL + "/r")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get() // direct: the connection stays idle in the pool
	via.Store(pu)
	get()
	c.CloseIdleConnections()
	p.WaitLog(t, 10*time.Second, "TCP_TUNNEL/200", "CONNECT "+strings.TrimPrefix(srv.URL, "https://"))
}

// Digest from 12 connections at once, 96 requests sharing nonces: the nc
// of one nonce reaches squid out of order and squid invalidates nonces
// (407 stale=true); such a refusal is sent again with a fresh nonce, so
// every request passes. A wrong password still ends in *ProxyAuthError
// for each.
func TestDigestConcurrent(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer plain.Close()
	p := squid.Start(t, squid.Options{Auth: squid.Digest, Users: map[string]string{"anna": "geheim"}})
	run := func(pw string) (ok, refused, other int) {
		pu, _ := url.Parse(p.URL)
		pu.User = url.UserPassword("anna", pw)
		c := New(Options{Proxy: FixedProxy(pu)})
		defer c.CloseIdleConnections()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for g := 0; g < 12; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 8; i++ {
					resp, err := c.Get(plain.URL + "/c")
					mu.Lock()
					switch {
					case err == nil && resp.StatusCode == 200:
						ok++
					case IsProxyAuth(err):
						refused++
					default:
						other++
						t.Logf("other: %v", err)
					}
					mu.Unlock()
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}()
		}
		wg.Wait()
		return
	}
	if ok, refused, other := run("geheim"); ok != 96 {
		t.Fatalf("right login: %d ok, %d refused, %d other", ok, refused, other)
	}
	t.Logf("refused out-of-order answers retried: %d 407s with anna", len(p.Lines("TCP_DENIED/407", " anna ")))
	if ok, refused, other := run("verkehrt7"); refused != 96 {
		t.Fatalf("wrong login: %d ok, %d refused, %d other", ok, refused, other)
	}
}
