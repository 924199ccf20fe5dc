package portal

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/wire"
)

func TestParseForwarded(t *testing.T) {
	for in, want := range map[string][]map[string]string{
		`for=192.0.2.60;proto=http;by=203.0.113.43`: {{"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"}},
		`For="[2001:db8:cafe::17]:4711"`:            {{"for": "[2001:db8:cafe::17]:4711"}},
		`for="[::1]:1234";Proto=HTTPS;host="portal.example:8443", for=10.0.0.1;proto=http`: {
			{"for": "[::1]:1234", "proto": "HTTPS", "host": "portal.example:8443"},
			{"for": "10.0.0.1", "proto": "http"},
		},
		`for=192.0.2.43, for=198.51.100.17`:  {{"for": "192.0.2.43"}, {"for": "198.51.100.17"}},
		`host="a,b;c", for=1.2.3.4`:          {{"host": "a,b;c"}, {"for": "1.2.3.4"}}, // separators inside quotes
		`for="\"quoted\\\""`:                 {{"for": `"quoted\"`}},
		` , for=unknown ,, for=_hidden ,`:    {{"for": "unknown"}, {"for": "_hidden"}},
		`for=192.0.2.1;,for=192.0.2.2`:       {{"for": "192.0.2.1"}, {"for": "192.0.2.2"}},
		`for=192.0.2.1 ; proto=https ; by=x`: {{"for": "192.0.2.1", "proto": "https", "by": "x"}},
	} {
		got, err := parseForwarded(in)
		if err != nil {
			t.Errorf("parseForwarded(%q): %v", in, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parseForwarded(%q) = %v, want %v", in, got, want)
		}
	}
	for _, bad := range []string{
		`for`, `for=`, `=x`, `for=1;for=2`, `for="unterminated`, "for=\"a\x00b\"", "for=\"a\nb\"",
		`for=a b`, `for=[::1]`, `for=1.2.3.4;proto=https;PROTO=http`, "host=\"\xff\"",
		strings.Repeat("for=1.1.1.1,", maxForwarded+1),
	} {
		if got, err := parseForwarded(bad); err == nil {
			t.Errorf("parseForwarded(%q) = %v, want an error", bad, got)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 127.0.0.1/32, ::1/128,10.0.0.0/8,192.0.2.7,2001:db8::1,::ffff:10.1.0.0/112")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::1/128"), netip.MustParsePrefix("10.1.0.0/16"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", ",", "10.0.0.1/8", "10.0.0.0/33", "localhost", "fe80::1%eth0", "fe80::/10%eth0", "1.2.3.4/", "*"} {
		if p, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) = %v, want an error", bad, p)
		}
	}
}

func TestCheckPublicURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://portal.example":                          "https://portal.example",
		"https://Portal.Example:443/":                     "https://portal.example",
		"http://127.0.0.1:8080":                           "http://127.0.0.1:8080",
		"https://[2001:DB8::1]:8443/portal/":              "https://[2001:db8::1]:8443/portal",
		"https://example.org/a/b-c_d.e~f":                 "https://example.org/a/b-c_d.e~f",
		"https://Bilder.Praxis-Saarbrücken.example:8443/": "https://bilder.praxis-saarbrücken.example:8443",
		"https://bilder.praxis-saarbrücken.example":       "https://bilder.praxis-saarbrücken.example",
		"https://bilder.praxis-saarbrücken.example:443":   "https://bilder.praxis-saarbrücken.example",
	} {
		got, err := CheckPublicURL(in)
		if err != nil || got != want {
			t.Errorf("CheckPublicURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"", "portal.example", "ftp://portal.example", "javascript:alert(1)", "https://user@portal.example",
		"https://portal.example/?x=1", "https://portal.example/#f", "https://portal.example:0", "https://portal.example:65536",
		"https://portal.example/../x", "https://portal.example/a//b", "https://portal.example/%2e%2e", "https://-bad.example",
		"https://bad_host.example", "https://bücher..example", "https://xn--bcher-kva\u00fc.example", "https://b\u202eücher.example", "https://[fe80::1%25eth0]", "https://portal.example/a b",
	} {
		if got, err := CheckPublicURL(bad); err == nil {
			t.Errorf("CheckPublicURL(%q) = %q, want an error", bad, got)
		}
	}
}

// originCase is one request to deriveOrigin.
type originCase struct {
	name    string
	peer    string
	header  http.Header
	host    string
	base    string // want; "" wants errBadForwarded
	client  string // want ("" = the peer's)
	proxies string // default loopback
	public  string
}

func TestDeriveOrigin(t *testing.T) {
	cases := []originCase{
		{name: "no headers", peer: "127.0.0.1:5000", base: "http://127.0.0.1:8080"},
		{name: "untrusted peer's headers are ignored", peer: "192.0.2.9:5000",
			header: hdr("X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "Forwarded", "host=evil.example;proto=https"),
			base:   "http://127.0.0.1:8080"},
		{name: "untrusted peer's hostile headers do not refuse", peer: "192.0.2.9:5000",
			header: hdr("X-Forwarded-Host", "evil/../x", "Forwarded", `host="`), base: "http://127.0.0.1:8080"},
		{name: "nginx X-Forwarded-*", peer: "127.0.0.1:5000",
			header: hdr("X-Forwarded-Proto", "https", "X-Forwarded-Host", "Portal.Example", "X-Forwarded-Port", "443", "X-Forwarded-For", "198.51.100.7"),
			base:   "https://portal.example", client: "198.51.100.7"},
		{name: "X-Forwarded-Port replaces the host's", peer: "127.0.0.1:5000",
			header: hdr("X-Forwarded-Proto", "https", "X-Forwarded-Host", "portal.example:80", "X-Forwarded-Port", "8443"),
			base:   "https://portal.example:8443"},
		{name: "X-Forwarded-Prefix", peer: "[::1]:5000",
			header: hdr("X-Forwarded-Proto", "https", "X-Forwarded-Host", "localhost:9443", "X-Forwarded-Prefix", "/portal/"),
			base:   "https://localhost:9443/portal"},
		{name: "only proto: host from the request", peer: "127.0.0.1:5000", host: "portal.example",
			header: hdr("X-Forwarded-Proto", "https"), base: "https://portal.example"},
		{name: "X-Forwarded lists: the client's forged entry is skipped", peer: "127.0.0.1:5000",
			header: hdr("X-Forwarded-For", "203.0.113.5, 10.0.0.2", "X-Forwarded-Host", "evil.example, portal.example, inner.local",
				"X-Forwarded-Proto", "http, https, http"),
			proxies: "127.0.0.1/32,10.0.0.0/8", base: "https://portal.example", client: "203.0.113.5"},
		{name: "X-Forwarded list shorter than the hops", peer: "127.0.0.1:5000",
			header:  hdr("X-Forwarded-For", "203.0.113.5, 10.0.0.2, 10.0.0.3", "X-Forwarded-Host", "portal.example", "X-Forwarded-Proto", "https"),
			proxies: "127.0.0.1/32,10.0.0.0/8", base: "https://portal.example", client: "203.0.113.5"},
		{name: "Forwarded one hop", peer: "127.0.0.1:5000",
			header: hdr("Forwarded", `for=198.51.100.7;proto=https;host="portal.example"`), base: "https://portal.example", client: "198.51.100.7"},
		{name: "Forwarded beats X-Forwarded-*", peer: "127.0.0.1:5000",
			header: hdr("Forwarded", `proto=https;host=portal.example`, "X-Forwarded-Host", "other.example"), base: "https://portal.example"},
		{name: "Forwarded multiple hops, forged leftmost skipped", peer: "127.0.0.1:5000",
			header:  hdr("Forwarded", `for=6.6.6.6;host=evil.example;proto=http, for="[2001:db8::7]:4711";proto=https;host="portal.example:8443", for=10.1.2.3;proto=http;host=inner`),
			proxies: "127.0.0.0/8,10.0.0.0/8", base: "https://portal.example:8443", client: "2001:db8::7"},
		{name: "Forwarded IPv6 peer and for", peer: "[::1]:40000",
			header: hdr("Forwarded", `for="[::1]:1234";proto=https;host="[2001:db8::1]:443"`), base: "https://[2001:db8::1]"},
		{name: "Forwarded all hops trusted: the leftmost", peer: "127.0.0.1:5000",
			header:  hdr("Forwarded", `for=127.0.0.1;proto=https;host=a.example, for=127.0.0.2;host=b.example`),
			proxies: "127.0.0.0/8", base: "https://a.example"},
		{name: "Forwarded obfuscated client", peer: "127.0.0.1:5000",
			header: hdr("Forwarded", `for=_hidden;proto=https;host=portal.example`), base: "https://portal.example"},
		{name: "Forwarded with several header lines", peer: "127.0.0.1:5000",
			header: http.Header{"Forwarded": {`for=6.6.6.6;host=evil.example`, `for=198.51.100.1;host=portal.example;proto=https`}},
			base:   "https://portal.example", client: "198.51.100.1"},
		{name: "4in6 peer", peer: "[::ffff:127.0.0.1]:5000",
			header: hdr("X-Forwarded-Proto", "https", "X-Forwarded-Host", "portal.example"), base: "https://portal.example"},
		{name: "public URL wins", peer: "127.0.0.1:5000", public: "https://real.example",
			header: hdr("X-Forwarded-Proto", "http", "X-Forwarded-Host", "other.example", "X-Forwarded-For", "198.51.100.7"),
			base:   "https://real.example", client: "198.51.100.7"},
		{name: "public URL wins over a hostile header", peer: "127.0.0.1:5000", public: "https://real.example",
			header: hdr("X-Forwarded-Host", "a@b"), base: "https://real.example"},
	}
	for _, bad := range []http.Header{
		hdr("X-Forwarded-Proto", "javascript"),
		hdr("X-Forwarded-Proto", "ftp"),
		hdr("X-Forwarded-Proto", ""),
		hdr("X-Forwarded-Host", "evil.example/path"),
		hdr("X-Forwarded-Host", "user@evil.example"),
		hdr("X-Forwarded-Host", "evil.example\\x"),
		hdr("X-Forwarded-Host", "evil example"),
		hdr("X-Forwarded-Host", "evil.example:0"),
		hdr("X-Forwarded-Host", "evil.example:65536"),
		hdr("X-Forwarded-Host", "evil.example:1:2"),
		hdr("X-Forwarded-Host", "[::1"),
		hdr("X-Forwarded-Host", "::1"),
		hdr("X-Forwarded-Host", "[fe80::1%eth0]"),
		hdr("X-Forwarded-Host", "evil%2eexample"),
		hdr("X-Forwarded-Host", ""),
		hdr("X-Forwarded-Host", strings.Repeat("a", 64)+".example"),
		hdr("X-Forwarded-Port", "-1"),
		hdr("X-Forwarded-Port", "99999"),
		hdr("X-Forwarded-Port", "+443"),
		hdr("X-Forwarded-Port", "http"),
		hdr("X-Forwarded-Prefix", "portal"),
		hdr("X-Forwarded-Prefix", "/../admin"),
		hdr("X-Forwarded-Prefix", "//evil.example"),
		hdr("X-Forwarded-Prefix", "/a?b"),
		hdr("X-Forwarded-Prefix", "/a%2fb"),
		hdr("X-Forwarded-Prefix", "/a\"><script>"),
		hdr("Forwarded", `proto=gopher`),
		hdr("Forwarded", `host="evil.example/x"`),
		hdr("Forwarded", `host="a\"b"`),
		hdr("Forwarded", `host=`),
		hdr("Forwarded", `for=1.2.3.4;for=5.6.7.8`),
		hdr("Forwarded", `host="unterminated`),
	} {
		cases = append(cases, originCase{name: "hostile " + bad.Get(firstKey(bad)), peer: "127.0.0.1:5000", header: bad})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proxies := c.proxies
			if proxies == "" {
				proxies = "127.0.0.1/32,::1/128"
			}
			tp, err := ParseTrustedProxies(proxies)
			if err != nil {
				t.Fatal(err)
			}
			s := &Server{cfg: Config{TrustedProxies: tp, LocalURL: "http://127.0.0.1:8080", PublicURL: c.public}}
			r, _ := http.NewRequest("GET", "http://x/", nil)
			r.RemoteAddr, r.Header, r.Host = c.peer, c.header, c.host
			if r.Header == nil {
				r.Header = http.Header{}
			}
			if r.Host == "" {
				r.Host = "127.0.0.1:8080"
			}
			o, err := s.deriveOrigin(r)
			if c.base == "" {
				if !errors.Is(err, errBadForwarded) {
					t.Fatalf("got %+v, %v; want errBadForwarded", o, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.base != c.base || o.client != c.client {
				t.Fatalf("got base %q client %q, want %q %q", o.base, o.client, c.base, c.client)
			}
		})
	}
}

func firstKey(h http.Header) string {
	for k := range h {
		return k
	}
	return ""
}

// TestPublicURLsOverHTTP: api_info, the code page and the tus Location
// of a real portal follow a trusted proxy's headers, ignore the same
// headers from an untrusted peer, and a hostile one is a 400.
func TestPublicURLsOverHTTP(t *testing.T) {
	for _, tc := range []struct {
		proxies string
		want    string
	}{
		{"127.0.0.1/32,::1/128", "https://portal.example:8443/portal"},
		{"192.0.2.0/24", ""}, // the test client on 127.0.0.1 is not trusted
	} {
		t.Run(tc.proxies, func(t *testing.T) {
			tp, _ := ParseTrustedProxies(tc.proxies)
			p := startPortal(t, t.TempDir(), func(c *Config) { c.TrustedProxies = tp })
			want := tc.want
			if want == "" {
				want = p.ts.URL
			}
			fwd := hdr("X-Forwarded-Proto", "https", "X-Forwarded-Host", "portal.example", "X-Forwarded-Port", "8443", "X-Forwarded-Prefix", "/portal/")
			resp, body := p.do("GET", "/dlx/v1/api_info", fwd, nil)
			var info apiInfo
			if err := json.Unmarshal(body, &info); err != nil || resp.StatusCode != 200 {
				t.Fatalf("api_info: %d %s", resp.StatusCode, body)
			}
			if info.APIBasePath != want+DLXBasePath {
				t.Fatalf("apiBasePath %q, want %q", info.APIBasePath, want+DLXBasePath)
			}
			_, page := p.do("GET", "/c?token=x", fwd, nil)
			if !strings.Contains(string(page), want+DLXBasePath) {
				t.Fatalf("the code page does not name %s: %s", want+DLXBasePath, page)
			}
			p.addCommunity("bM1X", 1<<20, "")
			env := []byte("age-encryption.org/v1 pretend")
			h := hdr("Tus-Resumable", "1.0.0", "Upload-Length", "29",
				"Upload-Metadata", tusMetadata("community", "bM1X", "sha256", sha(env), "filename", "CD.zip.age"))
			for k, v := range fwd {
				h[k] = v
			}
			resp, body = p.do("POST", wire.UploadsPath, h, nil)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != 201 || !strings.HasPrefix(loc, want+wire.UploadsPath) {
				t.Fatalf("create: %d %q %s; want Location under %s", resp.StatusCode, loc, body, want+wire.UploadsPath)
			}
			if id := strings.TrimPrefix(loc, want+wire.UploadsPath); id == "" || strings.ContainsAny(id, "/?#") {
				t.Fatalf("Location %q: no plain upload ID", loc)
			}
			// The mux's redirect (no trailing slash) keeps the prefix.
			req, _ := http.NewRequest("GET", p.ts.URL+strings.TrimSuffix(wire.UploadsPath, "/"), nil)
			for k, v := range fwd {
				req.Header[k] = v
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if (resp.StatusCode != http.StatusMovedPermanently && resp.StatusCode != http.StatusTemporaryRedirect) || resp.Header.Get("Location") != want+wire.UploadsPath {
				t.Fatalf("redirect: %d %q, want %s", resp.StatusCode, resp.Header.Get("Location"), want+wire.UploadsPath)
			}
			// Hostile values: refused from a trusted peer, ignored otherwise.
			resp, body = p.do("GET", "/dlx/v1/api_info", hdr("X-Forwarded-Host", "evil.example/x"), nil)
			if tc.want != "" && (resp.StatusCode != 400 || !strings.Contains(string(body), "bad-forwarded")) {
				t.Fatalf("hostile host from a trusted peer: %d %s", resp.StatusCode, body)
			}
			if tc.want == "" && (resp.StatusCode != 200 || strings.Contains(string(body), "evil")) {
				t.Fatalf("hostile host from an untrusted peer: %d %s", resp.StatusCode, body)
			}
		})
	}
}

// FuzzDeriveOrigin: whatever a trusted proxy sends, a derived origin
// passes the same strict check as a configured --public-url (scheme,
// host, port, path and nothing else), and an untrusted peer's headers
// never change it.
func FuzzDeriveOrigin(f *testing.F) {
	f.Add(`for=198.51.100.7;proto=https;host="portal.example"`, "https", "portal.example", "443", "/portal/", "1.2.3.4, 10.0.0.1")
	f.Add(`for="[::1]:1234";host="[2001:db8::1]:8443"`, "", "", "", "", "")
	f.Add(``, "http, https", "a.example, b.example", "80", "/", "unknown")
	f.Add(`host="a\"b";proto=https`, "HTTPS", "x.example:99", "8080", "/a/./b", "::1")
	f.Add(`for=_x, for=127.0.0.1;host=y.example`, "https", "evil.example/x@y", "0", "//x", "")
	tp, _ := ParseTrustedProxies("127.0.0.1/32,::1/128,10.0.0.0/8")
	s := &Server{cfg: Config{TrustedProxies: tp, LocalURL: "http://127.0.0.1:8080"}}
	f.Fuzz(func(t *testing.T, fwd, proto, host, port, prefix, xff string) {
		h := http.Header{}
		for k, v := range map[string]string{"Forwarded": fwd, "X-Forwarded-Proto": proto, "X-Forwarded-Host": host,
			"X-Forwarded-Port": port, "X-Forwarded-Prefix": prefix, "X-Forwarded-For": xff} {
			if v != "" {
				h.Set(k, v)
			}
		}
		r := &http.Request{Method: "GET", Header: h, Host: "127.0.0.1:8080", RemoteAddr: "127.0.0.1:4000", URL: &url.URL{Path: "/"}}
		o, err := s.deriveOrigin(r)
		if err == nil {
			if got, cerr := CheckPublicURL(o.base); cerr != nil || got != o.base {
				t.Fatalf("derived %q fails the public URL check: %q %v", o.base, got, cerr)
			}
			if strings.ContainsAny(o.base, "\"'<>\\ \t\r\n@?#%") {
				t.Fatalf("derived %q holds a byte a URL must not", o.base)
			}
			if o.client != "" {
				if _, perr := netip.ParseAddr(o.client); perr != nil {
					t.Fatalf("client %q is no IP address", o.client)
				}
			}
		} else if !errors.Is(err, errBadForwarded) {
			t.Fatalf("error %v is not errBadForwarded", err)
		}
		r.RemoteAddr = "192.0.2.1:4000"
		if o, err := s.deriveOrigin(r); err != nil || o.base != "http://127.0.0.1:8080" || o.client != "" {
			t.Fatalf("untrusted peer: %+v %v", o, err)
		}
	})
}
