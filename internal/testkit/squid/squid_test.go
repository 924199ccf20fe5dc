package squid

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestProxyAndLogin: a request to a loopback server passes through squid
// and lands in its access log; with Users, 407 without a login, the
// right login passes, a wrong one is 407 again.
func TestProxyAndLogin(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") }))
	defer srv.Close()
	get := func(p *Proxy, user *url.Userinfo) int {
		pu, _ := url.Parse(p.URL)
		pu.User = user
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 20 * time.Second}
		resp, err := c.Get(srv.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) // else squid may log TCP_MISS_ABORTED
		resp.Body.Close()
		return resp.StatusCode
	}
	open := Start(t, Options{})
	if c := get(open, nil); c != 200 {
		t.Fatalf("through open squid: %d", c)
	}
	open.WaitLog(t, 10*time.Second, "GET "+srv.URL+"/x", "TCP_MISS/200")

	auth := Start(t, Options{Users: map[string]string{"anna": "geh eim"}})
	if c := get(auth, nil); c != 407 {
		t.Fatalf("without login: %d, want 407", c)
	}
	if c := get(auth, url.UserPassword("anna", "wrong")); c != 407 {
		t.Fatalf("wrong login: %d, want 407", c)
	}
	if c := get(auth, url.UserPassword("anna", "geh eim")); c != 200 {
		t.Fatalf("right login: %d, want 200", c)
	}
	lines := auth.WaitLog(t, 10*time.Second, "GET "+srv.URL+"/x", "/200", " anna ")
	t.Logf("access.log: %s", lines[0])
	auth.WaitLog(t, 10*time.Second, "TCP_DENIED/407")
	if strings.Contains(auth.Log(), "geh eim") {
		t.Fatal("password in squid's log")
	}
}
