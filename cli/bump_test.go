package cli

import (
	"crypto/x509/pkix"
	"os"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bildbote/bildbote/internal/testkit/squid"
	"github.com/bildbote/bildbote/internal/testkit/testca"
)

// portalCert makes the TLS portal's CA and certificate for 127.0.0.1
// in the script's work dir, sets $PORTAL_CA to the CA file and returns
// the certificate (with the chain) and key files.
func portalCert(ts *testscript.TestScript) (cert, key string) {
	dir := ts.MkAbs("portal-tls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	ca, err := testca.New(dir, "ca", pkix.Name{CommonName: "Bildbote Test Portal CA", Organization: []string{"Bildbote Test"}}, testca.Options{})
	if err != nil {
		ts.Fatalf("portal CA: %v", err)
	}
	leaf, err := ca.Issue(dir, "portal", []string{"127.0.0.1"}, testca.Options{})
	if err != nil {
		ts.Fatalf("portal certificate: %v", err)
	}
	ts.Setenv("PORTAL_CA", ca.CertFile)
	return leaf.CertFile, leaf.KeyFile
}

// bumpsquid VAR starts a squid that inspects TLS (ssl_bump) with
// its own CA "Klinik Süd TLS-Inspektion" and trusts $PORTAL_CA for the
// origin; it sets $VAR to its URL, $VAR_LOG to its access log and
// $VAR_CA to its CA's certificate (PEM). TestProxyScript checks for
// squid-openssl's certificate generator (squid.BumpAvailable).
func bumpSquid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: bumpsquid VAR")
	}
	dir := ts.MkAbs("squid-" + args[0])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	ca, err := testca.New(ts.MkAbs("."), "inspecting-ca", pkix.Name{CommonName: "Klinik Süd TLS-Inspektion", Organization: []string{"Klinik Süd IT"}}, testca.Options{})
	if err != nil {
		ts.Fatalf("inspecting CA: %v", err)
	}
	p, err := squid.StartIn(dir, squid.Options{Bump: &squid.Bump{CACert: ca.CertFile, CAKey: ca.KeyFile, Trust: ts.Getenv("PORTAL_CA")}})
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ts.Defer(p.Stop)
	ts.Setenv(args[0], p.URL)
	ts.Setenv(args[0]+"_LOG", p.AccessLog)
	ts.Setenv(args[0]+"_CA", ca.CertFile)
}
