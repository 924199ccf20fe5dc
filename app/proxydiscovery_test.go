package app

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/squid"
)

// clearProxyEnv empties every proxy variable and keeps the OS's
// settings away (a private gsettings keyfile, no kioslaverc).
func clearProxyEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", ProxyEnv, ProxyPACEnv, "BILDBOTE_OS_PROXY", "XDG_CURRENT_DESKTOP"} {
		t.Setenv(k, "")
	}
	t.Setenv("GSETTINGS_BACKEND", "keyfile")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
}

func writePAC(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "proxy.pac")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return "file://" + p
}

// TestProxyPACPrecedence: a PAC address ranks just below the explicit
// proxy of its source — policy proxy_pac (locked) > --proxy >
// --proxy-pac > BILDBOTE_PROXY > BILDBOTE_PROXY_PAC > setting proxy >
// setting proxy_pac; each reported with the PAC's URL, who named it and
// its list for the target; bad addresses refused (de/en).
func TestProxyPACPrecedence(t *testing.T) {
	clearProxyEnv(t)
	pac := writePAC(t, `function FindProxyForURL(url, host) {
		if (host == "127.0.0.1") return "PROXY pac.proxy:3128; DIRECT";
		return "DIRECT";
	}`)
	const portal = "http://127.0.0.1:8080"
	state := t.TempDir()
	open := func(policy string, cfg Config) *Core {
		t.Helper()
		cfg.StateDir, cfg.PolicyPath = state, writePolicy(t, policy)
		c, err := Open(cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	check := func(c *Core, url, source, from string) ProxyInfo {
		t.Helper()
		got := c.Proxy(portal)
		if got.URL != url || got.Source != source || got.PACFrom != from {
			t.Errorf("Proxy = %+v, want %s from %s (PAC named by %q)", got, url, source, from)
		}
		return got
	}

	c := open("", Config{ProxyPAC: pac})
	got := check(c, "http://pac.proxy:3128", ProxyFromPAC, ProxyFromFlag)
	if got.PACURL != pac || strings.Join(got.Ways, ", ") != "http://pac.proxy:3128, DIRECT" || got.Problem != nil {
		t.Errorf("PAC report: %+v", got)
	}
	if d := got.Describe(i18n.EN); d != "the PAC file "+pac+" (set in --proxy-pac)" {
		t.Errorf("description %q", d)
	}
	if d := got.Describe(i18n.DE); !strings.HasPrefix(d, "die PAC-Datei "+pac) {
		t.Errorf("German description %q", d)
	}
	if got := c.Proxy("https://other.example"); got.URL != "" || got.Source != ProxyFromPAC || strings.Join(got.Ways, ",") != "DIRECT" {
		t.Errorf("other host: %+v", got)
	}
	c.Close()

	c = open("", Config{ProxyPAC: pac, Proxy: "http://flag.proxy:1"})
	check(c, "http://flag.proxy:1", ProxyFromFlag, "")
	c.Close()

	t.Setenv(ProxyPACEnv, pac)
	c = open("", Config{})
	check(c, "http://pac.proxy:3128", ProxyFromPAC, ProxyFromEnvBildbote)
	c.Close()
	t.Setenv(ProxyEnv, "http://env.proxy:2")
	c = open("", Config{})
	check(c, "http://env.proxy:2", ProxyFromEnvBildbote, "")
	c.Close()
	t.Setenv(ProxyEnv, "")
	t.Setenv(ProxyPACEnv, "")

	// The setting, saved and applied at once; a bad address refused.
	c = open("", Config{})
	if err := c.UpdateSettings(func(s *Settings) { s.ProxyPAC = "ftp://x/p.pac" }); err == nil {
		t.Error("ftp PAC address saved")
	}
	if err := c.UpdateSettings(func(s *Settings) { s.ProxyPAC = pac }); err != nil {
		t.Fatal(err)
	}
	check(c, "http://pac.proxy:3128", ProxyFromPAC, ProxyFromSetting)
	c.Close()

	// The policy's proxy_pac locks and beats --proxy.
	c = open(`proxy_pac = "`+pac+`"`, Config{Proxy: "http://flag.proxy:1"})
	got = check(c, "http://pac.proxy:3128", ProxyFromPAC, ProxyFromPolicy)
	if !c.Locked(SettingProxyPAC) || got.Policy == "" || !strings.Contains(got.Describe(i18n.EN), "(locked)") {
		t.Errorf("policy PAC: locked %v, %+v, %q", c.Locked(SettingProxyPAC), got, got.Describe(i18n.EN))
	}
	if err := c.UpdateSettings(func(s *Settings) { s.ProxyPAC = "" }); !errors.Is(err, ErrLocked) {
		t.Errorf("locked PAC changed: %v", err)
	}
	c.Close()
	if _, err := LoadPolicy(writePolicy(t, `proxy_pac = "proxy.pac"`)); !errors.Is(err, ErrPolicy) {
		t.Errorf("relative PAC in the policy: %v", err)
	}

	_, err := Open(Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, ""), ProxyPAC: "http://anna:geheim@pac.example/p.pac"})
	ue, ok := i18n.AsUserError(err)
	if !ok || strings.Contains(err.Error(), "geheim") || !strings.Contains(ue.Message(i18n.EN), "from --proxy-pac cannot be used") ||
		!strings.Contains(ue.Message(i18n.DE), "aus --proxy-pac ist nicht verwendbar") {
		t.Errorf("PAC address with credentials: %v", err)
	}
}

