package proxy

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// gsettings runs the real gsettings with the test's environment.
func gsettings(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("gsettings", args...).CombinedOutput(); err != nil {
		t.Fatalf("gsettings %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestReadGNOME: the real gsettings (keyfile backend, a private
// XDG_CONFIG_HOME) writes org.gnome.system.proxy; ReadGNOME reads each
// mode back.
func TestReadGNOME(t *testing.T) {
	corpus.Tool(t, "gsettings")
	if err := exec.Command("gsettings", "list-keys", gnomeSchema).Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("schema %s missing (package gsettings-desktop-schemas)", gnomeSchema)
		}
		t.Skipf("schema %s missing (package gsettings-desktop-schemas)", gnomeSchema)
	}
	t.Setenv("GSETTINGS_BACKEND", "keyfile")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	ctx := context.Background()

	s, err := ReadGNOME(ctx)
	if err != nil || s == nil || s.Any() {
		t.Fatalf("defaults: %+v, %v (want mode none)", s, err)
	}

	gsettings(t, "set", gnomeSchema, "mode", "manual")
	gsettings(t, "set", gnomeSchema+".http", "host", "proxy.klinik.example")
	gsettings(t, "set", gnomeSchema+".http", "port", "3128")
	gsettings(t, "set", gnomeSchema, "ignore-hosts", `['localhost', '127.0.0.0/8', '*.intern.example', "it's.example"]`)
	s, err = ReadGNOME(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := &OSSettings{Source: SourceGNOME, HTTP: "proxy.klinik.example:3128", HTTPS: "proxy.klinik.example:3128",
		Bypass: []string{"localhost", "127.0.0.0/8", "*.intern.example", "it's.example"}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("manual:\n got %+v\nwant %+v", s, want)
	}
	for raw, proxied := range map[string]bool{
		"https://portal.example/": true, "http://127.0.0.1:8080/": false, "https://pacs.intern.example/": false,
		"http://localhost/": false, "https://it's.example/": false,
	} {
		u, _ := url.Parse(raw)
		if got := s.ManualProxy(u) != nil; got != proxied {
			t.Errorf("%s proxied = %v, want %v", raw, got, proxied)
		}
	}

	gsettings(t, "set", gnomeSchema+".https", "host", "tls.klinik.example")
	gsettings(t, "set", gnomeSchema+".https", "port", "8443")
	s, _ = ReadGNOME(ctx)
	if s.HTTPS != "tls.klinik.example:8443" || s.HTTP != "proxy.klinik.example:3128" {
		t.Errorf("separate https proxy: %+v", s)
	}
	u, _ := url.Parse("https://portal.example/")
	if p := s.ManualProxy(u); p == nil || p.String() != "http://tls.klinik.example:8443" {
		t.Errorf("https target takes %v", p)
	}

	gsettings(t, "set", gnomeSchema, "mode", "auto")
	gsettings(t, "set", gnomeSchema, "autoconfig-url", "http://pac.klinik.example/proxy.pac")
	s, _ = ReadGNOME(ctx)
	if s.PACURL != "http://pac.klinik.example/proxy.pac" || s.AutoDetect || s.Manual() {
		t.Errorf("auto with URL: %+v", s)
	}
	gsettings(t, "set", gnomeSchema, "autoconfig-url", "")
	s, _ = ReadGNOME(ctx)
	if !s.AutoDetect || s.PACURL != "" {
		t.Errorf("auto without URL (WPAD): %+v", s)
	}
}

func TestParseGNOMEErrors(t *testing.T) {
	if _, err := ParseGNOME("org.gnome.system.proxy mode 'sometimes'\n"); err == nil {
		t.Error("unknown mode accepted")
	}
	if _, err := ParseGNOME("org.gnome.system.proxy mode 'manual'\norg.gnome.system.proxy ignore-hosts ['a', \n"); err == nil {
		t.Error("broken list accepted")
	}
	s, err := ParseGNOME("org.gnome.system.proxy mode 'manual'\norg.gnome.system.proxy ignore-hosts @as []\norg.gnome.system.proxy.socks host 's.example'\norg.gnome.system.proxy.socks port 1080\n")
	if err != nil || s.SOCKS != "s.example:1080" || len(s.Bypass) != 0 {
		t.Errorf("socks only: %+v %v", s, err)
	}
	u, _ := url.Parse("https://portal.example/")
	if p := s.ManualProxy(u); p == nil || p.String() != "socks5://s.example:1080" {
		t.Errorf("socks proxy %v", p)
	}
}

// TestReadKDE: kioslaverc in a private XDG_CONFIG_HOME, each ProxyType.
func TestReadKDE(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	if s, err := ReadKDE(); s != nil || err != nil {
		t.Fatalf("no file: %+v %v", s, err)
	}
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "kioslaverc"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`[Cache Settings]
ProxyType=2

[Proxy Settings]
NoProxyFor=localhost,127.0.0.1,.intern.example
Proxy Config Script=
ProxyType=1
ReversedException=false
httpProxy=http://proxy.klinik.example 3128
httpsProxy=http://tls.klinik.example:8443
socksProxy=
`)
	s, err := ReadKDE()
	if err != nil {
		t.Fatal(err)
	}
	want := &OSSettings{Source: SourceKDE, HTTP: "proxy.klinik.example:3128", HTTPS: "tls.klinik.example:8443",
		Bypass: []string{"localhost", "127.0.0.1", ".intern.example"}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("manual:\n got %+v\nwant %+v", s, want)
	}
	u, _ := url.Parse("https://pacs.intern.example/")
	if s.ManualProxy(u) != nil {
		t.Error(".intern.example not bypassed")
	}
	write("[Proxy Settings]\nProxyType=2\nProxy Config Script=file:///etc/proxy.pac\n")
	if s, _ := ReadKDE(); s.PACURL != "file:///etc/proxy.pac" {
		t.Errorf("PAC: %+v", s)
	}
	write("[Proxy Settings]\nProxyType=3\n")
	if s, _ := ReadKDE(); !s.AutoDetect {
		t.Errorf("WPAD: %+v", s)
	}
	t.Setenv("MY_PROXY", "http://env.proxy.example:8000")
	write("[Proxy Settings]\nProxyType=4\nhttpProxy=MY_PROXY\nhttpsProxy=MY_PROXY\n")
	if s, _ := ReadKDE(); s.HTTPS != "env.proxy.example:8000" {
		t.Errorf("environment type: %+v", s)
	}
	write("[Proxy Settings]\nProxyType=1\nhttpProxy=http://only.example 3128\nNoProxyFor=special.example\nReversedException=true\n")
	s, _ = ReadKDE()
	for raw, proxied := range map[string]bool{"http://special.example/": true, "http://other.example/": false} {
		u, _ := url.Parse(raw)
		if got := s.ManualProxy(u) != nil; got != proxied {
			t.Errorf("reversed: %s proxied = %v", raw, got)
		}
	}
	write("[Proxy Settings]\nProxyType=7\n")
	if _, err := ReadKDE(); err == nil {
		t.Error("ProxyType 7 accepted")
	}
}

// scutilOut is `scutil --proxy` as macOS prints it (manual HTTP and
// HTTPS proxy, PAC on, auto-discovery off, the default exceptions, and
// a per-interface copy that must not count).
const scutilOut = `<dictionary> {
  ExceptionsList : <array> {
    0 : *.local
    1 : 169.254/16
    2 : pacs.intern.example
  }
  ExcludeSimpleHostnames : 1
  FTPPassive : 1
  HTTPEnable : 1
  HTTPPort : 3128
  HTTPProxy : proxy.klinik.example
  HTTPSEnable : 1
  HTTPSPort : 3129
  HTTPSProxy : proxy.klinik.example
  ProxyAutoConfigEnable : 1
  ProxyAutoConfigURLString : http://pac.klinik.example/proxy.pac
  ProxyAutoDiscoveryEnable : 0
  SOCKSEnable : 0
  __SCOPED__ : <dictionary> {
    en0 : <dictionary> {
      ExceptionsList : <array> {
        0 : other.example
      }
      HTTPEnable : 0
      ProxyAutoDiscoveryEnable : 1
    }
  }
}
`

func TestParseScutil(t *testing.T) {
	s, err := ParseScutil(scutilOut)
	if err != nil {
		t.Fatal(err)
	}
	want := &OSSettings{Source: SourceMacOS, PACURL: "http://pac.klinik.example/proxy.pac",
		HTTP: "proxy.klinik.example:3128", HTTPS: "proxy.klinik.example:3129",
		Bypass: []string{"*.local", "169.254/16", "pacs.intern.example"}, BypassPlain: true}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("\n got %+v\nwant %+v", s, want)
	}
	for raw, bypassed := range map[string]bool{
		"http://169.254.10.20/": true, "http://printer.local/": true, "http://wiki/": true,
		"https://pacs.intern.example/": true, "https://portal.example/": false, "http://169.255.0.1/": false,
	} {
		u, _ := url.Parse(raw)
		if got := s.Bypassed(u); got != bypassed {
			t.Errorf("%s bypassed = %v, want %v", raw, got, bypassed)
		}
	}
	s, err = ParseScutil("<dictionary> {\n  HTTPEnable : 0\n  ProxyAutoDiscoveryEnable : 1\n}\n")
	if err != nil || !s.AutoDetect || s.Manual() {
		t.Errorf("WPAD only: %+v %v", s, err)
	}
	if _, err := ParseScutil("No proxy configuration\n"); err == nil {
		t.Error("garbage accepted")
	}
	if ds := parseScutilDNS("resolver #1\n  search domain[0] : radiologie.klinik.example\n  domain   : klinik.example\n  nameserver[0] : 192.0.2.1\n"); !reflect.DeepEqual(ds, []string{"radiologie.klinik.example", "klinik.example"}) {
		t.Errorf("scutil --dns domains %v", ds)
	}
}

