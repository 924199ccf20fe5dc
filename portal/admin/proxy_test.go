package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/cli"
	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/testca"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/portal"
	"github.com/bildbote/bildbote/portal/accesscode"
	"github.com/bildbote/bildbote/portal/codesheet"
	"github.com/bildbote/bildbote/transfer/dlx"
)

// TestAddressFlags: off loopback serve needs --public-url or
// --trusted-proxies; both are checked strictly.
func TestAddressFlags(t *testing.T) {
	for _, c := range []struct {
		listen, public, proxies, wantKey string
	}{
		{"127.0.0.1:8080", "", "", ""},
		{"[::1]:8080", "", "", ""},
		{"0.0.0.0:443", "", "", "portalproxy.err.no_public_url"},
		{":443", "", "", "portalproxy.err.no_public_url"},
		{"192.0.2.1:443", "", "", "portalproxy.err.no_public_url"},
		{"0.0.0.0:443", "https://portal.example", "", ""},
		{"0.0.0.0:443", "", "10.0.0.0/8", ""},
		{"0.0.0.0:443", "portal.example", "", "portalproxy.err.public_url"},
		{"127.0.0.1:8080", "https://portal.example/?x", "", "portalproxy.err.public_url"},
		{"0.0.0.0:443", "", "10.0.0.1/8", "portalproxy.err.trusted_proxies"},
		{"0.0.0.0:443", "", "example.org", "portalproxy.err.trusted_proxies"},
	} {
		_, _, err := checkAddressFlags(c.listen, c.public, c.proxies)
		ue, _ := i18n.AsUserError(err)
		switch {
		case c.wantKey == "" && err != nil:
			t.Errorf("%+v: %v", c, err)
		case c.wantKey != "" && (ue == nil || ue.Key != c.wantKey):
			t.Errorf("%+v: got %v, want %s", c, err, c.wantKey)
		}
	}
	// The refusal says what to set, in both languages.
	for _, lang := range i18n.Langs {
		_, _, err := checkAddressFlags("0.0.0.0:443", "", "")
		msg, hint := i18n.Localize(lang, err)
		if !strings.Contains(msg, "0.0.0.0:443") || !strings.Contains(hint, "--public-url") || !strings.Contains(hint, "--trusted-proxies") {
			t.Errorf("%s: %q / %q", lang, msg, hint)
		}
	}
	// And the command refuses with exit 4 (refused), TLS or not.
	cert, key, _ := selfSigned(t)
	if code, _, errOut := run(t, "serve", "--data", t.TempDir(), "--listen", "0.0.0.0:0", "--tls-cert", cert, "--tls-key", key); code != exitRefused || !strings.Contains(errOut, "--trusted-proxies") {
		t.Fatalf("serve on 0.0.0.0 without a public address: %d %s", code, errOut)
	}
}

// proxyKind is one real reverse proxy from Debian.
type proxyKind struct {
	name   string
	binary string
	// start runs it TLS-terminating on 127.0.0.1:port in front of backend
	// (host:port) and returns the public URL and its access log.
	start func(t *testing.T, bin, dir, port, backend string, leaf *testca.Leaf) (public, accessLog string)
}

// TestBehindTLSProxies runs the portal with serve --trusted-proxies
// behind a real nginx (public URL below /portal/, Forwarded and
// X-Forwarded-Prefix) and a real HAProxy (X-Forwarded-Proto/-Host/-For),
// both terminating TLS with a certificate of a test CA, and checks every
// absolute URL the portal hands out: the tus Location (a raw upload is
// resumed through it, and `bildbote-cli send` uploads through the
// proxy), the DLX apiBasePath (api_info, the code page, `bildbote-cli
// redeem` of the QR code's URL goes through the proxy to the end) and the
// code sheet's QR code.
func TestBehindTLSProxies(t *testing.T) {
	keyring.MockInit()
	for _, k := range []proxyKind{
		{name: "nginx", binary: "/usr/sbin/nginx", start: startNginx},
		{name: "haproxy", binary: "/usr/sbin/haproxy", start: startHAProxy},
	} {
		t.Run(k.name, func(t *testing.T) {
			bin := requireBinary(t, k.name, k.binary)
			pdftoppm := corpus.Tool(t, "pdftoppm")
			testBehindProxy(t, k, bin, pdftoppm)
		})
	}
}

