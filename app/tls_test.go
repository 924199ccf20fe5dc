package app

import (
	"bytes"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/testca"
	"github.com/bildbote/bildbote/transfer/httpclient"
)

// tlsPortal is an HTTP/2-capable TLS server with a certificate from its
// own CA; it reports the protocol of each request.
func tlsPortal(t *testing.T) (url string, ca *testca.CA, proto chan int) {
	t.Helper()
	dir := t.TempDir()
	ca, err := testca.New(dir, "ca", pkix.Name{CommonName: "Klinik Inspektion Root CA", Organization: []string{"Klinik Süd IT"}}, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(dir, "portal", []string{"127.0.0.1"}, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	proto = make(chan int, 16)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto <- r.ProtoMajor
		io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, ca, proto
}

// get asks url through c's client and returns the protocol the server
// saw, or the error.
func get(c *Core, url string, proto chan int) (int, error) {
	resp, err := c.HTTPClient().Get(url)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return <-proto, nil
}

// TestTLSTrustAndHTTP1: the extra CA bundle and the HTTP/1.1 switch from
// policy (locked), --ca-bundle/--http1, the environment and the setting,
// each reported with its source by Core.TLS and applied to the core's
// client — a change of the setting at once, without a new core.
func TestTLSTrustAndHTTP1(t *testing.T) {
	t.Setenv(CABundleEnv, "")
	t.Setenv(HTTP1Env, "")
	url, ca, proto := tlsPortal(t)
	state := t.TempDir()
	open := func(policy string, cfg Config) (*Core, error) {
		cfg.StateDir, cfg.PolicyPath = state, writePolicy(t, policy)
		return Open(cfg)
	}
	must := func(c *Core, err error) *Core {
		t.Helper()
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return c
	}

	// Nothing set: the OS trust store alone refuses the test CA.
	c := must(open("", Config{}))
	if info := c.TLS(); info.CABundle != "" || info.CABundleSource != TLSDefault || info.HTTP1Only || info.HTTP1Source != TLSDefault {
		t.Fatalf("TLS() = %+v", info)
	}
	if _, err := get(c, url, proto); err == nil {
		t.Fatal("the test CA is trusted without a bundle")
	} else if ce, ok := httpclient.IsCertError(err); !ok || !ce.Inspecting || !strings.Contains(ce.Issuer, "Klinik Inspektion Root CA") {
		t.Fatalf("want a CertError naming the issuer, got %v", err)
	}

	// The setting: a relative path and a file that is no bundle are
	// refused; the CA file is taken at once, and the server speaks HTTP/2.
	if err := c.UpdateSettings(func(s *Settings) { s.CABundle = "ca.pem" }); err == nil {
		t.Fatal("a relative ca_bundle was saved")
	}
	junk := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := c.UpdateSettings(func(s *Settings) { s.CABundle = junk })
	var be *httpclient.CABundleError
	if !errors.As(err, &be) || be.What != httpclient.BundleEmpty {
		t.Fatalf("junk bundle: %v", err)
	}
	for lang, want := range map[i18n.Lang]string{i18n.EN: "holds no certificate", i18n.DE: "enthält kein Zertifikat"} {
		msg, _ := i18n.Localize(lang, err)
		if !strings.Contains(msg, junk) || !strings.Contains(msg, want) || !strings.Contains(msg, i18n.T(lang, "app.tls.source.setting")) {
			t.Errorf("%s: %q", lang, msg)
		}
	}
	if err := c.UpdateSettings(func(s *Settings) { s.CABundle = ca.CertFile }); err != nil {
		t.Fatal(err)
	}
	info := c.TLS()
	if info.CABundle != ca.CertFile || info.CABundleSource != TLSFromSetting || len(info.CACerts) != 1 ||
		info.CACerts[0].SHA256 != httpclient.Fingerprint(ca.Cert.Raw) || !strings.Contains(info.CACerts[0].Subject, "Klinik Inspektion Root CA") {
		t.Fatalf("TLS() = %+v", info)
	}
	if p, err := get(c, url, proto); err != nil || p != 2 {
		t.Fatalf("with the setting's bundle: HTTP/%d, %v", p, err)
	}
	// Saving another setting neither reads the bundle again (a copy that
	// went away meanwhile stops nothing) nor replaces the connections.
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	pem, _ := os.ReadFile(ca.CertFile)
	if err := os.WriteFile(bundle, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateSettings(func(s *Settings) { s.CABundle = bundle }); err != nil {
		t.Fatal(err)
	}
	os.Remove(bundle)
	if err := c.UpdateSettings(func(s *Settings) { s.SenderName = "Praxis Dr. Weiß" }); err != nil {
		t.Fatalf("an unrelated save read the bundle again: %v", err)
	}
	if p, err := get(c, url, proto); err != nil || p != 2 {
		t.Fatalf("after an unrelated save: HTTP/%d, %v", p, err)
	}
	if err := c.UpdateSettings(func(s *Settings) { s.CABundle = ca.CertFile }); err != nil {
		t.Fatal(err)
	}
	// HTTP/1.1 only, switched on and off in the running core.
	if err := c.UpdateSettings(func(s *Settings) { s.HTTP1Only = true }); err != nil {
		t.Fatal(err)
	}
	if p, err := get(c, url, proto); err != nil || p != 1 || c.TLS().HTTP1Source != TLSFromSetting {
		t.Fatalf("http1_only: HTTP/%d, %v, %+v", p, err, c.TLS())
	}
	if err := c.UpdateSettings(func(s *Settings) { s.HTTP1Only = false }); err != nil {
		t.Fatal(err)
	}
	if p, err := get(c, url, proto); err != nil || p != 2 {
		t.Fatalf("http1_only off again: HTTP/%d, %v", p, err)
	}
	c.Close()

	// The settings file keeps them; --http1 and the environment's bundle
	// rank above.
	data, _ := os.ReadFile(filepath.Join(state, "settings.json"))
	if !strings.Contains(string(data), `"ca_bundle": "`+ca.CertFile) {
		t.Fatalf("settings.json: %s", data)
	}
	t.Setenv(CABundleEnv, junk)
	if _, err := open("", Config{}); !errors.As(err, &be) || be.Path != junk {
		t.Fatalf("BILDBOTE_CA_BUNDLE junk: %v", err)
	} else if msg, _ := i18n.Localize(i18n.EN, err); !strings.Contains(msg, "Where it is set: the environment variable BILDBOTE_CA_BUNDLE.") {
		t.Fatalf("source not named: %q", msg)
	}
	t.Setenv(CABundleEnv, ca.CertFile)
	t.Setenv(HTTP1Env, "1")
	c = must(open("", Config{}))
	if info := c.TLS(); info.CABundleSource != TLSFromEnv || info.HTTP1Source != TLSFromEnv || !info.HTTP1Only ||
		info.DescribeHTTP1(i18n.EN) != "the environment variable BILDBOTE_HTTP1" {
		t.Fatalf("TLS() = %+v", info)
	}
	if p, err := get(c, url, proto); err != nil || p != 1 {
		t.Fatalf("BILDBOTE_HTTP1=1: HTTP/%d, %v", p, err)
	}
	c.Close()
	t.Setenv(CABundleEnv, "")
	t.Setenv(HTTP1Env, "")
	c = must(open("", Config{CABundle: ca.CertFile, HTTP1Only: true}))
	if info := c.TLS(); info.CABundleSource != TLSFromFlag || info.HTTP1Source != TLSFromFlag || info.DescribeBundle(i18n.DE) != "--ca-bundle" {
		t.Fatalf("TLS() = %+v", info)
	}
	if p, err := get(c, url, proto); err != nil || p != 1 {
		t.Fatalf("--http1: HTTP/%d, %v", p, err)
	}
	c.Close()

	// The policy locks both: its bundle wins over --ca-bundle, and a
	// change of either setting is refused.
	other, err := testca.New(t.TempDir(), "other", pkix.Name{CommonName: "Unrelated CA"}, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pol := "ca_bundle = '" + other.CertFile + "'\nhttp1_only = true\n"
	c = must(open(pol, Config{CABundle: ca.CertFile}))
	if info := c.TLS(); info.CABundle != other.CertFile || info.CABundleSource != TLSFromPolicy || !info.HTTP1Only || info.HTTP1Source != TLSFromPolicy || info.Policy == "" {
		t.Fatalf("TLS() = %+v", info)
	}
	if _, err := get(c, url, proto); err == nil {
		t.Fatal("the policy's bundle did not replace --ca-bundle")
	}
	for _, change := range []func(*Settings){
		func(s *Settings) { s.CABundle = ca.CertFile },
		func(s *Settings) { s.HTTP1Only = false },
	} {
		if err := c.UpdateSettings(change); !errors.Is(err, ErrLocked) {
			t.Errorf("locked change accepted: %v", err)
		}
	}
	c.Close()

	// A policy with a relative path is malformed; one whose file is gone
	// fails Open naming the file and the policy.
	if _, err := open("ca_bundle = 'proxy-ca.pem'\n", Config{}); !errors.Is(err, ErrPolicy) {
		t.Fatalf("relative ca_bundle in the policy: %v", err)
	}
	gone := filepath.Join(t.TempDir(), "gone.pem")
	_, err = open("ca_bundle = '"+gone+"'\n", Config{})
	if !errors.As(err, &be) || be.What != httpclient.BundleUnreadable {
		t.Fatalf("missing policy bundle: %v", err)
	}
	if msg, hint := i18n.Localize(i18n.DE, err); !strings.Contains(msg, gone) || !strings.Contains(msg, "Angegeben in: der Richtlinie /") || !strings.Contains(msg, "policy.toml (gesperrt).") || hint == "" {
		t.Fatalf("de: %q / %q", msg, hint)
	}
}

// A certificate error kept as a job's error (stored as JSON) still reads
// as a sentence: the validity as ISO dates, not a Go struct.
func TestCertErrorAsJobError(t *testing.T) {
	url, _, _ := tlsPortal(t)
	c := openCore(t, Config{})
	_, err := c.HTTPClient().Get(url)
	if _, ok := httpclient.IsCertError(err); !ok {
		t.Fatalf("want a CertError, got %v", err)
	}
	data, jerr := json.Marshal(jobErrorFrom(err))
	if jerr != nil {
		t.Fatal(jerr)
	}
	var back JobError
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[i18n.Lang]string{i18n.EN: "valid 20", i18n.DE: "gültig 20"} {
		msg := back.Message(lang)
		if !strings.Contains(msg, want) || !strings.Contains(msg, " – 20") || strings.ContainsAny(msg, "{}") || !strings.Contains(msg, "Klinik Inspektion Root CA") {
			t.Errorf("%s: %q", lang, msg)
		}
	}
}
