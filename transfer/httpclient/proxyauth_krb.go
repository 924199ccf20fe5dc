package httpclient

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	krbcreds "github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// Negotiate (Kerberos, RFC 4559) through github.com/jcmturner/gokrb5
// (pure Go), the realm's KDCs from krb5.conf ($KRB5_CONFIG, else
// /etc/krb5.conf), a service ticket for HTTP/<proxy host>:
//
//   - with an explicit user ("name" in the default realm, or
//     "name@REALM") and password, on every OS;
//   - without a user, on Linux and macOS, with the login's own tickets
//     from a file credential cache (kinit; $KRB5CCNAME as FILE:path or a
//     path, else /tmp/krb5cc_<uid>; KCM:, KEYRING: and API: caches are
//     not readable here).
//
// Without a krb5.conf Negotiate is not offered (NTLM or Basic answer
// instead); on Windows without a user SSPI does it with the Windows
// login (proxyauth_windows.go).

// krb5ConfPath is the krb5.conf to use, "" when there is none: only
// $KRB5_CONFIG when set (as MIT Kerberos does), else /etc/krb5.conf.
func krb5ConfPath() string {
	p := os.Getenv("KRB5_CONFIG")
	if p == "" {
		p = "/etc/krb5.conf"
	}
	if i := strings.IndexByte(p, ':'); i > 0 && runtime.GOOS != "windows" {
		p = p[:i] // the first of a list
	}
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p
	}
	return ""
}

// kerberosAvailable: explicit credentials and a krb5.conf naming the
// user's realm (or a default one).
func kerberosAvailable(c credentials) bool {
	if !c.explicit {
		return false
	}
	cfg, err := loadKrb5Conf()
	if err != nil {
		return false
	}
	_, realm := krbUser(c.user, cfg)
	return realm != ""
}

var krbConf struct {
	mu   sync.Mutex
	path string
	cfg  *krbconfig.Config
	err  error
}

// loadKrb5Conf reads krb5.conf once per path.
func loadKrb5Conf() (*krbconfig.Config, error) {
	p := krb5ConfPath()
	if p == "" {
		return nil, errors.New("no krb5.conf")
	}
	krbConf.mu.Lock()
	defer krbConf.mu.Unlock()
	if krbConf.path != p {
		krbConf.path = p
		krbConf.cfg, krbConf.err = krbconfig.Load(p)
	}
	return krbConf.cfg, krbConf.err
}

// krbUser splits "name@REALM"; a bare name takes the default realm.
func krbUser(user string, cfg *krbconfig.Config) (name, realm string) {
	if i := strings.LastIndex(user, "@"); i > 0 {
		return user[:i], strings.ToUpper(user[i+1:])
	}
	return user, cfg.LibDefaults.DefaultRealm
}

// krbAuth is one Negotiate exchange: the SPNEGO token with the service
// ticket for HTTP/host; a second challenge means refused.
type krbAuth struct {
	cl   *krbclient.Client
	spn  string
	leg  int
	done func()
}

// newKerberos logs c in at the KDC (AS exchange) and prepares the token
// for HTTP/host.
func newKerberos(c credentials, host string) (connAuth, error) {
	cfg, err := loadKrb5Conf()
	if err != nil {
		return nil, err
	}
	name, realm := krbUser(c.user, cfg)
	cl := krbclient.NewWithPassword(name, realm, c.password, cfg, krbclient.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		return nil, fmt.Errorf("kerberos login of %s@%s: %w", name, realm, errors.New(firstLine(err.Error())))
	}
	return &krbAuth{cl: cl, spn: "HTTP/" + host, done: cl.Destroy}, nil
}

// firstLine keeps an error short (gokrb5's carry stacks of context).
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// ccachePath is the login's file credential cache, "" when there is none.
func ccachePath() string {
	if runtime.GOOS == "windows" {
		return ""
	}
	v := os.Getenv("KRB5CCNAME")
	switch {
	case strings.HasPrefix(v, "FILE:"):
		v = strings.TrimPrefix(v, "FILE:")
	case v == "":
		v = fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
	case strings.Contains(v, ":"):
		return "" // KCM:, KEYRING:, API:, DIR: …
	}
	if st, err := os.Stat(v); err == nil && st.Mode().IsRegular() {
		return v
	}
	return ""
}

// ccacheAvailable: no explicit user, a ticket cache and a krb5.conf.
func ccacheAvailable(c credentials) bool {
	if c.explicit || ccachePath() == "" {
		return false
	}
	_, err := loadKrb5Conf()
	return err == nil
}

// newKerberosCCache takes the login's tickets from its cache.
func newKerberosCCache(host string) (connAuth, error) {
	cfg, err := loadKrb5Conf()
	if err != nil {
		return nil, err
	}
	p := ccachePath()
	cc, err := krbcreds.LoadCCache(p)
	if err != nil {
		return nil, fmt.Errorf("kerberos ticket cache %s: %w", p, err)
	}
	cl, err := krbclient.NewFromCCache(cc, cfg, krbclient.DisablePAFXFAST(true))
	if err != nil {
		return nil, fmt.Errorf("kerberos ticket cache %s: %w", p, errors.New(firstLine(err.Error())))
	}
	return &krbAuth{cl: cl, spn: "HTTP/" + host, done: cl.Destroy}, nil
}

func (k *krbAuth) Step(in []byte) ([]byte, error) {
	k.leg++
	if k.leg > 1 {
		return nil, nil
	}
	s := spnego.SPNEGOClient(k.cl, k.spn)
	if err := s.AcquireCred(); err != nil {
		return nil, fmt.Errorf("kerberos ticket for %s: %w", k.spn, errors.New(firstLine(err.Error())))
	}
	st, err := s.InitSecContext()
	if err != nil {
		return nil, fmt.Errorf("kerberos ticket for %s: %w", k.spn, errors.New(firstLine(err.Error())))
	}
	return st.Marshal()
}

func (k *krbAuth) Close() { k.done() }
