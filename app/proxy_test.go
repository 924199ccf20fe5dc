package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProxyPrecedence: policy proxy (locked) > --proxy > BILDBOTE_PROXY >
// the setting > the policy's proxy_default > the environment, each
// reported with its source; credentials never in the report nor in the
// settings file.
func TestProxyPrecedence(t *testing.T) {
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", ProxyEnv} {
		t.Setenv(k, "")
	}
	const portal = "http://127.0.0.1:8080"
	state := t.TempDir()
	check := func(c *Core, url, source string) {
		t.Helper()
		got := c.Proxy(portal)
		if got.URL != url || got.Source != source {
			t.Errorf("Proxy = %+v, want %s from %s", got, url, source)
		}
	}
	open := func(policy string, cfg Config) *Core {
		t.Helper()
		cfg.StateDir, cfg.PolicyPath = state, writePolicy(t, policy)
		c, err := Open(cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return c
	}

	// Nothing: direct. A proxy address with credentials is not saved; a
	// saved proxy applies at once.
	c := open("", Config{})
	check(c, "", ProxyNone)
	if err := c.UpdateSettings(func(s *Settings) { s.Proxy = "http://anna:pw@p:1" }); err == nil || !strings.Contains(err.Error(), "user name or password") {
		t.Errorf("proxy with credentials saved: %v", err)
	}
	if err := c.UpdateSettings(func(s *Settings) { s.Proxy = "http://setting.proxy:3128" }); err != nil {
		t.Fatal(err)
	}
	check(c, "http://setting.proxy:3128", ProxyFromSetting) // at once, no restart
	c.Close()

	// The setting beats the policy's default; the default applies when the
	// setting is cleared.
	c = open(`proxy_default = "http://default.proxy:8080"`, Config{})
	check(c, "http://setting.proxy:3128", ProxyFromSetting)
	if c.Locked(SettingProxy) {
		t.Error("proxy_default locks the proxy")
	}
	if err := c.UpdateSettings(func(s *Settings) { s.Proxy = "" }); err != nil {
		t.Fatal(err)
	}
	check(c, "http://default.proxy:8080", ProxyFromPolicyDefault)
	c.UpdateSettings(func(s *Settings) { s.Proxy = "http://setting.proxy:3128" })
	c.Close()

	// BILDBOTE_PROXY beats the setting, --proxy beats BILDBOTE_PROXY; the
	// login's user is reported, its password never.
	t.Setenv(ProxyEnv, "http://env.proxy:1")
	c = open("", Config{})
	check(c, "http://env.proxy:1", ProxyFromEnvBildbote)
	c.Close()
	c = open("", Config{Proxy: "flag.proxy:2", ProxyUser: "anna", ProxyPassword: "geheim"})
	check(c, "http://flag.proxy:2", ProxyFromFlag)
	if got := c.Proxy(portal); got.User != "anna" || strings.Contains(got.URL, "geheim") {
		t.Errorf("login report: %+v", got)
	}
	c.Close()

	// A policy's proxy locks: it beats --proxy, and the setting cannot
	// change it.
	c = open(`proxy = "http://policy.proxy:3128"`, Config{Proxy: "http://flag.proxy:2"})
	check(c, "http://policy.proxy:3128", ProxyFromPolicy)
	if got := c.Proxy(portal); got.Policy == "" {
		t.Errorf("no policy path: %+v", got)
	}
	if err := c.UpdateSettings(func(s *Settings) { s.Proxy = "http://mine:1" }); !errors.Is(err, ErrLocked) {
		t.Errorf("locked proxy changed: %v", err)
	}
	c.Close()

	// The settings file never holds a password; a bad --proxy is an error
	// at Open, not a silent direct connection.
	data, _ := os.ReadFile(filepath.Join(state, "settings.json"))
	if strings.Contains(string(data), "geheim") || !strings.Contains(string(data), "setting.proxy") {
		t.Errorf("settings.json: %s", data)
	}
	if _, err := Open(Config{StateDir: state, PolicyPath: writePolicy(t, ""), Proxy: "socks5://x:1"}); err == nil {
		t.Error("bad --proxy accepted")
	}
	if _, err := LoadPolicy(writePolicy(t, `proxy = "http://a:b@p:1"`)); !errors.Is(err, ErrPolicy) || strings.Contains(err.Error(), ":b@") {
		t.Errorf("policy proxy with credentials: %v", err)
	}
}
