// Package squid runs a real Debian squid for tests: an HTTP proxy on a
// free port of 127.0.0.1, with its own configuration, logs and (memory
// only) cache in a directory of the test's, optionally with a proxy
// login (Options.Auth): Basic through squid's basic_ncsa_auth and an
// htpasswd file written with `openssl passwd -apr1`, Digest through
// digest_file_auth and a password file, or NTLM through ntlm_fake_auth
// (squid's own helper: it runs the real type 1/2/3 handshake and takes
// any password, so it proves the handshake, not the password).
//
//	p := squid.Start(t, squid.Options{Users: map[string]string{"anna": "s3cret"}})
//	p := squid.Start(t, squid.Options{Auth: squid.Digest, Users: …})
//	... send requests through p.URL ...
//	p.WaitLog(t, "POST http://127.0.0.1:…/files/", 10*time.Second)
//
// squid is started as `squid -N -f CONF` (no daemon) and stopped by its
// PID when the test ends. Without squid (package squid) or openssl the
// test is skipped on a developer's machine and fails under CI=true.
// Inside a testscript, where there is no testing.TB, call Available in
// the Go test first, then StartIn with the script's work directory.
package squid

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// Debian's paths.
const (
	Binary     = "/usr/sbin/squid"
	NCSAAuth   = "/usr/lib/squid/basic_ncsa_auth"
	DigestAuth = "/usr/lib/squid/digest_file_auth"
	NTLMAuth   = "/usr/lib/squid/ntlm_fake_auth"
	// NegotiateAuth checks Kerberos tickets against a keytab.
	NegotiateAuth = "/usr/lib/squid/negotiate_kerberos_auth"
	startWait     = 30 * time.Second
)

// Options.Auth values: the proxy login squid asks for.
const (
	Basic  = "basic"
	Digest = "digest"
	NTLM   = "ntlm"
	// Negotiate: Kerberos through negotiate_kerberos_auth; needs
	// Options.Kerberos (e.g. from internal/testkit/kdc).
	Negotiate = "negotiate"
)

// Kerberos is the proxy's side of a realm for Auth Negotiate.
type Kerberos struct {
	Conf      string // krb5.conf (copied into squid's dir)
	Keytab    string // the service's keytab (copied, readable by squid's user)
	Principal string // e.g. HTTP/localhost@BILDBOTE.TEST
}

// Options configure the proxy.
type Options struct {
	// Users, when set, require a proxy login (407 without one):
	// name → password. With Auth NTLM any user passes the handshake
	// (ntlm_fake_auth), Users then only switch the login on.
	Users map[string]string
	// Auth is the scheme: Basic (default), Digest or NTLM.
	Auth string
	// NonceMaxCount, for Digest, is how often a nonce may be used before
	// squid answers 407 stale=true (squid's default 50).
	NonceMaxCount int
	// Bump, when set, makes squid inspect TLS (ssl_bump, see Bump).
	Bump *Bump
	// Kerberos, for Auth Negotiate.
	Kerberos *Kerberos
	// RequestBodyMax, when > 0, is squid's request_body_max_size in
	// bytes: a larger request body gets squid's own 413 (a clinic
	// filter capping uploads). Squid sees bodies of plain http requests
	// and of bumped TLS only; a CONNECT tunnel is opaque to it.
	RequestBodyMax int64
}

// Proxy is a running squid.
type Proxy struct {
	URL       string // http://127.0.0.1:PORT
	Addr      string // 127.0.0.1:PORT
	Dir       string // configuration, logs, cache
	AccessLog string // squid's access.log (one line per request)
	cmd       *exec.Cmd
	done      chan struct{}
}

// Available checks for squid, its auth helpers and openssl; it skips t
// (fails under CI=true) when one is missing.
func Available(t testing.TB) {
	t.Helper()
	corpus.Path(t, Binary)
	corpus.Path(t, NCSAAuth)
	corpus.Path(t, DigestAuth)
	corpus.Path(t, NTLMAuth)
	corpus.Tool(t, "openssl")
}