// requireBinary finds a Debian tool: skipped without it on a developer's
// machine, a failure under CI=true (scripts/deps.sh test installs it).
func requireBinary(t *testing.T, name, path string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat(path); err == nil {
		return path
	}
	corpus.Missing(t, "%s not installed", name)
	return ""
}

func testBehindProxy(t *testing.T, k proxyKind, bin, pdftoppm string) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ca, err := testca.New(dir, "ca", pkix.Name{CommonName: "Bildbote Test CA"}, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(dir, "proxy", []string{"localhost", "127.0.0.1"}, testca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}

	// A CD, an inbox and the portal on loopback, trusting loopback proxies.
	cd := filepath.Join(dir, "cd")
	gen, err := gencd.Generate(cd, gencd.Options{Files: gencd.MinFiles, PixelSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	id, err := crypto.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, "community", "add", "--data", data, "--code", "bM1X", "--name", "Klinik Süd", "--recipient", id.Recipient().String()); code != 0 {
		t.Fatalf("community add: %d %s", code, errOut)
	}
	proxies, _ := portal.ParseTrustedProxies("127.0.0.1/32,::1/128")
	e := &env{stdout: io.Discard, stderr: newSyncBuffer(), lang: i18n.EN}
	ctx, cancel := context.WithCancel(context.Background())
	urls, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- e.serveUntil(ctx, serveOptions{data: data, listen: "127.0.0.1:0", proxies: proxies}, func(u string) { urls <- u })
	}()
	var local string
	select {
	case local = <-urls:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })

	port := freePort(t)
	public, accessLog := k.start(t, bin, dir, port, strings.TrimPrefix(local, "http://"), leaf)
	t.Logf("portal %s behind %s at %s", local, k.name, public)

	// api_info and the code page name the public DLX base.
	var info struct {
		APIBasePath string `json:"apiBasePath"`
	}
	getJSON(t, client, public+"/dlx/v1/api_info", &info)
	if info.APIBasePath != public+portal.DLXBasePath {
		t.Fatalf("apiBasePath %q, want %q", info.APIBasePath, public+portal.DLXBasePath)
	}
	// The same request straight to the portal: its own address.
	getJSON(t, http.DefaultClient, local+"/dlx/v1/api_info", &info)
	if info.APIBasePath != local+portal.DLXBasePath {
		t.Fatalf("direct apiBasePath %q, want %q", info.APIBasePath, local+portal.DLXBasePath)
	}

	// A redirect of the portal's mux (no trailing slash) stays public.
	noFollow := *client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req0, _ := http.NewRequest("GET", public+strings.TrimSuffix(wire.UploadsPath, "/"), nil)
	if r := do(t, &noFollow, req0); r.StatusCode/100 != 3 || r.Header.Get("Location") != public+wire.UploadsPath {
		t.Fatalf("redirect through %s: %d %q, want %s", k.name, r.StatusCode, r.Header.Get("Location"), public+wire.UploadsPath)
	}

	// The code sheet: serve has no --public-url, so code issue asks for
	// it before any code exists; with it, the QR code is the public one.
	p := gen.Patients[0]
	sheet := filepath.Join(dir, "sheet.pdf")
	if code, _, errOut := run(t, "code", "issue", "--data", data, "--patient", p.ID, "--sheet", sheet, cd); code != exitInput || !strings.Contains(errOut, "--public-url") {
		t.Fatalf("code issue without a known address: %d %s", code, errOut)
	}
	code, out, errOut := run(t, "code", "issue", "--data", data, "--patient", p.ID, "--sheet", sheet, "--public-url", public+"/", cd)
	if code != 0 {
		t.Fatalf("code issue: %d %s", code, errOut)
	}
	accessCode := strings.TrimSpace(out)
	if outPNG, err := exec.Command(pdftoppm, "-r", "100", "-png", "-singlefile", sheet, filepath.Join(dir, "sheet")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, outPNG)
	}
	qr, err := dlx.DecodeQRImage(filepath.Join(dir, "sheet.png"))
	if err != nil {
		t.Fatalf("QR: %v", err)
	}
	norm, _ := accesscode.Normalize(accessCode)
	if want := codesheet.CodeURL(public, norm); qr != want || !strings.HasPrefix(qr, public+"/c?token=") {
		t.Fatalf("QR code says %q, want %q", qr, want)
	}
	resp, err := client.Get(qr)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte(public+portal.DLXBasePath)) {
		t.Fatalf("code page through %s: %d, does not name %s:\n%s", k.name, resp.StatusCode, public+portal.DLXBasePath, page)
	}

	// A raw tus upload: Location is public, and the upload resumes
	// through it (offset asked, the rest sent).
	body := bytes.Repeat([]byte("age-encryption.org/v1 pretend envelope\n"), 2000)
	req, _ := http.NewRequest("POST", public+wire.UploadsPath, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", fmt.Sprint(len(body)))
	req.Header.Set("Upload-Metadata", "community "+b64("bM1X")+",sha256 "+b64(sha256hex(body))+",filename "+b64("CD.zip.age"))
	resp = do(t, client, req)
	loc, secret := resp.Header.Get("Location"), resp.Header.Get(wire.UploadSecretHeader)
	if resp.StatusCode != 201 || !strings.HasPrefix(loc, public+wire.UploadsPath) {
		t.Fatalf("create through %s: %d, Location %q, want below %s", k.name, resp.StatusCode, loc, public+wire.UploadsPath)
	}
	half := len(body) / 2
	patch := func(off int, chunk []byte) *http.Response {
		req, _ := http.NewRequest("PATCH", loc, bytes.NewReader(chunk))
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", fmt.Sprint(off))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.Header.Set(wire.UploadSecretHeader, secret)
		return do(t, client, req)
	}
	if r := patch(0, body[:half]); r.StatusCode != 204 {
		t.Fatalf("first chunk: %d", r.StatusCode)
	}
	req, _ = http.NewRequest("HEAD", loc, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set(wire.UploadSecretHeader, secret)
	if r := do(t, client, req); r.StatusCode != 200 || r.Header.Get("Upload-Offset") != fmt.Sprint(half) {
		t.Fatalf("HEAD through Location: %d offset %q", r.StatusCode, r.Header.Get("Upload-Offset"))
	}
	if r := patch(half, body[half:]); r.StatusCode != 204 {
		t.Fatalf("second chunk: %d", r.StatusCode)
	}

	// The CLI sends a CD through the proxy (its tus client refuses a
	// Location of another origin) and redeems the QR code's URL; the
	// proxy's log shows the uploads and the downloads went through it.
	var cliOut, cliErr bytes.Buffer
	practice := filepath.Join(dir, "practice")
	if rc := cli.Main([]string{"send", "--state", practice, "--portal", public, "--to", "bM1X", "--ca-bundle", ca.CertFile, cd},
		strings.NewReader(""), &cliOut, &cliErr); rc != 0 {
		log, _ := os.ReadFile(accessLog)
		t.Fatalf("bildbote-cli send through %s: %d\n%s\n%s\nproxy log:\n%s", k.name, rc, cliOut.String(), cliErr.String(), log)
	}
	dob := p.BirthDate[:4] + "-" + p.BirthDate[4:6] + "-" + p.BirthDate[6:]
	cliOut.Reset()
	cliErr.Reset()
	library := filepath.Join(dir, "library")
	if rc := cli.Main([]string{"redeem", "--state", filepath.Join(dir, "patient"), "--ca-bundle", ca.CertFile, "--dob", dob, "--out", library, qr},
		strings.NewReader(""), &cliOut, &cliErr); rc != 0 {
		log, _ := os.ReadFile(accessLog)
		t.Fatalf("bildbote-cli redeem through %s: %d\n%s\n%s\nproxy log:\n%s", k.name, rc, cliOut.String(), cliErr.String(), log)
	}
	prefix := strings.TrimPrefix(strings.TrimPrefix(public, "https://"), "localhost:"+port)
	waitLog(t, accessLog, []string{
		"PATCH " + prefix + wire.UploadsPath,
		"POST " + prefix + portal.DLXBasePath + "/tokentfa/",
		"GET " + prefix + portal.DLXBasePath + "/download",
	})
	if n := countFiles(t, library); n == 0 {
		t.Fatalf("redeem saved nothing in %s", library)
	}
}

func sha256hex(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func do(t *testing.T, c *http.Client, req *http.Request) *http.Response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v %s", u, err, b)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// waitLog waits until the access log holds every string.
func waitLog(t *testing.T, path string, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		missing := ""
		for _, w := range want {
			if !bytes.Contains(b, []byte(w)) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy's log lacks %q:\n%s", missing, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// startProcess runs a proxy in the foreground until the test ends and
// waits for it to listen on 127.0.0.1:port.
func startProcess(t *testing.T, dir, port string, logs []string, name string, args ...string) {
	t.Helper()
	out, err := os.Create(filepath.Join(dir, name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	if p, err := exec.LookPath(name); err != nil {
		cmd = exec.Command(filepath.Join("/usr/sbin", name), args...)
	} else {
		cmd.Path = p
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.Close() }()
	// SIGTERM: nginx's master stops its workers too, HAProxy stops.
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	dump := func() string {
		var b strings.Builder
		for _, l := range append(logs, out.Name()) {
			c, _ := os.ReadFile(l)
			b.Write(c)
		}
		return b.String()
	}
	for i := 0; ; i++ {
		select {
		case err := <-exited:
			t.Fatalf("%s exited: %v\n%s", name, err, dump())
		default:
		}
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			return
		}
		if i > 200 {
			t.Fatalf("%s did not listen on %s:\n%s", name, port, dump())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startNginx: TLS on 127.0.0.1:port, the portal below /portal/, an RFC
// 7239 Forwarded header with a quoted host (nginx passes the client's
// Host in it) and X-Forwarded-Prefix.
func startNginx(t *testing.T, bin, dir, port, backend string, leaf *testca.Leaf) (string, string) {
	ndir := filepath.Join(dir, "nginx")
	if err := os.MkdirAll(ndir, 0o700); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers write temp files in ndir
	}
	conf := fmt.Sprintf(`%[1]s
worker_processes 1;
error_log %[2]s/error.log info;
events { worker_connections 64; }
http {
	access_log %[2]s/access.log;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	client_max_body_size 0;
	server {
		listen 127.0.0.1:%[3]s ssl;
		server_name localhost;
		ssl_certificate %[4]s;
		ssl_certificate_key %[5]s;
		location /portal/ {
			proxy_pass http://%[6]s/;
			proxy_http_version 1.1;
			proxy_request_buffering off;
			proxy_buffering off;
			proxy_set_header Forwarded "for=$remote_addr;proto=$scheme;host=\"$http_host\"";
			proxy_set_header X-Forwarded-Prefix /portal/;
		}
	}
}
`, user, ndir, port, leaf.CertFile, leaf.KeyFile, backend)
	cf := filepath.Join(ndir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, ndir, port, []string{filepath.Join(ndir, "error.log")}, filepath.Base(bin),
		"-e", filepath.Join(ndir, "error.log"), "-p", ndir, "-c", cf, "-g", "daemon off; pid "+filepath.Join(ndir, "nginx.pid")+";")
	return "https://localhost:" + port + "/portal", filepath.Join(ndir, "access.log")
}

// startHAProxy: TLS on 127.0.0.1:port at the root, X-Forwarded-Proto,
// -Host and -For (HAProxy 2.6 has no `option forwarded`); the log is
// HAProxy's HTTP log on stdout.
func startHAProxy(t *testing.T, bin, dir, port, backend string, leaf *testca.Leaf) (string, string) {
	hdir := filepath.Join(dir, "haproxy")
	if err := os.MkdirAll(hdir, 0o700); err != nil {
		t.Fatal(err)
	}
	// HAProxy wants certificate and key in one file.
	crt, err := os.ReadFile(leaf.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(leaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem := filepath.Join(hdir, "proxy.pem")
	if err := os.WriteFile(pem, append(crt, key...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global
	log stdout format raw local0 info
	maxconn 64
defaults
	mode http
	log global
	option httplog
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend public
	bind 127.0.0.1:%[1]s ssl crt %[2]s
	option forwardfor
	http-request set-header X-Forwarded-Proto https
	http-request set-header X-Forwarded-Host %%[req.hdr(host)]
	http-request del-header Forwarded
	default_backend portal
backend portal
	server portal1 %[3]s
`, port, pem, backend)
	cf := filepath.Join(hdir, "haproxy.cfg")
	if err := os.WriteFile(cf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", cf).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	startProcess(t, hdir, port, nil, filepath.Base(bin), "-f", cf, "-db")
	return "https://localhost:" + port, filepath.Join(hdir, filepath.Base(bin)+".out")
}
