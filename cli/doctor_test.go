package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bildbote/bildbote/internal/testkit/squid"
	"github.com/bildbote/bildbote/internal/testkit/testca"
)

// TestDoctorScript runs testdata/doctor: bildbote-cli doctor against the
// real reference portal on loopback — direct, through a real squid (its
// access log shows the doctor's requests), a closed proxy port, a portal
// that is down, the portal behind TLS with a certificate nobody trusts,
// and behind a front whose Date header is 15 minutes off — in English
// and German. Without squid: skipped, failed under CI=true.
func TestDoctorScript(t *testing.T) {
	squid.BumpAvailable(t)
	testscript.Run(t, testscript.Params{
		Dir:   "testdata/doctor",
		Setup: scriptSetup,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"jsonshape": jsonShape, "startportal": startPortal,
			"startsquid": startSquid, "squidlog": squidLog,
			"closedport": closedPort, "startfront": startFront, "localhost": localhostURL,
			"starttlsportal": startTLSPortal, "startbumpsquid": startBumpSquid, "subst": substCmd,
		},
		UpdateScripts: os.Getenv("UPDATE_GOLDEN") != "",
	})
}

// closedport VAR sets $VAR to 127.0.0.1:PORT where nobody listens (a port
// that was just free and is closed again).
func closedPort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: closedport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.Fatalf("%v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ts.Setenv(args[0], addr)
}

// localhost VAR URL sets $VAR to URL with 127.0.0.1 named localhost.
func localhostURL(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: localhost VAR URL")
	}
	ts.Setenv(args[0], strings.Replace(args[1], "127.0.0.1", "localhost", 1))
}

// startfront VAR MODE TARGET serves TARGET (the portal) on a new
// 127.0.0.1 port and sets $VAR to its URL. MODE tls: over TLS with a
// certificate for 127.0.0.1 issued by a test CA nobody trusts ("Bildbote
// Test Inspection CA"); MODE skew: plain HTTP whose Date header is 15
// minutes ahead of the clock (the portal's answer otherwise).
func startFront(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: startfront VAR tls|skew TARGET")
	}
	target, err := url.Parse(args[2])
	if err != nil {
		ts.Fatalf("%v", err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.Fatalf("%v", err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	switch args[1] {
	case "skew":
		rp.ModifyResponse = func(r *http.Response) error {
			r.Header.Set("Date", time.Now().Add(15*time.Minute).UTC().Format(http.TimeFormat))
			return nil
		}
	case "tls":
		cert, err := untrustedCert()
		if err != nil {
			ts.Fatalf("%v", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	default:
		ts.Fatalf("startfront: unknown mode %q", args[1])
	}
	go srv.Serve(ln)
	ts.Defer(func() { srv.Close() })
	ts.Setenv(args[0], scheme+"://"+ln.Addr().String())
}

// starttlsportal VAR TARGET serves TARGET (the portal) over TLS (HTTP/2
// offered) with a certificate for 127.0.0.1 from a fresh "Test Portal
// CA", valid DAYS (default 90), and sets $VAR to its URL and $VAR_CA to that CA's certificate.
func startTLSPortal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: starttlsportal VAR TARGET [DAYS]")
	}
	days := 90
	if len(args) == 3 {
		n, err := strconv.Atoi(args[2])
		if err != nil {
			ts.Fatalf("starttlsportal: days %q: %v", args[2], err)
		}
		days = n
	}
	valid := testca.Options{NotAfter: time.Now().Add(time.Duration(days) * 24 * time.Hour)}
	target, err := url.Parse(args[1])
	if err != nil {
		ts.Fatalf("%v", err)
	}
	dir := ts.MkAbs("ca-" + args[0])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	ca, err := testca.New(dir, "portal-ca", pkix.Name{CommonName: "Test Portal CA"}, testca.Options{NotAfter: time.Now().Add(365 * 24 * time.Hour)})
	if err != nil {
		ts.Fatalf("%v", err)
	}
	leaf, err := ca.Issue(dir, "portal", []string{"127.0.0.1"}, valid)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.Fatalf("%v", err)
	}
	srv := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target), ReadHeaderTimeout: 10 * time.Second}
	go srv.ServeTLS(ln, leaf.CertFile, leaf.KeyFile)
	ts.Defer(func() { srv.Close() })
	ts.Setenv(args[0], "https://"+ln.Addr().String())
	ts.Setenv(args[0]+"_CA", ca.CertFile)
}

// startbumpsquid VAR TRUST starts a squid that inspects TLS (ssl_bump)
// with a fresh CA "Klinik TLS-Inspektion CA" (O "Klinik Süd IT"),
// trusting the origins' CA file TRUST, and sets $VAR, $VAR_LOG and $VAR_CA
// (the inspecting CA's certificate, for --ca-bundle).
func startBumpSquid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: startbumpsquid VAR TRUST")
	}
	dir := ts.MkAbs("squid-" + args[0])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	ca, err := testca.New(dir, "bump-ca", pkix.Name{CommonName: "Klinik TLS-Inspektion CA", Organization: []string{"Klinik Süd IT"}},
		testca.Options{NotAfter: time.Now().Add(365 * 24 * time.Hour)})
	if err != nil {
		ts.Fatalf("%v", err)
	}
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	p, err := squid.StartIn(run, squid.Options{Bump: &squid.Bump{CACert: ca.CertFile, CAKey: ca.KeyFile, Trust: args[1]}})
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ts.Defer(p.Stop)
	ts.Setenv(args[0], p.URL)
	ts.Setenv(args[0]+"_LOG", p.AccessLog)
	ts.Setenv(args[0]+"_CA", ca.CertFile)
}

// untrustedCert is a leaf for 127.0.0.1 (CN "portal.test") and its CA
// ("Bildbote Test Inspection CA"), made fresh, in no trust store.
func untrustedCert() (tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Bildbote Test Inspection CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "portal.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"portal.test"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}, nil
}
