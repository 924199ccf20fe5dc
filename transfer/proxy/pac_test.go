package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeDNS answers from a table (loopback and documentation addresses
// only; nothing leaves the machine) and counts the questions.
type fakeDNS struct {
	table map[string][]string
	delay time.Duration
	asked atomic.Int32
}

func (f *fakeDNS) LookupHost(ctx context.Context, host string) ([]string, error) {
	f.asked.Add(1)
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if a, ok := f.table[strings.ToLower(host)]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func mustPAC(t *testing.T, src string, o Options) *PAC {
	t.Helper()
	p, err := CompilePAC("test.pac", []byte(src), o)
	if err != nil {
		t.Fatalf("CompilePAC: %v", err)
	}
	return p
}

// eval runs a JavaScript expression in a PAC runtime.
func eval(t *testing.T, p *PAC, expr string) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out string
	err := p.bounded(func() error {
		v, err := p.vm.RunString(expr)
		if err == nil {
			out = v.String()
		}
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return out
}

const trivial = `function FindProxyForURL(url, host) { return "DIRECT"; }`

// TestPACHostFunctions: the Netscape helper functions against their
// specification's examples.
func TestPACHostFunctions(t *testing.T) {
	dns := &fakeDNS{table: map[string][]string{
		"www.netscape.com": {"198.95.249.79"},
		"portal.example":   {"2001:db8::1", "192.0.2.10"},
		"v6only.example":   {"2001:db8::2"},
	}}
	p := mustPAC(t, trivial, Options{Resolver: dns, LocalAddrs: func() []net.IP {
		return []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("fe80::1"), net.ParseIP("192.0.2.55"), net.ParseIP("2001:db8::55")}
	}})
	cases := map[string]string{
		`isPlainHostName("www")`:                                          "true",
		`isPlainHostName("www.netscape.com")`:                             "false",
		`dnsDomainIs("www.netscape.com", ".netscape.com")`:                "true",
		`dnsDomainIs("www", ".netscape.com")`:                             "false",
		`dnsDomainIs("www.mcom.com", ".netscape.com")`:                    "false",
		`localHostOrDomainIs("www.netscape.com", "www.netscape.com")`:     "true",
		`localHostOrDomainIs("www", "www.netscape.com")`:                  "true",
		`localHostOrDomainIs("www.mcom.com", "www.netscape.com")`:         "false",
		`localHostOrDomainIs("home.netscape.com", "www.netscape.com")`:    "false",
		`dnsDomainLevels("www")`:                                          "0",
		`dnsDomainLevels("www.netscape.com")`:                             "2",
		`isResolvable("www.netscape.com")`:                                "true",
		`isResolvable("bogus.invalid")`:                                   "false",
		`isResolvable("v6only.example")`:                                  "false", // IPv4 only
		`isResolvableEx("v6only.example")`:                                "true",
		`dnsResolve("www.netscape.com")`:                                  "198.95.249.79",
		`dnsResolve("portal.example")`:                                    "192.0.2.10",
		`dnsResolve("bogus.invalid")`:                                     "null",
		`dnsResolveEx("portal.example")`:                                  "2001:db8::1;192.0.2.10",
		`isInNet("www.netscape.com", "198.95.249.79", "255.255.255.255")`: "true",
		`isInNet("www.netscape.com", "198.95.0.0", "255.255.0.0")`:        "true",
		`isInNet("www.netscape.com", "198.94.0.0", "255.255.0.0")`:        "false",
		`isInNet("198.95.1.2", "198.95.0.0", "255.255.0.0")`:              "true",
		`isInNet("bogus.invalid", "0.0.0.0", "0.0.0.0")`:                  "false",
		`isInNet("10.1.2.3", "10.0.0.0", "not a mask")`:                   "false",
		`isInNetEx("portal.example", "2001:db8::/32")`:                    "true",
		`isInNetEx("portal.example", "192.0.2.0/24")`:                     "true",
		`isInNetEx("www.netscape.com", "10.0.0.0/8")`:                     "false",
		`myIpAddress()`:   "192.0.2.55",
		`myIpAddressEx()`: "192.0.2.55;2001:db8::55",
		`sortIpAddressList("10.2.3.9;2001:db8::1;10.2.3.1")`:                           "2001:db8::1;10.2.3.1;10.2.3.9",
		`sortIpAddressList("10.2.3.9;nope")`:                                           "false",
		`getClientVersion()`:                                                           "1.0",
		`shExpMatch("http://home.netscape.com/people/ari/index.html", "*/ari/*")`:      "true",
		`shExpMatch("http://home.netscape.com/people/montulli/index.html", "*/ari/*")`: "false",
		`shExpMatch("www.example.com", "*.example.com")`:                               "true",
		`shExpMatch("example.com", "*.example.com")`:                                   "false",
		`shExpMatch("abc", "a?c")`:                                                     "true",
		`shExpMatch("ac", "a?c")`:                                                      "false",
		`shExpMatch("a.c", "a.c")`:                                                     "true",
		`shExpMatch("abc", "a.c")`:                                                     "false", // '.' is literal, not a regexp
		`shExpMatch("host7", "host[0-9]")`:                                             "true",
		`shExpMatch("hostx", "host[^0-9]")`:                                            "true",
		`shExpMatch("host7", "host[^0-9]")`:                                            "false",
		`shExpMatch("a[b", "a[b")`:                                                     "true",
		`shExpMatch("", "*")`:                                                          "true",
		`shExpMatch("xaaab", "x*a*b")`:                                                 "true",
	}
	for expr, want := range cases {
		if got := eval(t, p, expr); got != want {
			t.Errorf("%s = %s, want %s", expr, got, want)
		}
	}
}

// TestPACDateTimeFunctions: weekdayRange, dateRange and timeRange at a
// fixed time, local and GMT.
func TestPACDateTimeFunctions(t *testing.T) {
	// Wednesday, 24 December 2025, 13:30:15 in UTC+2; 11:30:15 GMT.
	zone := time.FixedZone("test", 2*3600)
	now := time.Date(2025, time.December, 24, 13, 30, 15, 0, zone)
	p := mustPAC(t, trivial, Options{Now: func() time.Time { return now }})
	cases := map[string]string{
		`weekdayRange("WED")`:                        "true",
		`weekdayRange("MON", "FRI")`:                 "true",
		`weekdayRange("SAT", "SUN")`:                 "false",
		`weekdayRange("FRI", "MON")`:                 "false",
		`weekdayRange("TUE", "MON")`:                 "true", // wraps: all but nothing missing
		`weekdayRange("WED", "GMT")`:                 "true",
		`weekdayRange("XYZ")`:                        "false",
		`dateRange(24)`:                              "true",
		`dateRange(1)`:                               "false",
		`dateRange(1, 15)`:                           "false",
		`dateRange(20, 31)`:                          "true",
		`dateRange(28, 2)`:                           "false", // wraps over the month end
		`dateRange(20, 2)`:                           "true",
		`dateRange(24, "DEC")`:                       "true",
		`dateRange(25, "DEC")`:                       "false",
		`dateRange("DEC")`:                           "true",
		`dateRange("JAN", "MAR")`:                    "false",
		`dateRange("NOV", "FEB")`:                    "true", // wraps over the year end
		`dateRange(1, "JUN", 15, "AUG")`:             "false",
		`dateRange(1, "DEC", 31, "DEC")`:             "true",
		`dateRange(2025)`:                            "true",
		`dateRange(2024, 2026)`:                      "true",
		`dateRange(2026, 2027)`:                      "false",
		`dateRange("OCT", 2025, "MAR", 2026)`:        "true",
		`dateRange("OCT", 2024, "MAR", 2025)`:        "false",
		`dateRange(1, "JUN", 2025, 24, "DEC", 2025)`: "true",
		`dateRange(1, "JUN", 2025, 23, "DEC", 2025)`: "false",
		`dateRange(24, "GMT")`:                       "true",
		`dateRange("FOO")`:                           "false",
		`timeRange(13)`:                              "true",
		`timeRange(11, "GMT")`:                       "true",
		`timeRange(13, "GMT")`:                       "false",
		`timeRange(12, 13)`:                          "false", // noon up to 1pm
		`timeRange(13, 14)`:                          "true",
		`timeRange(9, 17)`:                           "true",
		`timeRange(22, 6)`:                           "false", // night, wraps
		`timeRange(13, 0)`:                           "true",  // 13:00 to midnight
		`timeRange(13, 30, 13, 30)`:                  "true",
		`timeRange(13, 31, 14, 0)`:                   "false",
		`timeRange(13, 30, 15, 13, 30, 15)`:          "true",
		`timeRange(13, 30, 16, 13, 30, 59)`:          "false",
		`timeRange(25)`:                              "false",
		`timeRange(1, 2, 3)`:                         "false",
	}
	for expr, want := range cases {
		if got := eval(t, p, expr); got != want {
			t.Errorf("%s = %s, want %s", expr, got, want)
		}
	}
}

// TestPACFindProxy: a typical script, the stripped URL it sees, the
// result parsed with fallback entries, the per-host cache.
func TestPACFindProxy(t *testing.T) {
	const src = `
var seen = [];
function FindProxyForURL(url, host) {
	seen.push(url);
	if (isPlainHostName(host) || dnsDomainIs(host, ".intranet.example")) return "DIRECT";
	if (host == "socks.example") return "SOCKS 10.0.0.1:1080; SOCKS5 10.0.0.2:1080";
	if (host == "weird.example") return "SOCKS 10.0.0.1:1080; QUIC x:1";
	if (host == "empty.example") return "";
	if (host == "throws.example") throw new Error("boom");
	return "PROXY a.example:8080; proxy b.example; HTTPS c.example:8443; DIRECT";
}
function seenURLs() { return seen.join(" "); }`
	p := mustPAC(t, src, Options{})
	find := func(raw string) ([]Entry, error) {
		u, _ := url.Parse(raw)
		return p.FindProxy(u)
	}
	got, err := find("https://Portal.Example:8443/dlx/v1/tokentfa/SECRET?x=1")
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{"PROXY", "a.example:8080"}, {"PROXY", "b.example:80"}, {"HTTPS", "c.example:8443"}, {"DIRECT", ""}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %v, want %v", i, got[i], want[i])
		}
	}
	if u := got[2].URL(); u.String() != "https://c.example:8443" {
		t.Errorf("HTTPS entry URL %s", u)
	}
	if got[3].URL() != nil {
		t.Error("DIRECT has a URL")
	}
	// cached: a second ask (other path) does not run the script again
	if _, err := find("https://portal.example:8443/other"); err != nil {
		t.Fatal(err)
	}
	seen := eval(t, p, "seenURLs()")
	if seen != "https://portal.example:8443/" {
		t.Errorf("script saw %q, want the stripped URL once (no path, no token)", seen)
	}
	if got, _ := find("http://wiki/"); len(got) != 1 || got[0].Kind != "DIRECT" {
		t.Errorf("plain host: %v", got)
	}
	if got, _ := find("https://socks.example/"); len(got) != 1 || got[0] != (Entry{"SOCKS5", "10.0.0.2:1080"}) || got[0].URL().String() != "socks5://10.0.0.2:1080" {
		t.Errorf("SOCKS: %v (SOCKS4 skipped, SOCKS5 kept)", got)
	}
	var pe *PACError
	for host, op := range map[string]string{"weird.example": "result", "empty.example": "result", "throws.example": "call"} {
		_, err := find("https://" + host + "/")
		if !errors.As(err, &pe) || pe.Op != op || pe.Host != host {
			t.Errorf("%s: %v, want a %s PACError", host, err, op)
		}
	}
}

