package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/testkit/dicompeer"
	"github.com/bildbote/bildbote/internal/testkit/orthanc"
	"github.com/bildbote/bildbote/internal/testkit/tlscert"
	"github.com/bildbote/bildbote/transfer/dimse"
)

// Where the outer test's certificate files are, for the inner test.
const (
	tlsEnvCA         = "BILDBOTE_TEST_PACS_CA"
	tlsEnvCAKey      = "BILDBOTE_TEST_PACS_CA_KEY"
	tlsEnvClientCA   = "BILDBOTE_TEST_PACS_CLIENT_CA"
	tlsEnvClientCert = "BILDBOTE_TEST_PACS_CLIENT_CERT"
	tlsEnvClientKey  = "BILDBOTE_TEST_PACS_CLIENT_KEY"
)

// TestPacsTLS: bildbote-cli over DICOM TLS against real peers in a
// private network namespace — Orthanc's DICOM port with DicomTlsEnabled
// and a required client certificate (its server certificate from the
// clinic's CA, for 127.0.0.1 only), and dcmtk storescp +tls. pacs test
// tells the problems apart (not trusted with subject and issuer, client
// certificate wanted, wrong name, a TLS port without tls=1, tls=1 on a
// plain port) in English and German within the timeout, and passes with
// --pacs-ca/--pacs-cert/--pacs-key, with BILDBOTE_PACS_* and with a
// policy. receive --pacs imports a shipment into Orthanc and storescp
// over TLS (Orthanc's copies read back over REST equal the originals'
// data sets byte for byte); redeem --pacs puts a patient's code into
// storescp requiring a client certificate, without a copy.
func TestPacsTLS(t *testing.T) {
	ca := tlscert.NewCA(t, "Klinik Test CA")
	srv := ca.Issue(t, tlscert.Options{CommonName: "orthanc.klinik.test", Names: []string{"127.0.0.1"}})
	clientCA := tlscert.NewCA(t, "Klinik Client CA")
	client := clientCA.Issue(t, tlscert.Options{CommonName: "BILDBOTE", Client: true})
	orthanc.RunWith(t, "TestPacsTLSInside", orthanc.Options{
		Config: map[string]any{
			"DicomTlsEnabled":                   true,
			"DicomTlsCertificate":               srv.CertFile,
			"DicomTlsPrivateKey":                srv.KeyFile,
			"DicomTlsTrustedCertificates":       clientCA.CertFile,
			"DicomTlsRemoteCertificateRequired": true,
		},
		Env: []string{tlsEnvCA + "=" + ca.CertFile, tlsEnvCAKey + "=" + ca.KeyFile, tlsEnvClientCA + "=" + clientCA.CertFile,
			tlsEnvClientCert + "=" + client.CertFile, tlsEnvClientKey + "=" + client.KeyFile},
	})
}

