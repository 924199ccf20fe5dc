package main

import (
	"bytes"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/testkit/testca"
)

// quietEnv keeps the environment's proxy, TLS and language settings out
// of a core opened on the written policy; lang ("de", "en") is the
// language run() detects.
func quietEnv(t *testing.T, lang string) {
	t.Helper()
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
		app.ProxyEnv, app.ProxyPACEnv, app.CABundleEnv, app.HTTP1Env, "LC_ALL", "LC_MESSAGES"} {
		t.Setenv(k, "")
	}
	t.Setenv("BILDBOTE_OS_PROXY", "off")
	t.Setenv("LANGUAGE", "")
	t.Setenv("LANG", map[string]string{"de": "de_DE.UTF-8", "en": "en_US.UTF-8"}[lang])
}

// The keys added for proxies, TLS inspection, DICOM TLS, the waits and
// the sender fields: each flag lands in the file, the app's loader
// locks it, and a core opened on the file uses the value.
func TestNetworkAndTLSKeys(t *testing.T) {
	quietEnv(t, "en")
	dir := t.TempDir()
	ca, err := testca.New(dir, "clinic-ca", pkix.Name{CommonName: "Klinik Test CA"}, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "policy.toml")
	cert, key := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	// as the MSI passes them: every property, the unset ones as ""
	args := []string{"--out", out, "--portal-url", "", "--allowed-portals", "", "--default-inbox", "",
		"--pinned-key", "", "--pacs-url", "", "--library-dir", "", "--bandwidth-limit-kbps", "", "--clinic-mode", "",
		"--pacs-tls-ca", " " + ca.CertFile + " ", "--pacs-tls-cert", cert, "--pacs-tls-key", key,
		"--max-network-wait-minutes", "480", "--max-busy-wait-minutes", " 60 ",
		"--required-sender-fields", "sender_name; referrer",
		"--proxy", " http://proxy.klinik.local:3128 ", "--proxy-default", "",
		"--proxy-pac", "https://wpad.klinik.local/proxy.pac", "--proxy-user", `KLINIK\anna`,
		"--ca-bundle", ca.CertFile, "--http1-only", "yes"}
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	p, err := app.LoadPolicy(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ca_bundle", "http1_only", "max_busy_wait_minutes", "max_network_wait_minutes",
		"pacs_tls_ca", "pacs_tls_cert", "pacs_tls_key", "proxy", "proxy_pac", "proxy_user", "required_sender_fields"}
	if got := p.Keys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("locked keys %v, want %v", got, want)
	}
	core, err := app.Open(app.Config{StateDir: t.TempDir(), PolicyPath: out})
	if err != nil {
		t.Fatalf("a core on the written policy: %v", err)
	}
	defer core.Close()
	s := core.Settings()
	got := []any{s.PACSTLSCA, s.PACSTLSCert, s.PACSTLSKey, s.MaxNetworkWaitMinutes, s.MaxBusyWaitMinutes,
		s.RequiredSenderFields, s.Proxy, s.ProxyPAC, s.ProxyUser, s.CABundle, s.HTTP1Only}
	wantv := []any{ca.CertFile, cert, key, 480, 60, []string{"sender_name", "referrer"},
		"http://proxy.klinik.local:3128", "https://wpad.klinik.local/proxy.pac", `KLINIK\anna`, ca.CertFile, true}
	if !reflect.DeepEqual(got, wantv) {
		t.Fatalf("settings from the written policy\n got %#v\nwant %#v", got, wantv)
	}
	if tls := core.TLS(); tls.CABundleSource != app.TLSFromPolicy || len(tls.CACerts) != 1 || !tls.HTTP1Only {
		t.Errorf("TLS %+v, want the policy's bundle with its one CA and HTTP/1.1 only", tls)
	}
	if info := core.Proxy("https://portal.example"); info.Source != app.ProxyFromPolicy || info.URL != "http://proxy.klinik.local:3128" {
		t.Errorf("proxy %+v, want the policy's", info)
	}
}