func TestParseWinINET(t *testing.T) {
	s, err := ParseWinINET(WinINET{ProxyEnable: true, ProxyServer: "proxy.klinik.example:3128", ProxyOverride: "*.intern.example;10.*;<local>"})
	if err != nil {
		t.Fatal(err)
	}
	if s.HTTP != "proxy.klinik.example:3128" || s.HTTPS != s.HTTP || !s.BypassPlain || !s.BypassLoopback {
		t.Errorf("single server: %+v", s)
	}
	for raw, bypassed := range map[string]bool{
		"https://pacs.intern.example/": true, "http://10.1.2.3/": true, "http://wiki/": true,
		"http://127.0.0.1:8080/": true, "http://localhost/": true, "https://portal.example/": false,
	} {
		u, _ := url.Parse(raw)
		if got := s.Bypassed(u); got != bypassed {
			t.Errorf("%s bypassed = %v, want %v", raw, got, bypassed)
		}
	}
	s, err = ParseWinINET(WinINET{ProxyEnable: true, ProxyServer: "http=a.example:1;https=b.example:2;socks=c.example:3;ftp=d:4", ProxyOverride: "<-loopback>"})
	if err != nil || s.HTTP != "a.example:1" || s.HTTPS != "b.example:2" || s.SOCKS != "c.example:3" || s.BypassLoopback {
		t.Errorf("per protocol: %+v %v", s, err)
	}
	s, _ = ParseWinINET(WinINET{ProxyEnable: false, ProxyServer: "ignored:1", AutoConfigURL: "http://pac/p.pac", AutoDetect: true})
	if s.Manual() || s.PACURL != "http://pac/p.pac" || !s.AutoDetect {
		t.Errorf("disabled manual, PAC and WPAD: %+v", s)
	}
	if _, err := ParseWinINET(WinINET{ProxyEnable: true, ProxyServer: "https=b:notaport"}); err == nil {
		t.Error("bad port accepted")
	}
}

func TestBypassPatterns(t *testing.T) {
	for _, c := range []struct {
		host, port, pat string
		want            bool
	}{
		{"a.example", "443", "*.example", true},
		{"example", "443", "*.example", false},
		{"example", "443", ".example", true},
		{"x.example", "443", ".example", true},
		{"xexample", "443", ".example", false},
		{"10.1.2.3", "80", "10.0.0.0/8", true},
		{"11.1.2.3", "80", "10.0.0.0/8", false},
		{"10.1.2.3", "80", "10/8", true},
		{"::1", "80", "::1", true},
		{"2001:db8::5", "80", "2001:db8::/32", true},
		{"a.example", "8080", "a.example:8080", true},
		{"a.example", "443", "a.example:8080", false},
		{"a.example", "443", "https://a.example", true},
		{"anything", "1", "*", true},
		{"a.example", "1", "", false},
	} {
		if got := bypassMatch(c.host, c.port, c.pat); got != c.want {
			t.Errorf("bypassMatch(%s, %s, %q) = %v", c.host, c.port, c.pat, got)
		}
	}
}
