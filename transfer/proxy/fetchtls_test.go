package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/testkit/testca"
	"github.com/bildbote/bildbote/transfer/httpclient"
)

const tlsPAC = `function FindProxyForURL(u, h) { return "PROXY pac-proxy.klinik.example:3128"; }`

// clinicCA is a clinic's own CA and a server certificate of it for hosts,
// with the CA bundle a core would load (the OS store plus the CA).
func clinicCA(t *testing.T, hosts ...string) (tls.Certificate, httpclient.TLS) {
	t.Helper()
	dir := t.TempDir()
	ca, err := testca.New(dir, "klinik-ca", pkix.Name{CommonName: "Klinik Intern CA", Organization: []string{"Klinik"}}, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(dir, "pac", hosts, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	b, err := httpclient.LoadCABundle(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	return cert, httpclient.TLS{Roots: b.Pool}
}

// TestPACOverHTTPSWithCABundle: a PAC file on an https server whose
// certificate a clinic's own CA signed. Without the CA bundle the fetch
// fails with the certificate error (unknown authority, the server's
// certificate named); with the bundle as Loader.TLS the script loads and
// answers; the size bound holds over https as well; a TLS function is
// asked at each fetch (a bundle configured later holds for the next one).
func TestPACOverHTTPSWithCABundle(t *testing.T) {
	cert, withBundle := clinicCA(t, "127.0.0.1")
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/big.pac" {
			w.Write([]byte(strings.Repeat("//", 4096)))
			return
		}
		w.Header().Set("Content-Type", "application/x-ns-proxy-autoconfig")
		w.Write([]byte(tlsPAC))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	ctx := context.Background()

	var pe *PACError
	_, err := NewLoader(srv.URL+"/proxy.pac", Options{}).Get(ctx)
	ce, isCert := httpclient.IsCertError(err)
	if !asPAC(err, &pe) || pe.Op != "fetch" || !isCert || ce.Reason != httpclient.CertUnknownAuthority ||
		!strings.Contains(ce.Issuer, "Klinik Intern CA") {
		t.Fatalf("without the bundle: %v, want a fetch failure with the certificate error", err)
	}

	var trust atomic.Pointer[httpclient.TLS]
	trust.Store(&httpclient.TLS{}) // the OS store alone, for now
	l := NewLoader(srv.URL+"/proxy.pac", Options{})
	l.TLS = func() httpclient.TLS { return *trust.Load() }
	if _, err := l.Get(ctx); !errors.As(err, &ce) {
		t.Fatalf("TLS function without the bundle: %v", err)
	}
	trust.Store(&withBundle)
	l.mu.Lock()
	l.fetched = time.Now().Add(-RetryBroken) // the retry is due
	l.mu.Unlock()
	pac, err := l.Get(ctx)
	if err != nil {
		t.Fatalf("with the bundle: %v", err)
	}
	es, err := pac.FindProxy(&url.URL{Scheme: "https", Host: "portal.example"})
	if err != nil || len(es) != 1 || es[0].Addr != "pac-proxy.klinik.example:3128" {
		t.Errorf("script over https: %v %v", es, err)
	}
	if l.Found() != srv.URL+"/proxy.pac" {
		t.Errorf("found %q", l.Found())
	}

	big := NewLoader(srv.URL+"/big.pac", Options{MaxScript: 1024})
	big.TLS = l.TLS
	if _, err := big.Get(ctx); !asPAC(err, &pe) || pe.Op != "size" || pe.Limit != 1024 {
		t.Errorf("size bound over https: %v", err)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("the server saw %d requests, want 2 (the refused handshakes sent none)", n)
	}
}

// TestWPADRedirectToHTTPS: wpad.dat on the clinic's web server answers
// with a redirect to its https address, whose certificate the clinic's
// CA signed (one loopback port serves both, as the WPAD port replaces
// every port). Without the bundle discovery finds nothing and names the
// certificate error; with it (Loader.TLS, handed to the WPAD) the PAC is
// found.
func TestWPADRedirectToHTTPS(t *testing.T) {
	cert, withBundle := clinicCA(t, "wpad.klinik.example.de")
	mux := http.NewServeMux()
	mux.HandleFunc("/wpad.dat", func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Redirect(w, r, "https://wpad.klinik.example.de/proxy.pac", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	})
	mux.HandleFunc("/proxy.pac", func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "https only", http.StatusForbidden)
			return
		}
		w.Write([]byte(tlsPAC))
	})
	port := serveHTTPAndTLS(t, mux, &tls.Config{Certificates: []tls.Certificate{cert}})
	dns := &recDNS{table: map[string][]string{"wpad.klinik.example.de": {"127.0.0.1"}}}
	w := &WPAD{Domains: []string{"klinik.example.de"}, Resolver: dns, Port: port}

	_, _, err := w.Discover(context.Background())
	if _, isCert := httpclient.IsCertError(err); !IsNoWPAD(err) || !isCert {
		t.Fatalf("without the bundle: %v, want no WPAD with the certificate error", err)
	}
	l := &Loader{WPAD: w, TLS: func() httpclient.TLS { return withBundle }}
	pac, err := l.Get(context.Background())
	if err != nil {
		t.Fatalf("with the bundle: %v", err)
	}
	es, err := pac.FindProxy(&url.URL{Scheme: "https", Host: "portal.example"})
	if err != nil || len(es) != 1 || es[0].Addr != "pac-proxy.klinik.example:3128" || l.Found() != "http://wpad.klinik.example.de/wpad.dat" {
		t.Errorf("WPAD over https: %v %v, found %q", es, err, l.Found())
	}
	if w.TLS != nil {
		t.Error("the Loader changed its WPAD")
	}
}

// serveHTTPAndTLS serves h on one loopback port, plain HTTP and TLS
// alike (a connection starting with a TLS handshake record is TLS), and
// returns the port.
func serveHTTPAndTLS(t *testing.T, h http.Handler, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(&sniffListener{Listener: ln, cfg: cfg})
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

type sniffListener struct {
	net.Listener
	cfg *tls.Config
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	c.SetReadDeadline(time.Time{})
	pc := &peekedConn{Conn: c, r: br}
	if err == nil && first[0] == 0x16 { // TLS handshake record
		return tls.Server(pc, l.cfg), nil
	}
	return pc, nil
}

// peekedConn reads what Accept peeked first.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