// TestPACBounds: size cap, syntax errors, a missing function, endless
// loops at load and in a call, deep recursion, DNS look-ups bounded in
// count and time — each a *PACError with a clear cause, in bounded time.
func TestPACBounds(t *testing.T) {
	var pe *PACError
	if _, err := CompilePAC("big.pac", make([]byte, 2048), Options{MaxScript: 1024}); !errors.As(err, &pe) || pe.Op != "size" {
		t.Errorf("oversized: %v", err)
	}
	if _, err := CompilePAC("bad.pac", []byte("function FindProxyForURL(url, host) { return "), Options{}); !errors.As(err, &pe) || pe.Op != "compile" {
		t.Errorf("syntax error: %v", err)
	}
	if _, err := CompilePAC("none.pac", []byte("var x = 1;"), Options{}); !errors.As(err, &pe) || pe.Op != "missing" {
		t.Errorf("no function: %v", err)
	}
	start := time.Now()
	if _, err := CompilePAC("loop.pac", []byte("while (true) {}"), Options{CallTimeout: 300 * time.Millisecond}); !errors.As(err, &pe) || pe.Op != "timeout" {
		t.Errorf("endless top level: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("endless top level stopped after %s", d)
	}

	p := mustPAC(t, `
function FindProxyForURL(url, host) {
	if (host == "loop.example") { while (true) {} }
	if (host == "deep.example") { return deep(0); }
	if (host == "dns.example") {
		for (var i = 0; i < 50; i++) { dnsResolve("n" + i + ".example"); }
		return "DIRECT";
	}
	if (host == "slowdns.example") { return isResolvable("slow.example") ? "PROXY p:1" : "DIRECT"; }
	return "PROXY p:1";
}
function deep(n) { return deep(n + 1); }`, Options{CallTimeout: 400 * time.Millisecond, MaxLookups: 4, Resolver: &fakeDNS{}})
	find := func(host string) error {
		_, err := p.FindProxy(&url.URL{Scheme: "https", Host: host})
		return err
	}
	start = time.Now()
	err := find("loop.example")
	if !errors.As(err, &pe) || pe.Op != "timeout" || pe.Host != "loop.example" {
		t.Fatalf("endless call: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("endless call stopped after %s", d)
	}
	if !strings.Contains(err.Error(), "did not answer in time for loop.example") {
		t.Errorf("message %q", err)
	}
	// the runtime works on after an interrupt; the failure is cached
	if err := find("fine.example"); err != nil {
		t.Errorf("after an interrupt: %v", err)
	}
	start = time.Now()
	if err := find("loop.example"); !errors.As(err, &pe) || pe.Op != "timeout" || time.Since(start) > 100*time.Millisecond {
		t.Errorf("cached failure: %v after %s", err, time.Since(start))
	}
	if err := find("deep.example"); !errors.As(err, &pe) || pe.Op != "call" || !strings.Contains(err.Error(), "stack") {
		t.Errorf("deep recursion: %v", err)
	}

	// A memory bomb: stopped by the heap budget long before the deadline.
	bomb := mustPAC(t, `function FindProxyForURL(url, host) { var s = "x"; while (true) { s += s; } }`, Options{MaxMemory: 64 << 20, CallTimeout: 20 * time.Second})
	start = time.Now()
	_, err = bomb.FindProxy(&url.URL{Scheme: "https", Host: "bomb.example"})
	if !errors.As(err, &pe) || pe.Op != "memory" || !strings.Contains(err.Error(), "needed more than 67108864 bytes of memory for bomb.example") {
		t.Errorf("memory bomb: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("memory bomb stopped after %s", d)
	}
	if _, err := bomb.FindProxy(&url.URL{Scheme: "https", Host: "other.example"}); !errors.As(err, &pe) || pe.Op != "memory" {
		t.Errorf("the runtime after a memory interrupt: %v", err)
	}

	dns := &fakeDNS{}
	p.o.Resolver = dns
	if err := find("dns.example"); err != nil {
		t.Errorf("many look-ups: %v", err)
	}
	if n := dns.asked.Load(); n != 4 {
		t.Errorf("%d look-ups in one call, want MaxLookups 4", n)
	}
	slow := &fakeDNS{delay: 10 * time.Second, table: map[string][]string{"slow.example": {"192.0.2.1"}}}
	p.o.Resolver, p.o.DNSTimeout = slow, 150*time.Millisecond
	start = time.Now()
	if _, err := p.FindProxy(&url.URL{Scheme: "https", Host: "slowdns.example"}); err != nil {
		t.Errorf("slow DNS: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("slow DNS took %s, want about DNSTimeout", d)
	}
}

func TestParseResult(t *testing.T) {
	for in, want := range map[string]string{
		"DIRECT":                              "DIRECT",
		"  proxy  a:1 ;;DIRECT ":              "PROXY a:1,DIRECT",
		"PROXY [2001:db8::1]:3128":            "PROXY [2001:db8::1]:3128",
		"HTTPS h":                             "HTTPS h:443",
		"SOCKS5 s":                            "SOCKS5 s:1080",
		"PROXY a:0; PROXY http://x:1; DIRECT": "DIRECT",
		"PROXY u:p@h:1; PROXY ok:2":           "PROXY ok:2",
	} {
		es, err := ParseResult(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		var s []string
		for _, e := range es {
			s = append(s, e.String())
		}
		if strings.Join(s, ",") != want {
			t.Errorf("%q = %s, want %s", in, strings.Join(s, ","), want)
		}
	}
	for _, in := range []string{"", "SOCKS a:1", "PROXY", "PROXY a:99999"} {
		if _, err := ParseResult(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// BenchmarkFindProxy: a typical clinic PAC, uncached (a new host each
// time) and cached.
func BenchmarkFindProxy(b *testing.B) {
	p, err := CompilePAC("bench.pac", []byte(`function FindProxyForURL(url, host) {
		if (isPlainHostName(host) || dnsDomainIs(host, ".klinik.example") || shExpMatch(host, "10.*")) return "DIRECT";
		if (isInNet(host, "192.168.0.0", "255.255.0.0")) return "DIRECT";
		return "PROXY proxy1.klinik.example:3128; PROXY proxy2.klinik.example:3128; DIRECT";
	}`), Options{Resolver: &fakeDNS{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("uncached", func(b *testing.B) {
		for i := range b.N {
			if _, err := p.FindProxy(&url.URL{Scheme: "https", Host: fmt.Sprintf("h%d.example", i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		u := &url.URL{Scheme: "https", Host: "portal.example"}
		for range b.N {
			if _, err := p.FindProxy(u); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReadGNOME: one gsettings process per read.
func BenchmarkReadGNOME(b *testing.B) {
	if _, err := exec.LookPath("gsettings"); err != nil {
		b.Skip("no gsettings")
	}
	for range b.N {
		if _, err := ReadGNOME(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