func TestPacsTLSInside(t *testing.T) {
	base := orthanc.URL(t)
	caFile, clientCAFile := os.Getenv(tlsEnvCA), os.Getenv(tlsEnvClientCA)
	certFile, keyFile := os.Getenv(tlsEnvClientCert), os.Getenv(tlsEnvClientKey)
	work := t.TempDir()
	t.Setenv("BILDBOTE_POLICY", "")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(work, "config"))
	t.Setenv("BILDBOTE_KEY_PASSPHRASE", "correct horse battery staple")
	for _, v := range []string{app.PACSCAEnv, app.PACSCertEnv, app.PACSKeyEnv} {
		t.Setenv(v, "")
	}
	clinicState, practiceState := filepath.Join(work, "clinic"), filepath.Join(work, "practice")
	run := func(lang string, args ...string) (int, string, string) {
		t.Helper()
		t.Setenv("LANG", lang)
		var out, errb bytes.Buffer
		code := Main(args, strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	const en, de = "en_US.UTF-8", "de_DE.UTF-8"
	orthancTLS := "dicom://ORTHANC@127.0.0.1:4242?tls=1"
	flags := []string{"--pacs-ca", caFile, "--pacs-cert", certFile, "--pacs-key", keyFile}

	// pacs test: each problem named, in both languages, within --timeout.
	for _, tc := range []struct {
		lang   string
		args   []string
		exit   int
		want   []string
		target string
	}{
		{en, nil, ExitRefused, []string{"not trust", "CN=orthanc.klinik.test", "CN=Klinik Test CA", "--pacs-ca"}, orthancTLS},
		{de, nil, ExitRefused, []string{"nicht vertraut", "CN=orthanc.klinik.test", "ausgestellt von CN=Klinik Test CA", "CA-Datei"}, orthancTLS},
		{en, []string{"--pacs-ca", caFile}, ExitRefused, []string{"wants a client certificate", "--pacs-cert"}, orthancTLS},
		{de, []string{"--pacs-ca", caFile}, ExitRefused, []string{"verlangt ein Client-Zertifikat"}, orthancTLS},
		{en, flags, ExitRefused, []string{"not for the name localhost", "127.0.0.1"}, "dicom://ORTHANC@localhost:4242?tls=1"},
		{en, flags, ExitRefused, []string{"expects DICOM TLS", "tls=1"}, "dicom://ORTHANC@127.0.0.1:4242"},
		{de, flags, ExitRefused, []string{"erwartet DICOM mit TLS", "tls=1"}, "dicom://ORTHANC@127.0.0.1:4242"},
		{en, []string{"--pacs-cert", certFile}, ExitInput, []string{"both files"}, orthancTLS},
	} {
		start := time.Now()
		args := append(append([]string{"pacs", "test", "--timeout", "3s", "--state", filepath.Join(work, "tester")}, tc.args...), tc.target)
		code, out, errs := run(tc.lang, args...)
		if code != tc.exit {
			t.Errorf("pacs test %s %v (%s): exit %d, want %d\n%s%s", tc.target, tc.args, tc.lang, code, tc.exit, out, errs)
		}
		for _, w := range tc.want {
			if !strings.Contains(errs, w) {
				t.Errorf("pacs test %s %v (%s): %q lacks %q", tc.target, tc.args, tc.lang, errs, w)
			}
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("pacs test %s %v: took %v", tc.target, tc.args, d)
		}
	}
	code, out, errs := run(en, append(append([]string{"pacs", "test", "--state", filepath.Join(work, "tester")}, flags...), orthancTLS)...)
	if code != 0 || !strings.Contains(out, "answers over DICOM TLS") || !strings.Contains(out, "the PACS's certificate: CN=orthanc.klinik.test,O=Bildbote Test, issued by CN=Klinik Test CA,O=Bildbote Test, valid until ") ||
		!strings.Contains(out, "asked for Bildbote's client certificate and accepted it") || strings.Contains(out, "expires in") {
		t.Errorf("pacs test with the clinic's files: %d %q %q", code, out, errs)
	}
	// The same files from the environment, as JSON.
	t.Setenv(app.PACSCAEnv, caFile)
	t.Setenv(app.PACSCertEnv, certFile)
	t.Setenv(app.PACSKeyEnv, keyFile)
	code, out, errs = run(de, "pacs", "test", "--json", "--state", filepath.Join(work, "tester"), orthancTLS)
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["tls"] != true || v["caFile"] != caFile || v["clientCert"] != certFile ||
		!strings.HasPrefix(fmt.Sprint(v["tlsVersion"]), "TLS 1.") || v["clientCertSent"] != true || !strings.Contains(fmt.Sprint(v["certificate"]), "CN=orthanc.klinik.test") || !strings.Contains(fmt.Sprint(v["certificate"]), "sha256:") {
		t.Errorf("pacs test with BILDBOTE_PACS_*: %d %s %s", code, out, errs)
	}
	for _, k := range []string{app.PACSCAEnv, app.PACSCertEnv, app.PACSKeyEnv} {
		t.Setenv(k, "")
	}
	// From the settings of a state dir the app holds (here a core of the
	// test): pacs test reads them without opening it.
	held, err := app.Open(app.Config{StateDir: filepath.Join(work, "held")})
	if err != nil {
		t.Fatal(err)
	}
	if err := held.UpdateSettings(func(s *app.Settings) { s.PACSTLSCA, s.PACSTLSCert, s.PACSTLSKey = caFile, certFile, keyFile }); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := run(en, "pacs", "test", "--state", filepath.Join(work, "held"), orthancTLS); code != 0 {
		t.Errorf("pacs test with the settings of a held state dir: %d %q %q", code, out, errs)
	}
	held.Close()
	// And from a policy (the clinic's IT sets them once for all).
	pol := filepath.Join(work, "policy.toml")
	if err := os.WriteFile(pol, []byte(fmt.Sprintf("pacs_tls_ca = %q\npacs_tls_cert = %q\npacs_tls_key = %q\n", caFile, certFile, keyFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BILDBOTE_POLICY", pol)
	if code, out, errs := run(en, "pacs", "test", "--state", filepath.Join(work, "policed"), "--pacs-ca", clientCAFile, orthancTLS); code != 0 {
		t.Errorf("pacs test with the policy's files (a wrong --pacs-ca below them): %d %q %q", code, out, errs)
	}
	t.Setenv("BILDBOTE_POLICY", "")

	// storescp over TLS: one without client certificates, one requiring
	// the clinic's; and a plain one.
	srv := tlsLeafFor(t, caFile, time.Time{})
	open := dicompeer.FreePort(t)
	openStores := dicompeer.Storescp(t, filepath.Join(work, "scp-open"), open, "+tls", srv.KeyFile, srv.CertFile, "-ic")
	strict := dicompeer.FreePort(t)
	strictStores := dicompeer.Storescp(t, filepath.Join(work, "scp-strict"), strict, "+tls", srv.KeyFile, srv.CertFile, "-rc", "+cf", clientCAFile)
	plain := dicompeer.FreePort(t)
	dicompeer.Storescp(t, filepath.Join(work, "scp-plain"), plain)
	// A certificate that runs out soon: the test passes and says so.
	soon := dicompeer.FreePort(t)
	soonCert := tlsLeafFor(t, caFile, time.Now().Add(10*24*time.Hour+time.Hour))
	dicompeer.Storescp(t, filepath.Join(work, "scp-soon"), soon, "+tls", soonCert.KeyFile, soonCert.CertFile, "-ic")
	code, out, errs = run(de, append(append([]string{"pacs", "test", "--state", filepath.Join(work, "tester")}, flags...), fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d?tls=1", soon))...)
	if code != 0 || !strings.Contains(out, "läuft in 10 Tagen ab") || !strings.Contains(out, "über DICOM-TLS") || strings.Contains(out, "Client-Zertifikat") {
		t.Errorf("pacs test of a certificate running out: %d %q %q", code, out, errs)
	}
	start := time.Now()
	code, _, errs = run(en, append(append([]string{"pacs", "test", "--timeout", "3s", "--state", filepath.Join(work, "tester")}, flags...), fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d?tls=1", plain))...)
	if code != ExitRefused || !strings.Contains(errs, "speaks DICOM without TLS") || time.Since(start) > 4*time.Second {
		t.Errorf("pacs test tls=1 to a plain port: %d %q after %v", code, errs, time.Since(start))
	}

	// receive --pacs over TLS into Orthanc and storescp.
	key, cd, res := clinicKeyAndCD(t, clinicState, work)
	portalURL, apiKey, issue := startTestPortal(t, filepath.Join(work, "portal"), key.Recipient, cd, res.Patients[0])
	if code, out, errs := run(en, "send", "--state", practiceState, "--portal", portalURL, "--to", "bM1X", "--sender", "Praxis Dr. Weiß", cd); code != 0 {
		t.Fatalf("send: %d %s %s", code, out, errs)
	}
	openTarget := fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d?calling=BILDBOTE&tls=1", open)
	code, out, errs = run(en, append([]string{"receive", "--json", "--state", clinicState, "--portal", portalURL, "--inbox", "bM1X", "--api-key", apiKey,
		"--pacs", orthancTLS, "--pacs", openTarget}, flags...)...)
	if code != 0 {
		t.Fatalf("receive --pacs over TLS: exit %d\n%s\n%s", code, out, errs)
	}
	var j app.Job
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("receive --json: %v\n%s", err, out)
	}
	perTarget := map[string]int{}
	for _, r := range j.Receipt.Imported {
		for _, pi := range r.PACS {
			if pi.Confirmed() {
				perTarget[pi.Target]++
			}
		}
	}
	if perTarget[orthancTLS] != res.Files || perTarget[openTarget] != res.Files {
		t.Errorf("confirmed per target %v, want %d each", perTarget, res.Files)
	}
	if n := openStores(); n != res.Files {
		t.Errorf("storescp +tls received %d C-STOREs, want %d", n, res.Files)
	}
	originals := map[string]*dimse.Instance{}
	filepath.WalkDir(filepath.Join(cd, "DICOM"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if in, err := dimse.OpenInstance(p); err == nil {
				originals[in.SOPInstanceUID] = in
			}
		}
		return nil
	})
	var ids []string
	getJSONCLI(t, base+"/instances", &ids)
	if len(ids) != res.Files {
		t.Errorf("Orthanc has %d instances, want %d", len(ids), res.Files)
	}
	for _, id := range ids {
		p := filepath.Join(work, "orthanc-"+id+".dcm")
		resp, err := http.Get(base + "/instances/" + id + "/file")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := dimse.OpenInstance(p)
		if err != nil {
			t.Errorf("Orthanc's instance %s: %v", id, err)
			continue
		}
		orig := originals[got.SOPInstanceUID]
		if orig == nil {
			t.Errorf("Orthanc holds %s, not on the CD", got.SOPInstanceUID)
			continue
		}
		ob, _ := os.ReadFile(orig.Path)
		if got.TransferSyntax != orig.TransferSyntax || !bytes.Equal(b[got.DataOffset:], ob[orig.DataOffset:]) {
			t.Errorf("%s: Orthanc's copy (%s) differs from the original (%s)", got.SOPInstanceUID, got.TransferSyntax, orig.TransferSyntax)
		}
	}

	// redeem --pacs over TLS into the storescp that requires our client
	// certificate: no copy kept; without the certificate it is refused.
	pa := res.Patients[0]
	patientFiles := 0
	for _, st := range pa.Studies {
		patientFiles += st.Files
	}
	strictTarget := fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d?tls=1", strict)
	lib := filepath.Join(work, "library")
	code, out, errs = run(de, "redeem", "--state", clinicState, "--library", lib, "--portal", portalURL, "--dob", pa.BirthDate, "--pacs", strictTarget, "--pacs-ca", caFile, issue())
	if code != ExitRefused || !strings.Contains(out+errs, "verlangt ein Client-Zertifikat") {
		t.Errorf("redeem --pacs without a client certificate: %d\n%s\n%s", code, out, errs)
	}
	if n := strictStores(); n != 0 {
		t.Errorf("storescp -rc received %d C-STOREs without our certificate", n)
	}
	code, out, errs = run(en, append([]string{"redeem", "--state", clinicState, "--library", lib, "--portal", portalURL, "--dob", pa.BirthDate, "--pacs", strictTarget}, append(flags, issue())...)...)
	if code != 0 || !strings.Contains(out, strictTarget+": ") {
		t.Errorf("redeem --pacs over TLS: %d\n%s\n%s", code, out, errs)
	}
	if n := strictStores(); n != patientFiles {
		t.Errorf("storescp -rc received %d C-STOREs, want %d", n, patientFiles)
	}
	if entries, _ := os.ReadDir(lib); len(entries) != 0 {
		t.Errorf("the library holds %d entries after redeem --pacs without --copy", len(entries))
	}
}

// tlsLeafFor issues a server certificate for 127.0.0.1 from the CA whose
// files the outer test made (its key next to it in the environment).
// notAfter zero: a year.
func tlsLeafFor(t *testing.T, caFile string, notAfter time.Time) *tlscert.Leaf {
	t.Helper()
	ca, err := tlscert.LoadCA(caFile, os.Getenv(tlsEnvCAKey))
	if err != nil {
		t.Fatal(err)
	}
	return ca.Issue(t, tlscert.Options{CommonName: "storescp.klinik.test", Names: []string{"127.0.0.1"}, NotAfter: notAfter})
}

func getJSONCLI(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}