// proxy_default is a proposal: written, used while the user names no
// proxy, never locked; "none" writes an empty required_sender_fields.
func TestProxyDefaultNotLocked(t *testing.T) {
	quietEnv(t, "en")
	out := filepath.Join(t.TempDir(), "policy.toml")
	var stdout, stderr bytes.Buffer
	args := []string{"--out", out, "--proxy", "", "--proxy-default", "http://proxy.klinik.local:8080",
		"--required-sender-fields", "None"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	data, _ := os.ReadFile(out)
	for _, line := range []string{`proxy_default = "http://proxy.klinik.local:8080"`, "required_sender_fields = []"} {
		if !strings.Contains(string(data), line+"\n") {
			t.Errorf("%q not in the file:\n%s", line, data)
		}
	}
	p, err := app.LoadPolicy(out)
	if err != nil {
		t.Fatal(err)
	}
	if p.Locks(app.SettingProxyDefault) || p.Locks(app.SettingProxy) {
		t.Errorf("proxy_default locks: %v", p.Keys())
	}
	core, err := app.Open(app.Config{StateDir: t.TempDir(), PolicyPath: out})
	if err != nil {
		t.Fatal(err)
	}
	defer core.Close()
	if s := core.Settings(); s.RequiredSenderFields == nil || len(s.RequiredSender()) != 0 {
		t.Errorf("required sender fields %#v, want none", s.RequiredSenderFields)
	}
	if info := core.Proxy("https://portal.example"); info.Source != app.ProxyFromPolicyDefault || info.URL != "http://proxy.klinik.local:8080" {
		t.Errorf("proxy %+v, want the policy's proposal", info)
	}
}

// A bad value for a new key fails the install with the translated
// message naming the key (the writer's own check or the app's loader),
// leaves the old file as it was, and never echoes a password.
func TestNewKeysRefused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "policy.toml")
	const existing = "portal_url = \"https://kept.example\"\n"
	if err := os.WriteFile(out, []byte(existing), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		flag, value, key string
	}{
		{"--proxy", "http://anna:Geheim42@proxy.klinik.local:3128", "proxy"},
		{"--proxy", "proxy.klinik.local:3128/path", "proxy"},
		{"--proxy-default", "http://proxy.klinik.local:3128/pac", "proxy_default"},
		{"--proxy-pac", "ftp://pac.klinik.local/proxy.pac", "proxy_pac"},
		{"--proxy-pac", "https://anna:Geheim42@pac.klinik.local/proxy.pac", "proxy_pac"},
		{"--ca-bundle", "proxy-ca.pem", "ca_bundle"},
		{"--pacs-tls-ca", `certs\pacs-ca.pem`, "pacs_tls_ca"},
		{"--pacs-tls-cert", "/etc/bildbote/client.pem", "pacs_tls_key"}, // without its key
		{"--pacs-tls-key", "client.key", "pacs_tls_key"},
		{"--http1-only", "maybe", "http1_only"},
		{"--max-network-wait-minutes", "0", "max_network_wait_minutes"},
		{"--max-busy-wait-minutes", "a week", "max_busy_wait_minutes"},
		{"--required-sender-fields", "sender_name,fax", "required_sender_fields"},
	}
	frames := map[string][]string{
		"en": {"The value for %s is not valid.", "Bildbote would reject this policy"},
		"de": {"Der Wert für %s ist ungültig.", "Bildbote würde diese Richtlinie ablehnen"},
	}
	for lang, frame := range frames {
		quietEnv(t, lang)
		for _, c := range cases {
			var stdout, stderr bytes.Buffer
			if code := run([]string{"--out", out, c.flag, c.value}, &stdout, &stderr); code != 2 {
				t.Errorf("%s %s %q: exit %d, want 2", lang, c.flag, c.value, code)
			}
			msg := stderr.String()
			own := strings.Contains(msg, strings.Replace(frame[0], "%s", c.key, 1))
			loader := strings.Contains(msg, frame[1]) && strings.Contains(msg, c.key)
			if !own && !loader {
				t.Errorf("%s %s %q: the message does not name %s in the %s frame:\n%s", lang, c.flag, c.value, c.key, lang, msg)
			}
			if strings.Contains(msg, "Geheim42") {
				t.Errorf("%s %s: the password is in the message:\n%s", lang, c.flag, msg)
			}
		}
	}
	if data, _ := os.ReadFile(out); string(data) != existing {
		t.Fatalf("file changed to:\n%s", data)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".policy-*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
