package dimse

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/tlscert"
)

// tlsStorescp starts storescp with DICOM TLS (+tls KEY CERT) in the
// private namespace; extra are further options (peer authentication:
// -ic ignore, -rc require with +cf CA).
func tlsStorescp(t *testing.T, server *tlscert.Leaf, extra ...string) (addr, dir string) {
	t.Helper()
	args := append([]string{"+tls", server.KeyFile, server.CertFile}, extra...)
	return storescp(t, args...)
}

// tlsCfg is a Config for addr with TLS trusting only roots' CA (not the
// machine's store) plus what tc adds; short bounds.
func tlsCfg(addr string, tc TLSConfig) Config {
	return Config{Addr: addr, Called: "STORESCP", TLS: &tc,
		ConnectTimeout: 3 * time.Second, ARTIM: 3 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
}

// wantTLS checks that err is the translated TLS problem with key, in
// German and English with the given parts in each, and returns it.
func wantTLS(t *testing.T, err error, problem, key string, parts ...string) *TLSError {
	t.Helper()
	ue, ok := i18n.AsUserError(err)
	if !ok || ue.Key != key {
		t.Fatalf("err %v, want UserError %s", err, key)
	}
	var te *TLSError
	if !errors.As(err, &te) || te.Problem != problem {
		t.Fatalf("err %v: TLSError %+v, want problem %s", err, te, problem)
	}
	for _, l := range i18n.Langs {
		msg, hint := i18n.Localize(l, err)
		if strings.Contains(msg, "dimse.") || strings.Contains(hint, "dimse.") || hint == "" {
			t.Errorf("%s: untranslated: %q / %q", l, msg, hint)
		}
		for _, p := range parts {
			if !strings.Contains(msg+" "+hint, p) {
				t.Errorf("%s: %q / %q lacks %q", l, msg, hint, p)
			}
		}
		t.Logf("%s: %s / %s", l, msg, hint)
	}
	return te
}

// dcmdumpOK runs dcmdump on a file storescp wrote: dcmtk itself reads it.
func dcmdumpOK(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(corpus.Tool(t, "dcmdump"), "-q", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dcmdump %s: %v\n%s", path, err, out)
	}
	return string(out)
}

// A PACS certificate from the clinic's CA, given as CA file: C-ECHO and
// C-STORE over TLS, by DNS name and by IP address; storescp (bit
// preserving) writes data sets byte for byte ours, and dcmdump reads them
// with the same SOP instance UIDs.
func TestTLSTrustedCAStores(t *testing.T) {
	needNetns(t)
	ca := tlscert.NewCA(t, "Klinik Test CA")
	srv := ca.Issue(t, tlscert.Options{CommonName: "pacs", Names: []string{"localhost", "127.0.0.1"}})
	addr, dir := tlsStorescp(t, srv, "-ic", "+xa")
	port := addr[strings.LastIndex(addr, ":")+1:]
	for _, a := range []string{addr, "localhost:" + port} {
		// The machine's trust store plus the CA file (as the product does).
		info, err := EchoInfo(testCtx(t), tlsCfg(a, TLSConfig{CAFile: ca.CertFile}))
		if err != nil {
			t.Fatalf("echo over TLS to %s: %v", a, err)
		}
		if info == nil || !strings.HasPrefix(info.Version, "TLS 1.") || info.Subject != "CN=pacs,O=Bildbote Test" ||
			info.Issuer != "CN=Klinik Test CA,O=Bildbote Test" || !info.NotAfter.Equal(srv.Cert.NotAfter) || info.ClientCert || info.CipherSuite == "" {
			t.Errorf("TLS info %+v", info)
		}
		t.Logf("%s: %s, %s", a, info.Version, info.CipherSuite)
	}
	if info, err := EchoInfo(testCtx(t), Config{Addr: peer(t, "storescp", "--aetitle", "STORESCP"), Called: "STORESCP"}); err != nil || info != nil {
		t.Errorf("plain echo: TLS info %+v, %v", info, err)
	}
	paths := mixedFiles(t, "CT_small.dcm", "MR_small_implicit.dcm", "rtplan.dcm", "JPEG2000.dcm", "0051.dcm")
	cfg := tlsCfg(addr, TLSConfig{CAFile: ca.CertFile, Roots: tlscert.NewCA(t, "unrelated").Pool()})
	cfg.MaxPDU, cfg.Associations = 4096, 2
	res, err := StoreFiles(testCtx(t), cfg, paths)
	if err != nil {
		t.Fatal(err)
	}
	got := received(t, dir)
	for _, r := range res {
		if !r.Stored() || r.Converted {
			t.Errorf("%s: stored %v converted %v err %v", filepath.Base(r.Path), r.Stored(), r.Converted, r.Err)
			continue
		}
		rcv := got[rcvKey{r.SOPInstanceUID, r.TransferSyntax}]
		if rcv == nil {
			t.Errorf("%s: storescp wrote no file", filepath.Base(r.Path))
			continue
		}
		orig, _ := OpenInstance(r.Path)
		if !bytes.Equal(dataSet(t, orig), dataSet(t, rcv)) {
			t.Errorf("%s: received data set differs", filepath.Base(r.Path))
		}
		if dump := dcmdumpOK(t, rcv.Path); !strings.Contains(dump, r.SOPInstanceUID) {
			t.Errorf("%s: dcmdump of the received file lacks %s", filepath.Base(r.Path), r.SOPInstanceUID)
		}
	}
	if len(got) != len(paths) {
		t.Errorf("storescp wrote %d files, want %d", len(got), len(paths))
	}
}

// A PACS certificate from a CA we do not trust: neither in the machine's
// store nor in a CA file of another CA. The message names the
// certificate's subject and issuer and asks for the PACS's CA file.
func TestTLSUntrusted(t *testing.T) {
	needNetns(t)
	ca := tlscert.NewCA(t, "PACS Hersteller CA")
	srv := ca.Issue(t, tlscert.Options{CommonName: "pacs.klinik.test", Names: []string{"127.0.0.1"}})
	addr, dir := tlsStorescp(t, srv, "-ic")
	other := tlscert.NewCA(t, "Other CA")
	// OpenSSL's fingerprint of the certificate, to compare with ours.
	fp, err := exec.Command(corpus.Tool(t, "openssl"), "x509", "-noout", "-fingerprint", "-sha256", "-in", srv.CertFile).Output()
	if err != nil {
		t.Fatalf("openssl x509 -fingerprint: %v", err)
	}
	_, want, _ := strings.Cut(strings.TrimSpace(string(fp)), "=")
	if Fingerprint256(srv.Cert) != want {
		t.Errorf("fingerprint %s, OpenSSL says %s", Fingerprint256(srv.Cert), want)
	}
	for _, tc := range []TLSConfig{{}, {CAFile: other.CertFile}} {
		start := time.Now()
		err := Echo(testCtx(t), tlsCfg(addr, tc))
		te := wantTLS(t, err, TLSUntrusted, "dimse.tls.untrusted", "CN=pacs.klinik.test", "CN=PACS Hersteller CA", "pacs_tls_ca", "--pacs-ca", "SHA-256 "+want)
		if te.Subject == "" || te.Issuer == "" {
			t.Errorf("subject %q issuer %q", te.Subject, te.Issuer)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v", d)
		}
	}
	if n := len(mustGlob(dir)); n != 0 {
		t.Errorf("storescp wrote %d files", n)
	}
}

// A certificate for other names than the address's host, and one that
// has expired.
func TestTLSNameMismatchAndExpired(t *testing.T) {
	needNetns(t)
	ca := tlscert.NewCA(t, "Klinik Test CA")
	srv := ca.Issue(t, tlscert.Options{CommonName: "pacs", Names: []string{"pacs.klinik.test", "10.1.2.3"}})
	addr, _ := tlsStorescp(t, srv, "-ic")
	err := Echo(testCtx(t), tlsCfg(addr, TLSConfig{Roots: ca.Pool()}))
	te := wantTLS(t, err, TLSNameMismatch, "dimse.tls.name", "127.0.0.1", "pacs.klinik.test, 10.1.2.3")
	if te.Host != "127.0.0.1" {
		t.Errorf("host %q", te.Host)
	}

	old := ca.Issue(t, tlscert.Options{CommonName: "pacs-alt", Names: []string{"127.0.0.1"},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2021, 6, 30, 0, 0, 0, 0, time.UTC)})
	addr2, _ := tlsStorescp(t, old, "-ic")
	err = Echo(testCtx(t), tlsCfg(addr2, TLSConfig{Roots: ca.Pool()}))
	wantTLS(t, err, TLSExpired, "dimse.tls.expired", "CN=pacs-alt", "2020-01-01", "2021-06-30")
}

