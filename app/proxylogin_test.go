package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/squid"
	"github.com/bildbote/bildbote/transfer/httpclient"
)

// TestProxyLoginKeyring: a look-up through a real squid with a Digest
// login fails with a 407 (*ProxyAuthError); SetProxyLogin makes the
// retry pass, and with save the next core finds the login in the keyring
// (go-keyring's in-memory provider, see e2e_test.go) without one in its
// Config; ForgetProxyLogin removes it. Without a keyring the login holds
// for the session and the error says what to use instead.
func TestProxyLoginKeyring(t *testing.T) {
	keyring.MockInit()
	t.Setenv(app.KeyringEnv, "")
	p := startPortal(t, t.TempDir())
	p.addCommunity("bM1X", "Klinik Süd", "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq")
	sq := squid.Start(t, squid.Options{Auth: squid.Digest, Users: map[string]string{"anna": "geheim"}})
	look := func(c *app.Core) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := c.LookupCommunity(ctx, p.url, "bM1X")
		return err
	}
	c := openCore(t, app.Config{Proxy: sq.URL})
	err := look(c)
	var pe *httpclient.ProxyAuthError
	if !errors.As(err, &pe) || pe.WithCredentials {
		t.Fatalf("without a login: %v", err)
	}
	if err := c.SetProxyLogin("anna", "verkehrt7", false); err != nil {
		t.Fatal(err)
	}
	if err := look(c); !errors.As(err, &pe) || !pe.WithCredentials {
		t.Fatalf("wrong password: %v", err)
	}
	if err := c.SetProxyLogin("anna", "geheim", true); err != nil {
		t.Fatal(err)
	}
	if err := look(c); err != nil {
		t.Fatalf("after SetProxyLogin: %v", err)
	}
	if u, from := c.ProxyLoginUser(); u != "anna" || from != app.LoginFromKeyring {
		t.Fatalf("ProxyLoginUser %q %q", u, from)
	}
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "/api/v1/communities/bM1X", " anna ")

	// a new core: the keyring's login, no password in its Config
	c2 := openCore(t, app.Config{Proxy: sq.URL})
	if err := look(c2); err != nil {
		t.Fatalf("login from the keyring: %v", err)
	}
	if info := c2.Proxy(p.url); info.User != "anna" || info.LoginFrom != app.LoginFromKeyring {
		t.Fatalf("Proxy info %+v", info)
	}
	// another user named in Config does not take anna's password
	c3 := openCore(t, app.Config{Proxy: sq.URL, ProxyUser: "bernd"})
	if err := look(c3); !errors.As(err, &pe) {
		t.Fatalf("bernd: %v", err)
	}
	if found, err := c2.ForgetProxyLogin(); !found || err != nil {
		t.Fatalf("ForgetProxyLogin %v %v", found, err)
	}
	if _, err := keyring.Get("Bildbote", app.ProxyKeyringAccount); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("still in the keyring: %v", err)
	}
	if err := look(openCore(t, app.Config{Proxy: sq.URL})); !errors.As(err, &pe) {
		t.Fatalf("after logout: %v", err)
	}

	// no Secret Service: saving fails with the hint, the session's login holds
	keyring.MockInitWithError(errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	defer keyring.MockInit()
	c4 := openCore(t, app.Config{Proxy: sq.URL})
	err = c4.SetProxyLogin("anna", "geheim", true)
	ue, ok := i18n.AsUserError(err)
	if !ok {
		t.Fatalf("no keyring: %v", err)
	}
	for lang, want := range map[i18n.Lang]string{i18n.DE: "--proxy-password-file", i18n.EN: "BILDBOTE_PROXY_PASSWORD"} {
		m := ue.Message(lang) + " " + ue.Hint(lang)
		if !strings.Contains(m, want) || strings.Contains(m, "geheim") || strings.Contains(m, "app.proxylogin") {
			t.Errorf("%s: %q", lang, m)
		}
	}
	if err := look(c4); err != nil {
		t.Fatalf("session login without a keyring: %v", err)
	}
	// BILDBOTE_KEYRING=off: never asked, and said so
	t.Setenv(app.KeyringEnv, "off")
	if err := openCore(t, app.Config{Proxy: sq.URL}).SetProxyLogin("anna", "geheim", true); err == nil || !strings.Contains(err.Error(), app.KeyringEnv) {
		t.Fatalf("keyring off: %v", err)
	}
}

// The setting proxy_user (the user's or a policy's) names the proxy
// user: the keyring's login counts only for that user, else the name goes
// alone (the 407 then asks for the password); a policy locks it. Names
// with a colon or a line break are refused.
func TestProxyUserSetting(t *testing.T) {
	keyring.MockInit()
	t.Setenv(app.KeyringEnv, "")
	keyring.Delete("Bildbote", app.ProxyKeyringAccount)
	const proxy = "http://127.0.0.1:3"
	c := openCore(t, app.Config{Proxy: proxy})
	if err := c.SaveProxyLogin("anna", "geheim"); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateSettings(func(s *app.Settings) { s.ProxyUser = "bernd" }); err != nil {
		t.Fatal(err)
	}
	if info := c.Proxy("https://portal.example"); info.User != "bernd" || info.LoginFrom != app.LoginFromSetting {
		t.Fatalf("bernd from the setting: %+v", info)
	}
	if err := c.UpdateSettings(func(s *app.Settings) { s.ProxyUser = "anna" }); err != nil {
		t.Fatal(err)
	}
	if info := c.Proxy("https://portal.example"); info.User != "anna" || info.LoginFrom != app.LoginFromKeyring {
		t.Fatalf("anna from the keyring: %+v", info)
	}
	for _, bad := range []string{"an:na", "anna\nx"} {
		err := c.UpdateSettings(func(s *app.Settings) { s.ProxyUser = bad })
		if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "app.proxylogin.bad-user" {
			t.Errorf("%q: %v", bad, err)
		}
	}
	pol := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(pol, []byte("proxy_user = 'KLINIK\\bernd'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c2 := openCore(t, app.Config{Proxy: proxy, PolicyPath: pol})
	if !c2.Locked(app.SettingProxyUser) || c2.Settings().ProxyUser != `KLINIK\bernd` {
		t.Fatalf("policy: locked %v, %q", c2.Locked(app.SettingProxyUser), c2.Settings().ProxyUser)
	}
	if info := c2.Proxy("https://portal.example"); info.User != `KLINIK\bernd` || info.LoginFrom != app.LoginFromSetting {
		t.Fatalf("policy user: %+v", info)
	}
	if err := c2.UpdateSettings(func(s *app.Settings) { s.ProxyUser = "anna" }); err == nil {
		t.Fatal("a locked proxy_user changed")
	}
}
