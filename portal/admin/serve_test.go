package admin

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/portal"
)

// selfSigned writes a certificate for 127.0.0.1 and returns the file
// paths and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bildbote test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	kb, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

type syncBuffer struct {
	mu chan struct{}
	b  bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.b.String()
}

// TestServeTLSAndGracefulShutdown runs serve with TLS on loopback, talks
// to it over HTTPS, stops it and checks that the data dir is free again.
func TestServeTLSAndGracefulShutdown(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	data := t.TempDir()
	logs := newSyncBuffer()
	e := &env{stdout: io.Discard, stderr: logs, lang: "en"}
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- e.serveUntil(ctx, serveOptions{data: data, listen: "127.0.0.1:0", certFile: certFile, keyFile: keyFile},
			func(u string) { urls <- u })
	}()
	var base string
	select {
	case base = <-urls:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("public URL %s", base)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + "/dlx/v1/api_info")
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ APIBasePath string }
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info.APIBasePath != base+"/dlx/v1" {
		t.Fatalf("apiBasePath %q", info.APIBasePath)
	}
	// Admin commands reach the running server.
	mustRun(t, "community", "add", "--data", data, "--code", "TLS1", "--name", "TLS", "--recipient", recipient(t))
	// tus Locations are absolute under the public URL.
	req, _ := http.NewRequest("POST", base+"/api/v1/uploads/", nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "1")
	req.Header.Set("Upload-Metadata", "community VExTMQ==,sha256 "+b64(strings.Repeat("a", 64)))
	resp, err = client.Do(req)
	if err != nil || resp.StatusCode != 201 || !strings.HasPrefix(resp.Header.Get("Location"), base+"/api/v1/uploads/") {
		t.Fatalf("create upload: %v %v %v", err, resp.StatusCode, resp.Header.Get("Location"))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	st, err := portal.OpenStore(data, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("data dir still held after shutdown: %v", err)
	}
	st.Close()
	if !strings.Contains(logs.String(), `"msg":"shutting down"`) || strings.Contains(logs.String(), "plain HTTP") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