// Start starts squid in a directory of t's and stops it when t ends.
func Start(t testing.TB, o Options) *Proxy {
	t.Helper()
	Available(t)
	p, err := StartIn(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// StartIn starts squid with its files in dir (which must exist) and
// waits, at most 30 s, until it accepts connections. Stop ends it.
func StartIn(dir string, o Options) (*Proxy, error) {
	var last error
	for try := 0; try < 3; try++ { // a free port may be taken again before squid binds it
		p, err := start(dir, o)
		if err == nil {
			return p, nil
		}
		last = err
	}
	return nil, last
}

func start(dir string, o Options) (*Proxy, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, AccessLog: filepath.Join(dir, "access.log"), done: make(chan struct{})}
	p.URL = "http://" + p.Addr
	var conf strings.Builder
	fmt.Fprintf(&conf, "http_port %s%s\n", p.Addr, o.Bump.portOptions(dir))
	for _, l := range []string{
		"pid_filename " + filepath.Join(dir, "squid.pid"),
		"access_log stdio:" + p.AccessLog,
		"cache_log " + filepath.Join(dir, "cache.log"),
		"cache_store_log none",
		"coredump_dir " + dir,
		"netdb_filename none",
		"cache deny all",
		"cache_mem 8 MB",
		"shutdown_lifetime 1 seconds",
		"forwarded_for delete",
		"visible_hostname bildbote-test-squid",
		"acl localhost src 127.0.0.1/32",
	} {
		conf.WriteString(l + "\n")
	}
	if o.RequestBodyMax > 0 {
		fmt.Fprintf(&conf, "request_body_max_size %d bytes\n", o.RequestBodyMax)
	}
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		// As root squid switches to Debian's "proxy" user: give it the dir.
		if pu, err := user.Lookup("proxy"); err == nil {
			uid, _ := strconv.Atoi(pu.Uid)
			gid, _ := strconv.Atoi(pu.Gid)
			if err := os.Chown(dir, uid, gid); err != nil {
				return nil, err
			}
			if err := traversable(dir); err != nil {
				return nil, err
			}
			conf.WriteString("cache_effective_user proxy\n")
		}
	}
	var env []string // for squid and its helpers
	if len(o.Users) > 0 || o.Auth == Negotiate {
		pw := filepath.Join(dir, "passwd")
		switch o.Auth {
		case "", Basic:
			if err := writeHtpasswd(pw, o.Users); err != nil {
				return nil, err
			}
			fmt.Fprintf(&conf, "auth_param basic program %s %s\n", NCSAAuth, pw)
			conf.WriteString("auth_param basic children 2\nauth_param basic realm bildbote-test\n")
		case Digest:
			if err := writeDigestFile(pw, o.Users); err != nil {
				return nil, err
			}
			fmt.Fprintf(&conf, "auth_param digest program %s %s\n", DigestAuth, pw)
			conf.WriteString("auth_param digest children 2\nauth_param digest realm bildbote-test\n")
			if o.NonceMaxCount > 0 {
				fmt.Fprintf(&conf, "auth_param digest nonce_max_count %d\n", o.NonceMaxCount)
			}
		case NTLM:
			fmt.Fprintf(&conf, "auth_param ntlm program %s\n", NTLMAuth)
			conf.WriteString("auth_param ntlm children 2\nauth_param ntlm keep_alive on\n")
		case Negotiate:
			k := o.Kerberos
			if k == nil {
				return nil, errors.New("squid: Auth Negotiate needs Kerberos")
			}
			kt, kc := filepath.Join(dir, "http.keytab"), filepath.Join(dir, "krb5.conf")
			for from, to := range map[string]string{k.Keytab: kt, k.Conf: kc} {
				data, err := os.ReadFile(from)
				if err != nil {
					return nil, err
				}
				if err := os.WriteFile(to, data, 0o644); err != nil {
					return nil, err
				}
			}
			env = []string{"KRB5_CONFIG=" + kc, "KRB5_KTNAME=" + kt, "KRB5RCACHETYPE=none"}
			fmt.Fprintf(&conf, "auth_param negotiate program %s -k %s -s %s\n", NegotiateAuth, kt, k.Principal)
			conf.WriteString("auth_param negotiate children 2\nauth_param negotiate keep_alive on\n")
		default:
			return nil, fmt.Errorf("squid: unknown Auth %q", o.Auth)
		}
		conf.WriteString("acl login proxy_auth REQUIRED\nhttp_access allow localhost login\n")
	} else {
		conf.WriteString("http_access allow localhost\n")
	}
	conf.WriteString("http_access deny all\n")
	if err := o.Bump.setup(&conf, dir); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "squid.conf")
	if err := os.WriteFile(cfg, []byte(conf.String()), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.Command(Binary, "-k", "parse", "-f", cfg).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("squid -k parse %s: %v\n%s", cfg, err, out)
	}
	out := filepath.Join(dir, "squid.out")
	f, err := os.Create(out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p.cmd = exec.Command(Binary, "-N", "-f", cfg)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start squid: %w", err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(startWait)
	for {
		select {
		case <-p.done:
			return nil, fmt.Errorf("squid exited before listening on %s:\n%s", p.Addr, p.logs())
		default:
		}
		if c, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
			c.Close()
			return p, nil
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("squid not listening on %s after %s:\n%s", p.Addr, startWait, p.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends squid (SIGTERM, then SIGKILL after 10 s).
func (p *Proxy) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Log is squid's access log so far.
func (p *Proxy) Log() string {
	data, _ := os.ReadFile(p.AccessLog)
	return string(data)
}

// Lines returns the access-log lines that contain every one of parts.
func (p *Proxy) Lines(parts ...string) []string {
	var out []string
	for _, l := range strings.Split(p.Log(), "\n") {
		ok := l != ""
		for _, s := range parts {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// WaitFor waits at most d until an access-log line contains every part
// (squid writes a line when a request ends) and returns those lines.
func (p *Proxy) WaitFor(d time.Duration, parts ...string) ([]string, error) {
	end := time.Now().Add(d)
	for {
		if l := p.Lines(parts...); len(l) > 0 {
			return l, nil
		}
		if time.Now().After(end) {
			return nil, fmt.Errorf("no squid access-log line with %q after %s; log:\n%s", parts, d, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitLog is WaitFor that fails t.
func (p *Proxy) WaitLog(t testing.TB, d time.Duration, parts ...string) []string {
	t.Helper()
	l, err := p.WaitFor(d, parts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (p *Proxy) logs() string {
	var b bytes.Buffer
	for _, n := range []string{"squid.out", "cache.log"} {
		data, _ := os.ReadFile(filepath.Join(p.Dir, n))
		fmt.Fprintf(&b, "--- %s\n%s\n", n, tail(string(data), 3000))
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// writeHtpasswd writes name:$apr1$… lines, hashed by openssl.
func writeHtpasswd(path string, users map[string]string) error {
	names := make([]string, 0, len(users))
	for n := range users {
		if strings.ContainsAny(n, ":\n") {
			return errors.New("squid: a user name must not contain ':' or a line end")
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		cmd := exec.Command("openssl", "passwd", "-apr1", "-stdin")
		cmd.Stdin = strings.NewReader(users[n] + "\n")
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("openssl passwd -apr1: %w", err)
		}
		fmt.Fprintf(&b, "%s:%s\n", n, strings.TrimSpace(string(out)))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeDigestFile writes name:password lines for digest_file_auth (it
// reads them as plain text; the file is the test's own).
func writeDigestFile(path string, users map[string]string) error {
	names := make([]string, 0, len(users))
	for n, p := range users {
		if strings.ContainsAny(n, ":\n") || strings.Contains(p, "\n") {
			return errors.New("squid: a user name must not contain ':' or a line end, a password no line end")
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s:%s\n", n, users[n])
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// traversable lets others pass through (not list) the test's temporary
// dirs above dir (t.TempDir makes them 0700), up to the system's temp dir.
func traversable(dir string) error {
	root := filepath.Clean(os.TempDir())
	for d := filepath.Dir(filepath.Clean(dir)); strings.HasPrefix(d, root+string(filepath.Separator)); d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if err := os.Chmod(d, st.Mode().Perm()|0o011); err != nil {
			return err
		}
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
