package httpclient

import (
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/testkit/squid"
)

// closedPort is a loopback port nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestFallbackToSecondProxy: a PAC-style list "PROXY closed; PROXY
// squid; DIRECT" — the first proxy refuses the connection, the request
// goes through the real squid at once (GET, and a POST whose body can be
// sent again), squid's access log shows both; the dead proxy is skipped
// by the next requests without a new try. A streamed body that cannot be
// sent again fails once, and its retry takes squid.
func TestFallbackToSecondProxy(t *testing.T) {
	sq := squid.Start(t, squid.Options{})
	var direct atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Via") == "" {
			direct.Add(1)
		}
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+string(b))
	}))
	defer srv.Close()
	dead, _ := url.Parse("http://" + closedPort(t))
	good, _ := url.Parse(sq.URL)
	var asked atomic.Int32
	fb := NewFallback(func(*http.Request) ([]*url.URL, error) {
		asked.Add(1)
		return []*url.URL{dead, good, nil}, nil
	})
	c := New(Options{Proxy: fb.Proxy})
	fb.Install(c)

	resp, err := c.Get(srv.URL + "/first")
	if err != nil {
		t.Fatalf("GET with the first proxy down: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "GET " {
		t.Errorf("body %q", body)
	}
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+srv.URL+"/first")
	if !fb.Dead(dead) || fb.Dead(good) {
		t.Errorf("dead marks: closed %v, squid %v", fb.Dead(dead), fb.Dead(good))
	}
	ways, _ := fb.Ways(&http.Request{URL: &url.URL{Scheme: "http", Host: "x"}})
	if len(ways) != 3 || ways[0] != good || ways[1] != nil || ways[2] != dead {
		t.Errorf("order after the failure: %v (want squid, DIRECT, then the dead one)", ways)
	}

	resp, err = c.Post(srv.URL+"/post", "text/plain", strings.NewReader("Befund"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "POST Befund" {
		t.Errorf("POST body %q", body)
	}
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "POST "+srv.URL+"/post")

	// A fresh fallback: a body without GetBody cannot be sent twice.
	fb2 := NewFallback(func(*http.Request) ([]*url.URL, error) { return []*url.URL{dead, good}, nil })
	c2 := New(Options{Proxy: fb2.Proxy})
	fb2.Install(c2)
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/stream", io.NopCloser(strings.NewReader("x")))
	if _, err := c2.Do(req); err == nil || !IsProxyConnect(err) {
		t.Fatalf("streamed body through a dead proxy: %v, want the proxy's connect error", err)
	}
	req, _ = http.NewRequest(http.MethodPut, srv.URL+"/stream", io.NopCloser(strings.NewReader("x")))
	resp, err = c2.Do(req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	io.ReadAll(resp.Body) // read before closing, or squid logs TCP_MISS_ABORTED
	resp.Body.Close()
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "PUT "+srv.URL+"/stream")
	if direct.Load() != 0 {
		t.Errorf("%d requests went direct", direct.Load())
	}

	// Every proxy down: DIRECT, the list's last way.
	fb3 := NewFallback(func(*http.Request) ([]*url.URL, error) { return []*url.URL{dead, nil}, nil })
	c3 := New(Options{Proxy: fb3.Proxy})
	fb3.Install(c3)
	resp, err = c3.Get(srv.URL + "/direct")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if direct.Load() != 1 {
		t.Errorf("DIRECT fallback: %d direct requests, want 1", direct.Load())
	}
}

// TestFallbackTunnel: an https target through "PROXY closed; PROXY
// squid" — our own CONNECT tunnel (connect.go) meets the dead proxy
// first; the request goes through squid's tunnel at once.
func TestFallbackTunnel(t *testing.T) {
	sq := squid.Start(t, squid.Options{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tls ok")
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	dead, _ := url.Parse("http://" + closedPort(t))
	good, _ := url.Parse(sq.URL)
	fb := NewFallback(func(*http.Request) ([]*url.URL, error) { return []*url.URL{dead, good}, nil })
	c := New(Options{Proxy: fb.Proxy, TLS: TLS{Roots: roots}})
	fb.Install(c)
	resp, err := c.Get(srv.URL + "/tunnel")
	if err != nil {
		t.Fatalf("https with the first proxy down: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "tls ok" || !fb.Dead(dead) {
		t.Errorf("body %q, dead marked %v", body, fb.Dead(dead))
	}
	c.CloseIdleConnections() // squid logs a tunnel when it closes
	sq.WaitLog(t, 10*time.Second, "TCP_TUNNEL/200", "CONNECT "+strings.TrimPrefix(srv.URL, "https://"))
}
