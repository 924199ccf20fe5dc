package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/httpclient"
)

// The proxy login: a user name and a password, in memory (Config's,
// from --proxy-user with a password file, the environment or a prompt;
// or SetProxyLogin from the GUI's dialog), else from the OS keyring
// (service "Bildbote", account ProxyKeyringAccount), where
// SetProxyLogin(…, save) and `bildbote-cli proxy login` put it. Never in
// settings files or logs. The httpclient answers the proxy's challenge
// with it (Basic, Digest, NTLM; see transfer/httpclient).

// ProxyKeyringAccount is the keyring entry of the saved proxy login (a
// JSON object with user and password; one per OS user).
const ProxyKeyringAccount = "proxy-login"

// proxyLogin is one login; a zero value means none.
type proxyLogin struct {
	User     string `json:"user"`
	Password string `json:"password"`
	// from says where it came from: "config", "session", "keyring".
	from string
}

// loginState holds the core's proxy login.
type loginState struct {
	mu       sync.Mutex
	login    proxyLogin
	explicit bool       // config or session: the keyring is not asked
	loaded   bool       // the keyring was asked (once)
	keyring  proxyLogin // what it held then
	// settingsUser is the setting proxy_user (user or policy), kept
	// current by setProxy; nil until first read.
	settingsUser atomic.Pointer[string]
}

// ProxyLoginFrom values (ProxyInfo.LoginFrom).
const (
	LoginFromConfig  = "config"  // --proxy-user with a password file, the environment, a prompt
	LoginFromSession = "session" // SetProxyLogin without save: memory only
	LoginFromKeyring = "keyring" // the OS keyring
	LoginFromSetting = "setting" // the user name from the setting proxy_user (settings or policy), no password yet
)

// proxyLoginNow is the login to answer the proxy with: Config's or the
// session's, else (read once) the keyring's; the keyring's is taken only
// for the user Config names, if it names one.
func (c *Core) proxyLoginNow() proxyLogin {
	s := &c.login
	want, from := c.cfg.ProxyUser, LoginFromConfig
	if want == "" {
		want, from = c.proxyUserSetting(), LoginFromSetting
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.explicit {
		return s.login
	}
	if !s.loaded {
		s.loaded = true
		if c.cfg.ProxyUser != "" && c.cfg.ProxyPassword != "" {
			s.login, s.explicit = proxyLogin{User: c.cfg.ProxyUser, Password: c.cfg.ProxyPassword, from: LoginFromConfig}, true
			return s.login
		}
		if !c.keyringOff() {
			if l, err := readKeyringLogin(); err == nil {
				l.from = LoginFromKeyring
				s.keyring = l
			}
		}
	}
	switch {
	case s.keyring.User != "" && (want == "" || strings.EqualFold(s.keyring.User, want)):
		return s.keyring
	case want != "":
		// a user without a password (none typed yet): the proxy's 407
		// then asks (CLI prompt, GUI dialog)
		return proxyLogin{User: want, from: from}
	}
	return proxyLogin{}
}

// proxyUserSetting is the setting proxy_user.
func (c *Core) proxyUserSetting() string {
	if p := c.login.settingsUser.Load(); p != nil {
		return *p
	}
	u := c.Settings().ProxyUser
	c.login.settingsUser.CompareAndSwap(nil, &u)
	return u
}

func readKeyringLogin() (proxyLogin, error) {
	raw, err := keyring.Get(crypto.KeyringService, ProxyKeyringAccount)
	if err != nil {
		return proxyLogin{}, err
	}
	var l proxyLogin
	if err := json.Unmarshal([]byte(raw), &l); err != nil || l.User == "" {
		return proxyLogin{}, fmt.Errorf("keyring entry %s: not a proxy login", ProxyKeyringAccount)
	}
	return l, nil
}

// SetProxyLogin sets the proxy login for this core's requests from now
// on (a job or look-up refused with a 407 is then tried again by the
// caller). save also stores it in the OS keyring, for the next start;
// without save it lives in memory only. With save and no keyring (a
// headless Linux without Secret Service, or the keyring switched off)
// the login still holds for this session and the error says so, with
// what to use instead (--proxy-password-file, BILDBOTE_PROXY_PASSWORD).
func (c *Core) SetProxyLogin(user, password string, save bool) error {
	user = strings.TrimSpace(user)
	if user == "" {
		return i18n.NewError(i18n.KindInput, "app.proxylogin.no-user")
	}
	if !validProxyUser(user) {
		return i18n.NewError(i18n.KindInput, "app.proxylogin.bad-user")
	}
	if strings.ContainsAny(password, "\r\n") {
		return i18n.NewError(i18n.KindInput, "app.proxylogin.bad-char")
	}
	s := &c.login
	s.mu.Lock()
	s.login = proxyLogin{User: user, Password: password, from: LoginFromSession}
	s.explicit = true
	s.mu.Unlock()
	c.client.CloseIdleConnections() // tunnels of the old login end
	if !save {
		return nil
	}
	if err := c.saveKeyringLogin(user, password); err != nil {
		return err
	}
	s.mu.Lock()
	s.login.from = LoginFromKeyring
	s.keyring = proxyLogin{User: user, Password: password, from: LoginFromKeyring}
	s.mu.Unlock()
	return nil
}

// SaveProxyLogin stores a login in the OS keyring without changing this
// core's (`bildbote-cli proxy login`).
func (c *Core) SaveProxyLogin(user, password string) error {
	user = strings.TrimSpace(user)
	if user == "" {
		return i18n.NewError(i18n.KindInput, "app.proxylogin.no-user")
	}
	if !validProxyUser(user) {
		return i18n.NewError(i18n.KindInput, "app.proxylogin.bad-user")
	}
	if strings.ContainsAny(password, "\r\n") {
		return i18n.NewError(i18n.KindInput, "app.proxylogin.bad-char")
	}
	return c.saveKeyringLogin(user, password)
}

func (c *Core) saveKeyringLogin(user, password string) error {
	if c.keyringOff() {
		return i18n.NewError(i18n.KindInput, "app.proxylogin.keyring-off", KeyringEnv).WithHint("app.proxylogin.no-keyring.hint")
	}
	data, _ := json.Marshal(proxyLogin{User: user, Password: password})
	if err := keyring.Set(crypto.KeyringService, ProxyKeyringAccount, string(data)); err != nil {
		// the keyring's error names the D-Bus service, never the secret
		return i18n.NewError(i18n.KindInput, "app.proxylogin.no-keyring").WithHint("app.proxylogin.no-keyring.hint").Wrap(err)
	}
	return nil
}

// ForgetProxyLogin removes the saved login from the keyring and this
// core's memory (Config's login stays). found reports whether the keyring
// held one.
func (c *Core) ForgetProxyLogin() (found bool, err error) {
	s := &c.login
	s.mu.Lock()
	if s.login.from != LoginFromConfig {
		s.login, s.explicit = proxyLogin{}, false
	}
	s.keyring = proxyLogin{}
	s.mu.Unlock()
	if c.keyringOff() {
		return false, i18n.NewError(i18n.KindInput, "app.proxylogin.keyring-off", KeyringEnv).WithHint("app.proxylogin.no-keyring.hint")
	}
	err = keyring.Delete(crypto.KeyringService, ProxyKeyringAccount)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, keyring.ErrNotFound):
		return false, nil
	}
	return false, i18n.NewError(i18n.KindInput, "app.proxylogin.no-keyring").WithHint("app.proxylogin.no-keyring.hint").Wrap(err)
}

