package squid

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// CertGen is squid-openssl's certificate generator for ssl_bump.
const CertGen = "/usr/lib/squid/security_file_certgen"

// Bump makes squid inspect TLS the way a clinic's proxy does (ssl_bump,
// squid-openssl): it peeks at the client's hello, then bumps every
// CONNECT tunnel — it shows the client a certificate for the requested
// host that it generates on the fly and signs with CA, and opens its own
// TLS connection to the origin, which it verifies against Trust. The
// access log then shows each request inside the tunnel (method and
// https:// URL), not just the CONNECT.
//
// The test makes the CA (see internal/testkit/testca); squid's copies of
// the files, its certificate database (security_file_certgen -c) and its
// configuration stay in the proxy's directory.
type Bump struct {
	CACert string // the inspecting CA's certificate (PEM)
	CAKey  string // its private key (PEM)
	// Trust is the CA file (PEM) squid verifies origins against
	// (tls_outgoing_options cafile=): the test portal's CA. "": the
	// system's.
	Trust string
}

// BumpAvailable checks for squid-openssl's certificate generator on top
// of Available; it skips t (fails under CI=true) when one is missing.
func BumpAvailable(t testing.TB) {
	t.Helper()
	Available(t)
	corpus.Path(t, CertGen)
}

// portOptions is what http_port takes for bumping ("" without Bump).
func (b *Bump) portOptions(dir string) string {
	if b == nil {
		return ""
	}
	return fmt.Sprintf(" ssl-bump generate-host-certificates=on dynamic_cert_mem_cache_size=4MB tls-cert=%s tls-key=%s",
		filepath.Join(dir, "bump-ca.pem"), filepath.Join(dir, "bump-ca.key"))
}

// setup copies the CA and trust files into dir, creates the certificate
// database and writes the ssl_bump lines into conf.
func (b *Bump) setup(conf *strings.Builder, dir string) error {
	if b == nil {
		return nil
	}
	if b.CACert == "" || b.CAKey == "" {
		return fmt.Errorf("squid: Bump needs CACert and CAKey")
	}
	files := map[string]string{"bump-ca.pem": b.CACert, "bump-ca.key": b.CAKey}
	if b.Trust != "" {
		files["bump-trust.pem"] = b.Trust
	}
	for name, src := range files {
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("squid: bump: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	db := filepath.Join(dir, "ssl_db")
	if err := os.RemoveAll(db); err != nil { // a retry of start: -c wants a new dir
		return err
	}
	if out, err := exec.Command(CertGen, "-c", "-s", db, "-M", "4MB").CombinedOutput(); err != nil {
		return fmt.Errorf("squid: %s -c -s %s: %v\n%s", CertGen, db, err, out)
	}
	if err := giveToProxyUser(dir); err != nil {
		return err
	}
	fmt.Fprintf(conf, "sslcrtd_program %s -s %s -M 4MB\n", CertGen, db)
	conf.WriteString("sslcrtd_children 3 startup=1 idle=1\n")
	conf.WriteString("acl step1 at_step SslBump1\nssl_bump peek step1\nssl_bump bump all\n")
	if b.Trust != "" {
		fmt.Fprintf(conf, "tls_outgoing_options cafile=%s\n", filepath.Join(dir, "bump-trust.pem"))
	}
	return nil
}

// giveToProxyUser hands dir's files to Debian's "proxy" user when we
// are root (squid and its helpers run as that user then).
func giveToProxyUser(dir string) error {
	u, err := user.Current()
	if err != nil || u.Uid != "0" {
		return nil
	}
	pu, err := user.Lookup("proxy")
	if err != nil {
		return nil
	}
	uid, _ := strconv.Atoi(pu.Uid)
	gid, _ := strconv.Atoi(pu.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}