// TestBrokenPACFallsBackDirect: an unreachable PAC file, one that is
// not JavaScript, one that loops forever — each a translated problem,
// the way DIRECT (the decision the package doc gives), in bounded time.
func TestBrokenPACFallsBackDirect(t *testing.T) {
	clearProxyEnv(t)
	dead := closedLoopback(t)
	for name, c := range map[string]struct {
		pac, en, de string
	}{
		"unreachable":  {"http://" + dead + "/proxy.pac", "could not be loaded (not reachable", "konnte nicht geladen werden"},
		"not a script": {writePAC(t, "<html>login page</html>"), "is broken", "ist fehlerhaft"},
		"endless":      {writePAC(t, "function FindProxyForURL(u, h) { while (true) {} }"), "did not answer in time for 127.0.0.1", "nicht rechtzeitig"},
	} {
		core := openCore(t, Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, ""), ProxyPAC: c.pac})
		start := time.Now()
		got := core.Proxy("http://127.0.0.1:9")
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s: %s", name, d)
		}
		if got.URL != "" || got.Source != ProxyFromPAC || got.Problem == nil {
			t.Errorf("%s: %+v, want DIRECT with a problem", name, got)
			continue
		}
		en, hint := i18n.Localize(i18n.EN, got.Problem)
		de, _ := i18n.Localize(i18n.DE, got.Problem)
		if !strings.Contains(en, c.en) || !strings.Contains(de, c.de) || !strings.Contains(hint, "direct connection") {
			t.Errorf("%s: %q / %q / %q", name, en, de, hint)
		}
	}
}

func closedLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestOSProxyGNOME: the real gsettings (keyfile backend in a private
// XDG_CONFIG_HOME) sets GNOME's proxy; the core reads it at Open, below
// the app's own setting and above the environment: a manual proxy
// (squid, taking the request with a Via header), its ignore-hosts, and
// a PAC file named by GNOME whose first proxy is a closed port — the
// request falls back to squid at once.
func TestOSProxyGNOME(t *testing.T) {
	corpus.Tool(t, "gsettings")
	clearProxyEnv(t)
	if err := exec.Command("gsettings", "list-keys", "org.gnome.system.proxy").Run(); err != nil {
		corpus.Tool(t, "org.gnome.system.proxy schema (gsettings-desktop-schemas)")
	}
	sq := squid.Start(t, squid.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "via="+r.Header.Get("Via"))
	}))
	defer srv.Close()
	gs := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("gsettings", args...).CombinedOutput(); err != nil {
			t.Fatalf("gsettings %v: %v %s", args, err, out)
		}
	}
	// A running core reads the OS again (every osRefresh): it starts
	// with GNOME's defaults (mode none) and sees the manual proxy once due.
	c0 := openCore(t, Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, "")})
	if got := c0.Proxy(srv.URL); got.Source != ProxyNone || got.URL != "" {
		t.Errorf("GNOME mode none: %+v", got)
	}
	host, port, _ := net.SplitHostPort(sq.Addr)
	gs("set", "org.gnome.system.proxy", "mode", "manual")
	gs("set", "org.gnome.system.proxy.http", "host", host)
	gs("set", "org.gnome.system.proxy.http", "port", port)
	gs("set", "org.gnome.system.proxy", "ignore-hosts", "['localhost', 'pacs.intern.example']")
	if got := c0.Proxy(srv.URL); got.Source != ProxyNone {
		t.Errorf("read again before osRefresh: %+v", got)
	}
	d := c0.proxy.Load().disc
	d.mu.Lock()
	d.read = time.Now().Add(-osRefresh)
	d.mu.Unlock()
	if got := c0.Proxy(srv.URL); got.Source != ProxyFromGNOME || got.URL != sq.URL {
		t.Errorf("after osRefresh: %+v", got)
	}
	c0.Close()
	t.Setenv("HTTP_PROXY", "http://env.proxy:1") // ranks below the OS

	get := func(c *Core, path string) string {
		t.Helper()
		resp, err := c.HTTPClient().Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	c := openCore(t, Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, "")})
	got := c.Proxy(srv.URL)
	if got.Source != ProxyFromGNOME || got.URL != sq.URL || got.Describe(i18n.EN) != "the GNOME proxy settings" {
		t.Errorf("GNOME manual: %+v", got)
	}
	if got := c.Proxy("https://pacs.intern.example/"); got.URL != "" || got.Source != ProxyFromGNOME {
		t.Errorf("ignore-hosts: %+v", got)
	}
	if b := get(c, "/manual"); !strings.Contains(b, "squid") {
		t.Errorf("not through squid: %q", b)
	}
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+srv.URL+"/manual")
	// the app's own setting ranks above the OS
	if err := c.UpdateSettings(func(s *Settings) { s.Proxy = "http://setting.proxy:3" }); err != nil {
		t.Fatal(err)
	}
	if got := c.Proxy(srv.URL); got.Source != ProxyFromSetting {
		t.Errorf("setting below the OS: %+v", got)
	}
	c.Close()

	pac := writePAC(t, `function FindProxyForURL(url, host) {
		return "PROXY `+closedLoopback(t)+`; PROXY `+sq.Addr+`; DIRECT";
	}`)
	gs("set", "org.gnome.system.proxy", "mode", "auto")
	gs("set", "org.gnome.system.proxy", "autoconfig-url", pac)
	c = openCore(t, Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, "")})
	got = c.Proxy(srv.URL)
	if got.Source != ProxyFromPAC || got.PACFrom != ProxyFromGNOME || got.PACURL != pac || len(got.Ways) != 3 {
		t.Errorf("GNOME's PAC: %+v", got)
	}
	if d := got.Describe(i18n.EN); d != "the PAC file "+pac+" (set in the GNOME proxy settings)" {
		t.Errorf("description %q", d)
	}
	if b := get(c, "/pac"); !strings.Contains(b, "squid") {
		t.Errorf("PAC fallback not through squid: %q", b)
	}
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+srv.URL+"/pac")
	if got := c.Proxy(srv.URL); got.URL != sq.URL || !strings.HasPrefix(got.Ways[0], sq.URL) {
		t.Errorf("after the fallback the dead proxy goes last: %+v", got)
	}

	// BILDBOTE_OS_PROXY=off ignores the OS: the environment decides
	// (net/http reads it once per process, so only the source is checked).
	t.Setenv("BILDBOTE_OS_PROXY", "off")
	c2 := openCore(t, Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, "")})
	if got := c2.Proxy("http://portal.example/"); got.Source != ProxyFromEnvironment || got.URL == sq.URL {
		t.Errorf("OS off: %+v", got)
	}
}

