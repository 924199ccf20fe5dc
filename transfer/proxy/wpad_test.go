package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWPADHosts(t *testing.T) {
	for _, c := range []struct {
		domains []string
		want    []string
	}{
		{[]string{"radiologie.klinik-sued.de"}, []string{"wpad.radiologie.klinik-sued.de", "wpad.klinik-sued.de"}},
		{[]string{"a.b.nhs.co.uk"}, []string{"wpad.a.b.nhs.co.uk", "wpad.b.nhs.co.uk", "wpad.nhs.co.uk"}},
		{[]string{"klinik.de", "KLINIK.de.", "praxis.example.com"}, []string{"wpad.klinik.de", "wpad.praxis.example.com", "wpad.example.com"}},
		{[]string{"de", "co.uk", "localdomain", "", "192.0.2.1"}, nil},
	} {
		if got := WPADHosts(c.domains); !reflect.DeepEqual(got, c.want) {
			t.Errorf("WPADHosts(%q) = %q, want %q", c.domains, got, c.want)
		}
	}
	if got := parseResolvConf("# x\nnameserver 127.0.0.53\nsearch radiologie.klinik.example  klinik.example\ndomain other.example\n"); !reflect.DeepEqual(got, []string{"radiologie.klinik.example", "klinik.example", "other.example"}) {
		t.Errorf("resolv.conf domains %q", got)
	}
}

// recDNS answers wpad names from a table with loopback addresses and
// records every name asked.
type recDNS struct {
	mu    sync.Mutex
	table map[string][]string
	asked []string
}