// A PACS that requires a client certificate (storescp -rc with the
// clinic's client CA): without one the message says so; with one from
// that CA the files are stored; with one from another CA it is refused.
// In TLS 1.3 the PACS's verdict comes after our half of the handshake, in
// TLS 1.2 within it: both are told apart.
func TestTLSClientCertificate(t *testing.T) {
	for _, v := range []struct {
		name string
		max  uint16
	}{{"TLS 1.3", 0}, {"TLS 1.2", tls.VersionTLS12}} {
		t.Run(v.name, func(t *testing.T) {
			testMaxTLSVersion = v.max
			defer func() { testMaxTLSVersion = 0 }()
			testTLSClientCertificate(t, v.name)
		})
	}
}

func testTLSClientCertificate(t *testing.T, version string) {
	needNetns(t)
	ca := tlscert.NewCA(t, "Klinik Test CA")
	// dcmtk's TLS 1.2 suites (BCP 195) are ECDHE_RSA: an RSA key there.
	srv := ca.Issue(t, tlscert.Options{CommonName: "pacs", Names: []string{"127.0.0.1"}, RSA: version == "TLS 1.2"})
	clientCA := tlscert.NewCA(t, "Klinik Client CA")
	addr, dir := tlsStorescp(t, srv, "-rc", "+cf", clientCA.CertFile)

	start := time.Now()
	err := Echo(testCtx(t), tlsCfg(addr, TLSConfig{Roots: ca.Pool()}))
	wantTLS(t, err, TLSClientCertRequired, "dimse.tls.client_cert_required", "127.0.0.1", "pacs_tls_cert", "--pacs-cert")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}

	stranger := tlscert.NewCA(t, "Fremde CA").Issue(t, tlscert.Options{CommonName: "BILDBOTE", Client: true})
	err = Echo(testCtx(t), tlsCfg(addr, TLSConfig{Roots: ca.Pool(), CertFile: stranger.CertFile, KeyFile: stranger.KeyFile}))
	wantTLS(t, err, TLSClientCertRefused, "dimse.tls.client_cert_refused", "127.0.0.1")

	client := clientCA.Issue(t, tlscert.Options{CommonName: "BILDBOTE", Client: true})
	paths := mixedFiles(t, "CT_small.dcm", "MR_small.dcm")
	res, err := StoreFiles(testCtx(t), tlsCfg(addr, TLSConfig{Roots: ca.Pool(), CertFile: client.CertFile, KeyFile: client.KeyFile}), paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Stored() {
			t.Errorf("%s: %v", filepath.Base(r.Path), r.Err)
		}
	}
	got := received(t, dir)
	if len(got) != len(paths) {
		t.Errorf("storescp wrote %d files, want %d", len(got), len(paths))
	}
	for _, in := range got {
		dcmdumpOK(t, in.Path)
	}
	if info, err := EchoInfo(testCtx(t), tlsCfg(addr, TLSConfig{Roots: ca.Pool(), CertFile: client.CertFile, KeyFile: client.KeyFile})); err != nil || !info.ClientCert || info.Version != version {
		t.Errorf("echo with the client certificate: %+v, %v; want %s", info, err, version)
	}
}