// TestOSProxyKDE: on a KDE desktop kioslaverc names the proxy (a real
// squid takes the request); a kioslaverc that makes no sense is
// reported as a translated problem and ignored.
func TestOSProxyKDE(t *testing.T) {
	clearProxyEnv(t)
	t.Setenv("XDG_CURRENT_DESKTOP", "KDE")
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	sq := squid.Start(t, squid.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "via="+r.Header.Get("Via"))
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(sq.Addr)
	rc := filepath.Join(dir, "kioslaverc")
	if err := os.WriteFile(rc, []byte("[Proxy Settings]\nProxyType=1\nhttpProxy=http://"+host+" "+port+"\nNoProxyFor=pacs.intern.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := openCore(t, Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, "")})
	got := c.Proxy(srv.URL)
	if got.Source != ProxyFromKDE || got.URL != sq.URL || got.Describe(i18n.DE) != "die Proxy-Einstellungen von KDE" {
		t.Errorf("KDE manual: %+v", got)
	}
	resp, err := c.HTTPClient().Get(srv.URL + "/kde")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "squid") {
		t.Errorf("not through squid: %q", b)
	}
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+srv.URL+"/kde")
	c.Close()

	if err := os.WriteFile(rc, []byte("[Proxy Settings]\nProxyType=9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c = openCore(t, Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, "")})
	got = c.Proxy(srv.URL)
	if got.URL != "" || got.Problem == nil {
		t.Fatalf("bad kioslaverc: %+v", got)
	}
	en, hint := i18n.Localize(i18n.EN, got.Problem)
	de, _ := i18n.Localize(i18n.DE, got.Problem)
	if en != "The system's proxy settings could not be used." || !strings.Contains(hint, "ignores them") || !strings.Contains(de, "nicht verwendbar") || !strings.Contains(got.Problem.Error(), "ProxyType=9") {
		t.Errorf("problem %q / %q / %q / %v", en, de, hint, got.Problem)
	}
}

// TestPACMemoryBomb: a PAC script that doubles a string without end is
// stopped by the memory budget; the problem is translated and the way
// DIRECT.
func TestPACMemoryBomb(t *testing.T) {
	clearProxyEnv(t)
	pac := writePAC(t, `function FindProxyForURL(url, host) { var s = "x"; while (true) { s += s; } }`)
	c := openCore(t, Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, ""), ProxyPAC: pac})
	start := time.Now()
	got := c.Proxy("https://portal.example/")
	if got.URL != "" || got.Problem == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("%+v after %s", got, time.Since(start))
	}
	en, _ := i18n.Localize(i18n.EN, got.Problem)
	de, _ := i18n.Localize(i18n.DE, got.Problem)
	if en != "The PAC file "+pac+" needed more than 268.4 MB of memory for portal.example and was stopped." || !strings.Contains(de, "268,4 MB Speicher (für portal.example)") {
		t.Errorf("%q / %q", en, de)
	}
}
