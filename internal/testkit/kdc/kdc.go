// Package kdc runs a real MIT Kerberos KDC (Debian's krb5-kdc) for tests:
// a realm of its own in a directory of the test's, listening on a free
// port of 127.0.0.1 only, with user principals (password) and service
// principals (random key, in a keytab for the service).
//
//	k := kdc.Start(t, "BILDBOTE.TEST", map[string]string{"anna": "geheim"}, "HTTP/localhost")
//	t.Setenv("KRB5_CONFIG", k.Conf)   // clients find the KDC there
//	... a service uses k.Keytab ...
//
// Without krb5kdc, kdb5_util or kadmin.local (packages krb5-kdc,
// krb5-admin-server) the test is skipped, and fails under CI=true.
package kdc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// Debian's paths.
const (
	KDCBinary = "/usr/sbin/krb5kdc"
	DBUtil    = "/usr/sbin/kdb5_util"
	Admin     = "/usr/sbin/kadmin.local"
)

// KDC is a running realm.
type KDC struct {
	Realm  string
	Addr   string // 127.0.0.1:PORT
	Conf   string // krb5.conf for clients and services (KRB5_CONFIG)
	Keytab string // the service principals' keys
	Dir    string
	env    []string
	cmd    *exec.Cmd
	done   chan struct{}
}

// Available checks for the programs; it skips t (fails under CI=true).
func Available(t testing.TB) {
	t.Helper()
	for _, p := range []string{KDCBinary, DBUtil, Admin} {
		corpus.Path(t, p)
	}
}

// Start creates the realm with users (name → password) and services
// (random keys into Keytab), starts the KDC and stops it when t ends.
func Start(t testing.TB, realm string, users map[string]string, services ...string) *KDC {
	t.Helper()
	Available(t)
	k, err := StartIn(t.TempDir(), realm, users, services...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Stop)
	return k
}

// StartIn is Start with its files in dir; Stop ends the KDC.
func StartIn(dir, realm string, users map[string]string, services ...string) (*KDC, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	k := &KDC{Realm: realm, Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, done: make(chan struct{}),
		Conf: filepath.Join(dir, "krb5.conf"), Keytab: filepath.Join(dir, "service.keytab")}
	conf := fmt.Sprintf(`[libdefaults]
 default_realm = %[1]s
 dns_lookup_kdc = false
 dns_lookup_realm = false
 rdns = false
 ignore_acceptor_hostname = true
 udp_preference_limit = 1
[realms]
 %[1]s = {
  kdc = %[2]s
 }
[domain_realm]
 localhost = %[1]s
 127.0.0.1 = %[1]s
`, realm, k.Addr)
	kdcConf := fmt.Sprintf(`[kdcdefaults]
 kdc_listen = %[2]s
 kdc_tcp_listen = %[2]s
[realms]
 %[1]s = {
  database_name = %[3]s/principal
  key_stash_file = %[3]s/stash
  acl_file = %[3]s/kadm5.acl
  kdc_listen = %[2]s
  kdc_tcp_listen = %[2]s
  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
 }
[logging]
 kdc = FILE:%[3]s/kdc.log
`, realm, k.Addr, dir)
	if err := os.WriteFile(k.Conf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "kdc.conf"), []byte(kdcConf), 0o600); err != nil {
		return nil, err
	}
	k.env = append(os.Environ(), "KRB5_CONFIG="+k.Conf, "KRB5_KDC_PROFILE="+filepath.Join(dir, "kdc.conf"))
	run := func(name string, args ...string) error {
		c := exec.Command(name, args...)
		c.Env = k.env
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run(DBUtil, "create", "-s", "-r", realm, "-P", "test-master-key"); err != nil {
		return nil, err
	}
	for name, pw := range users {
		if err := run(Admin, "-r", realm, "-q", fmt.Sprintf("addprinc -pw %s %s", pw, name)); err != nil {
			return nil, err
		}
	}
	for _, s := range services {
		if err := run(Admin, "-r", realm, "-q", "addprinc -randkey "+s); err != nil {
			return nil, err
		}
		if err := run(Admin, "-r", realm, "-q", fmt.Sprintf("ktadd -k %s %s", k.Keytab, s)); err != nil {
			return nil, err
		}
	}
	if len(services) > 0 {
		os.Chmod(k.Keytab, 0o644) // a test's service may run as another user (squid as proxy)
	}
	k.cmd = exec.Command(KDCBinary, "-n", "-r", realm, "-P", filepath.Join(dir, "kdc.pid"))
	k.cmd.Env = k.env
	out, err := os.Create(filepath.Join(dir, "kdc.out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	k.cmd.Stdout, k.cmd.Stderr = out, out
	if err := k.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start krb5kdc: %w", err)
	}
	go func() { k.cmd.Wait(); close(k.done) }()
	end := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", k.Addr, time.Second); err == nil {
			c.Close()
			return k, nil
		}
		select {
		case <-k.done:
			data, _ := os.ReadFile(filepath.Join(dir, "kdc.out"))
			return nil, fmt.Errorf("krb5kdc exited: %s", data)
		default:
		}
		if time.Now().After(end) {
			k.Stop()
			return nil, fmt.Errorf("krb5kdc not listening on %s after 15 s", k.Addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the KDC (SIGTERM, SIGKILL after 5 s).
func (k *KDC) Stop() {
	if k.cmd == nil || k.cmd.Process == nil {
		return
	}
	k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(5 * time.Second):
		k.cmd.Process.Kill()
		<-k.done
	}
}