// TLS to a plain DICOM port, and plain DICOM to a TLS port: each named
// as what it is, within the association timeout.
func TestTLSPortMismatch(t *testing.T) {
	needNetns(t)
	ca := tlscert.NewCA(t, "Klinik Test CA")
	srv := ca.Issue(t, tlscert.Options{CommonName: "pacs", Names: []string{"127.0.0.1"}})
	plain, _ := storescp(t)
	secure, _ := tlsStorescp(t, srv, "-ic")

	start := time.Now()
	err := Echo(testCtx(t), tlsCfg(plain, TLSConfig{Roots: ca.Pool()}))
	te := wantTLS(t, err, TLSPlainPort, tlsKeyFor(err), "tls=1")
	t.Logf("TLS to the plain port: %v after %v", te.Err, time.Since(start).Round(time.Millisecond))
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("took %v", d)
	}

	start = time.Now()
	cfg := tlsCfg(secure, TLSConfig{})
	cfg.TLS = nil
	err = Echo(testCtx(t), cfg)
	te = wantTLS(t, err, TLSExpected, "dimse.tls.tls_port", "tls=1")
	t.Logf("plain to the TLS port: %v after %v", te.Err, time.Since(start).Round(time.Millisecond))
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("took %v", d)
	}
}

func tlsKeyFor(err error) string {
	if ue, ok := i18n.AsUserError(err); ok && ue.Key == "dimse.tls.plain_port_silent" {
		return ue.Key
	}
	return "dimse.tls.plain_port"
}