func (r *recDNS) LookupHost(ctx context.Context, host string) ([]string, error) {
	r.mu.Lock()
	r.asked = append(r.asked, host)
	r.mu.Unlock()
	if a, ok := r.table[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestWPADDiscover: the injected resolver points wpad names at a server
// on loopback; discovery walks up from the search domain, skips names
// that do not resolve and a 404, takes the first PAC, and never asks past
// the registrable domain even when that name would answer.
func TestWPADDiscover(t *testing.T) {
	var hits []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits = append(hits, r.Host+r.URL.Path)
		mu.Unlock()
		if r.URL.Path != "/wpad.dat" || strings.HasPrefix(r.Host, "wpad.radiologie.") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-ns-proxy-autoconfig")
		w.Write([]byte(`function FindProxyForURL(u, h) { return "PROXY wpad-proxy.example:3128"; }`))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dns := &recDNS{table: map[string][]string{
		"wpad.radiologie.klinik.example.de": {"127.0.0.1"}, // answers 404
		"wpad.example.de":                   {"127.0.0.1"},
		"wpad.de":                           {"127.0.0.1"}, // must never be asked
	}}
	w := &WPAD{DHCP: noDHCP, Domains: []string{"ct.radiologie.klinik.example.de"}, Resolver: dns, Port: port}
	found, data, err := w.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if found != "http://wpad.example.de/wpad.dat" || !strings.Contains(string(data), "wpad-proxy.example") {
		t.Errorf("found %s: %q", found, data)
	}
	wantAsked := []string{"wpad.ct.radiologie.klinik.example.de", "wpad.radiologie.klinik.example.de", "wpad.klinik.example.de", "wpad.example.de"}
	if !reflect.DeepEqual(dns.asked, wantAsked) {
		t.Errorf("asked %q, want %q", dns.asked, wantAsked)
	}
	if want := []string{"wpad.radiologie.klinik.example.de/wpad.dat", "wpad.example.de/wpad.dat"}; !reflect.DeepEqual(hits, want) {
		t.Errorf("server saw %q, want %q (the Host header names the wpad host)", hits, want)
	}

	// Through a Loader: the script works, and the URL found is reported.
	l := &Loader{WPAD: w}
	pac, err := l.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	es, err := pac.FindProxy(&url.URL{Scheme: "https", Host: "portal.example"})
	if err != nil || len(es) != 1 || es[0].Addr != "wpad-proxy.example:3128" || l.Found() != found {
		t.Errorf("WPAD script: %v %v, found %q", es, err, l.Found())
	}

	// Nothing found: a *NoWPADError naming what was tried, fast.
	dns2 := &recDNS{table: map[string][]string{"wpad.radiologie.klinik.example.de": {"127.0.0.1"}}}
	start := time.Now()
	_, _, err = (&WPAD{DHCP: noDHCP, Domains: []string{"radiologie.klinik.example.de"}, Resolver: dns2, Port: port}).Discover(context.Background())
	if !IsNoWPAD(err) || !strings.Contains(err.Error(), "http://wpad.radiologie.klinik.example.de/wpad.dat") || !strings.Contains(err.Error(), "404") {
		t.Errorf("nothing found: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	// A Loader remembers "nothing found" for RetryNoWPAD: no new questions.
	nl := &Loader{WPAD: &WPAD{DHCP: noDHCP, Domains: []string{"radiologie.klinik.example.de"}, Resolver: dns2, Port: port}}
	if _, err := nl.Get(context.Background()); !IsNoWPAD(err) {
		t.Fatalf("loader: %v", err)
	}
	asked := len(dns2.asked)
	if _, err := nl.Get(context.Background()); !IsNoWPAD(err) || len(dns2.asked) != asked {
		t.Errorf("second Get: %v, %d new questions", err, len(dns2.asked)-asked)
	}
	_, _, err = (&WPAD{DHCP: noDHCP, Domains: []string{}, Resolver: dns2}).Discover(context.Background())
	if !IsNoWPAD(err) || !strings.Contains(err.Error(), "no DNS search domain") {
		t.Errorf("no domains: %v", err)
	}
	_, _, err = (&WPAD{DHCP: noDHCP, Domains: []string{"nowhere.example.org"}, Resolver: dns2}).Discover(context.Background())
	if !IsNoWPAD(err) || !strings.Contains(err.Error(), "none of wpad.nowhere.example.org, wpad.example.org resolves") {
		t.Errorf("nothing resolves: %v", err)
	}
}

// TestFetchPAC: file:// and http:// (a loopback server), the size cap,
// a non-200 answer, bad addresses; the fetch never takes a proxy from
// the environment.
func TestFetchPAC(t *testing.T) {
	big := strings.Repeat("x", 3000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok.pac":
			w.Write([]byte(trivial))
		case "/big.pac":
			w.Write([]byte(big))
		default:
			http.Error(w, "gone", http.StatusGone)
		}
	}))
	defer srv.Close()
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1") // would fail if used (Go skips loopback anyway)
	ctx := context.Background()
	if data, err := FetchPAC(ctx, srv.URL+"/ok.pac", 0); err != nil || string(data) != trivial {
		t.Errorf("http: %q %v", data, err)
	}
	var pe *PACError
	if _, err := FetchPAC(ctx, srv.URL+"/big.pac", 1024); !asPAC(err, &pe) || pe.Op != "size" {
		t.Errorf("oversized: %v", err)
	}
	if _, err := FetchPAC(ctx, srv.URL+"/missing.pac", 0); !asPAC(err, &pe) || pe.Op != "status" || pe.Status != 410 {
		t.Errorf("410: %v", err)
	}
	dir := t.TempDir()
	path := dir + "/proxy.pac"
	if err := writeFile(path, trivial); err != nil {
		t.Fatal(err)
	}
	if data, err := FetchPAC(ctx, "file://"+path, 0); err != nil || string(data) != trivial {
		t.Errorf("file: %q %v", data, err)
	}
	if _, err := FetchPAC(ctx, "file://"+dir+"/nope.pac", 0); !asPAC(err, &pe) || pe.Op != "fetch" {
		t.Errorf("missing file: %v", err)
	}
	if err := CheckPACURL("file://C:/proxy.pac"); err != nil {
		t.Errorf("file://C:/… refused: %v", err)
	}
	for _, bad := range []string{"ftp://x/p.pac", "file://host/p.pac", "file://CC:/p.pac", "http:///p.pac", "http://u:pw@x/p.pac", "proxy.pac"} {
		if err := CheckPACURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := FetchPAC(ctx, "http://u:geheim@127.0.0.1:1/p.pac", 0); err == nil || strings.Contains(err.Error(), "geheim") {
		t.Errorf("credentials echoed: %v", err)
	}
}

func asPAC(err error, pe **PACError) bool { return errors.As(err, pe) }

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

// noDHCP: no PAC URL from DHCP (the tests do not ask the machine's).
func noDHCP(context.Context) (string, error) { return "", nil }

// TestWPADFromDHCP: a PAC URL announced by DHCP (option 252) is taken
// first, without a DNS question; one that fails (404, not http) is
// reported but DNS is tried all the same; a DHCP answer that never comes
// is cut after WPADDHCPTimeout.
func TestWPADFromDHCP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/klinik.pac":
			w.Write([]byte(`function FindProxyForURL(u, h) { return "PROXY dhcp-proxy.example:3128"; }`))
		case r.URL.Path == "/wpad.dat" && r.Host == "wpad.example.de":
			w.Write([]byte(`function FindProxyForURL(u, h) { return "PROXY dns-proxy.example:3128"; }`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dhcp := func(u string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return u, nil }
	}
	dns := &recDNS{table: map[string][]string{"wpad.example.de": {"127.0.0.1"}}}
	found, data, err := (&WPAD{DHCP: dhcp(srv.URL + "/klinik.pac"), Domains: []string{"example.de"}, Resolver: dns, Port: port}).Discover(context.Background())
	if err != nil || found != srv.URL+"/klinik.pac" || !strings.Contains(string(data), "dhcp-proxy") || len(dns.asked) != 0 {
		t.Fatalf("from DHCP: %s %q %v, DNS asked %q", found, data, err, dns.asked)
	}
	for _, bad := range []string{srv.URL + "/gone.pac", "ftp://wpad.example.de/wpad.dat"} {
		found, data, err = (&WPAD{DHCP: dhcp(bad), Domains: []string{"example.de"}, Resolver: dns, Port: port}).Discover(context.Background())
		if err != nil || found != "http://wpad.example.de/wpad.dat" || !strings.Contains(string(data), "dns-proxy") {
			t.Errorf("DHCP %q: %s %q %v", bad, found, data, err)
		}
	}
	stuck := func(ctx context.Context) (string, error) { <-ctx.Done(); return "", ctx.Err() }
	start := time.Now()
	found, _, err = (&WPAD{DHCP: stuck, Domains: []string{"example.de"}, Resolver: dns, Port: port}).Discover(context.Background())
	if d := time.Since(start); err != nil || found != "http://wpad.example.de/wpad.dat" || d > WPADDHCPTimeout+2*time.Second {
		t.Errorf("stuck DHCP: %s %v after %s", found, err, d)
	}
}

func TestParseNMCLIWPAD(t *testing.T) {
	out := "DHCP4.OPTION[1]:broadcast_address = 192.0.2.255\n" +
		"DHCP4.OPTION[2]:domain_name = klinik.local\n" +
		"DHCP4.OPTION[3]:wpad = http://wpad.klinik.local/wpad.dat\n" +
		"DHCP4.OPTION[1]:wpad = http://other/wpad.dat\n"
	if got := ParseNMCLIWPAD(out); got != "http://wpad.klinik.local/wpad.dat" {
		t.Errorf("got %q", got)
	}
	if got := ParseNMCLIWPAD("DHCP4.OPTION[1]:domain_name = x\n\n"); got != "" {
		t.Errorf("no option: %q", got)
	}
}