// validProxyUser: no colon (Basic separates user and password with it)
// and no line break.
func validProxyUser(u string) bool { return !strings.ContainsAny(u, ":\r\n") }

// ProxyLoginUser is the proxy login's user name ("" = none) and where the
// login comes from (LoginFrom…); never the password.
func (c *Core) ProxyLoginUser() (user, from string) {
	l := c.proxyLoginNow()
	return l.User, l.from
}

// ProxyPrompt asks the user for a proxy login after a 407: proxy is the
// proxy's address, user the current user name ("" = none), refused
// whether a login was sent and refused. ok false: none given.
type ProxyPrompt func(ctx context.Context, proxy, user string, refused bool) (newUser, password string, ok bool)

// SetProxyPrompt makes the core's requests ask f when the proxy wants a
// login it does not have (the CLI on a terminal), take the answer as the
// session's login (SetProxyLogin without save) and send the request
// again. The GUI instead shows its dialog after the failed step.
func (c *Core) SetProxyPrompt(f ProxyPrompt) {
	if c.tlsBase == nil {
		return // a client of the caller's own (Config.HTTPClient)
	}
	// the transport httpclient.New made, under any layer around it
	httpclient.SetProxyPrompt(&http.Client{Transport: c.tlsBase}, func(ctx context.Context, proxy, user string, refused bool) bool {
		u, pw, ok := f(ctx, proxy, user, refused)
		if !ok || c.SetProxyLogin(u, pw, false) != nil {
			return false
		}
		return true
	})
}

// ProxyAuthProblem reports whether err is a proxy's 407 (a look-up, a
// step of a flow): the proxy's address and whether a login was sent and
// refused. The GUI asks for the login then (ui/proxylogin.go).
func ProxyAuthProblem(err error) (proxy string, refused, ok bool) {
	var pe *httpclient.ProxyAuthError
	if errors.As(err, &pe) {
		// a login of another kind than the proxy takes: asking for a
		// password again does not help
		return pe.Proxy, pe.WithCredentials, pe.Unsupported == ""
	}
	if ue, isUE := i18n.AsUserError(err); isUE {
		return proxyAuthKey(ue.Key, ue.Args)
	}
	return "", false, false
}

// ProxyAuth reports whether the job failed on a proxy's 407, as
// ProxyAuthProblem.
func (e *JobError) ProxyAuth() (proxy string, refused, ok bool) {
	if e == nil {
		return "", false, false
	}
	return proxyAuthKey(e.Key, e.args())
}

func proxyAuthKey(key string, args []any) (string, bool, bool) {
	switch key {
	case "transfer.net.proxy.auth-needed", "transfer.net.proxy.auth-wrong":
		proxy := ""
		if len(args) > 0 {
			proxy = fmt.Sprint(args[0])
		}
		return proxy, key == "transfer.net.proxy.auth-wrong", true
	}
	return "", false, false
}