// Files the TLS settings name that cannot be used are input errors
// naming the file, before anything goes on the wire.
func TestTLSBadFiles(t *testing.T) {
	ca := tlscert.NewCA(t, "Klinik Test CA")
	leaf := ca.Issue(t, tlscert.Options{CommonName: "BILDBOTE", Client: true})
	other := ca.Issue(t, tlscert.Options{CommonName: "other", Client: true})
	dialed := false
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = true
		return nil, errors.New("must not dial")
	}
	for _, tc := range []struct {
		tls  TLSConfig
		key  string
		part string
	}{
		{TLSConfig{CAFile: "/nonexistent/ca.pem"}, "dimse.tls.ca_unreadable", "/nonexistent/ca.pem"},
		{TLSConfig{CAFile: leaf.KeyFile}, "dimse.tls.ca_empty", leaf.KeyFile},
		{TLSConfig{CertFile: leaf.CertFile}, "dimse.tls.cert_half", ""},
		{TLSConfig{CertFile: leaf.CertFile, KeyFile: other.KeyFile}, "dimse.tls.cert_unusable", leaf.CertFile},
	} {
		cfg := tlsCfg("pacs.klinik.test:2762", tc.tls)
		cfg.Dial = dial
		err := Echo(context.Background(), cfg)
		ue := wantKey(t, err, tc.key)
		if ue.Kind != i18n.KindInput {
			t.Errorf("%s: kind %v", tc.key, ue.Kind)
		}
		for _, l := range i18n.Langs {
			msg, _ := i18n.Localize(l, err)
			if !strings.Contains(msg, tc.part) {
				t.Errorf("%s: %q lacks %q", l, msg, tc.part)
			}
		}
	}
	if dialed {
		t.Error("dialed")
	}
}

// A port that hangs up on every connection (a filter for unknown peers)
// is not called a plain DICOM port under tls=1, nor a TLS port without;
// one that swallows the ClientHello is reported as the timeout it is,
// within ARTIM.
func TestTLSHangUpAndSilence(t *testing.T) {
	hangUp := fakeSCP(t, func(c net.Conn) {
		var b [16]byte
		c.Read(b[:]) // unread bytes left: the close resets
	})
	cfg := faultCfg(hangUp)
	cfg.TLS = &TLSConfig{Roots: tlscert.NewCA(t, "x").Pool()}
	start := time.Now()
	err := Echo(context.Background(), cfg)
	wantTLS(t, err, TLSClosed, "dimse.tls.closed", "TLS", "AE")
	if ue, _ := i18n.AsUserError(err); ue.Kind != i18n.KindTransient {
		t.Errorf("kind %v", ue.Kind)
	}
	bounded(t, start)
	cfg.TLS = nil
	wantKey(t, Echo(context.Background(), cfg), "dimse.closed_unanswered")

	silent := fakeSCP(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	cfg = faultCfg(silent)
	cfg.TLS = &TLSConfig{Roots: tlscert.NewCA(t, "x").Pool()}
	start = time.Now()
	err = Echo(context.Background(), cfg)
	wantTLS(t, err, TLSPlainPort, "dimse.tls.plain_port_silent", "tls=1")
	bounded(t, start)
}

// A PACS on dcmtk's retired AES profile (TLS_RSA_WITH_AES_128_CBC_SHA
// only, RSA key exchange, which Go no longer offers): no common cipher
// suite, said as such.
func TestTLSNoCommonSuite(t *testing.T) {
	needNetns(t)
	ca := tlscert.NewCA(t, "Klinik Test CA")
	srv := ca.Issue(t, tlscert.Options{CommonName: "pacs", Names: []string{"127.0.0.1"}, RSA: true})
	addr, _ := tlsStorescp(t, srv, "-ic", "+pa")
	start := time.Now()
	err := Echo(testCtx(t), tlsCfg(addr, TLSConfig{Roots: ca.Pool()}))
	wantTLS(t, err, TLSNoCommon, "dimse.tls.no_common", "TLS 1.2", "BCP 195")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

// A PACS with a self-signed certificate (common in clinics): not trusted,
// the message showing subject and issuer alike; with that certificate
// itself as the CA file the C-ECHO and a C-STORE pass.
func TestTLSSelfSigned(t *testing.T) {
	needNetns(t)
	srv := tlscert.SelfSigned(t, tlscert.Options{CommonName: "PACS-01", Names: []string{"127.0.0.1"}})
	addr, dir := tlsStorescp(t, srv, "-ic")
	err := Echo(testCtx(t), tlsCfg(addr, TLSConfig{}))
	te := wantTLS(t, err, TLSUntrusted, "dimse.tls.untrusted", "CN=PACS-01,O=Bildbote Test", "--pacs-ca")
	if te.Subject != te.Issuer {
		t.Errorf("subject %q, issuer %q", te.Subject, te.Issuer)
	}
	cfg := tlsCfg(addr, TLSConfig{CAFile: srv.CertFile})
	if err := Echo(testCtx(t), cfg); err != nil {
		t.Fatalf("with the PACS's own certificate as CA file: %v", err)
	}
	res, err := StoreFiles(testCtx(t), cfg, mixedFiles(t, "CT_small.dcm"))
	if err != nil || !res[0].Stored() {
		t.Fatalf("store: %+v, %v", res, err)
	}
	if n := len(mustGlob(dir)); n != 1 {
		t.Errorf("storescp wrote %d files", n)
	}
}

// Under tls=1 the diagnoses before and after TLS stay what they are: a
// closed port is nobody listening, an SCP that rejects the association
// over TLS (storescp +tls --refuse) a rejection, not a TLS problem.
func TestTLSRefusedAndRejected(t *testing.T) {
	needNetns(t)
	ca := tlscert.NewCA(t, "Klinik Test CA")
	srv := ca.Issue(t, tlscert.Options{CommonName: "pacs", Names: []string{"127.0.0.1"}})
	closed := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	err := Echo(testCtx(t), tlsCfg(closed, TLSConfig{Roots: ca.Pool()}))
	wantKey(t, err, "dimse.refused")
	if errors.As(err, new(*TLSError)) {
		t.Errorf("a closed port is a TLS problem: %v", err)
	}
	addr, _ := tlsStorescp(t, srv, "-ic", "--refuse")
	err = Echo(testCtx(t), tlsCfg(addr, TLSConfig{Roots: ca.Pool()}))
	wantKey(t, err, "dimse.reject.other")
	var rj *RejectedError
	if !errors.As(err, &rj) || errors.As(err, new(*TLSError)) {
		t.Errorf("a rejection over TLS: %v", err)
	}
}
