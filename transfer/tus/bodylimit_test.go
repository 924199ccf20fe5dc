package tus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/squid"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/portal"
	"github.com/bildbote/bildbote/transfer"
)

// nginxProxy starts Debian's nginx on loopback as a reverse proxy in
// front of backend with client_max_body_size limit (e.g. "1m"); it
// returns the proxy's base URL.
func nginxProxy(t *testing.T, backend, limit string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			corpus.Missing(t, "nginx (nginx-light) not installed")
		}
		bin = "/usr/sbin/nginx"
	}
	b, _ := url.Parse(backend)
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers write the body temp files in dir
	}
	conf := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events { worker_connections 64; }
http {
	access_log %[2]s/access.log;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	client_max_body_size %[3]s;
	server {
		listen %[4]s;
		location / {
			proxy_pass http://%[5]s;
			proxy_set_header Host $http_host;
			proxy_http_version 1.1;
		}
	}
}
`, user, dir, limit, addr, b.Host)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	out, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// SIGTERM: the master stops its workers too (a SIGKILL would leave
	// them running).
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			stderr, _ := os.ReadFile(out.Name())
			t.Fatalf("nginx did not listen on %s: %s %s", addr, stderr, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://" + addr
}

// countingTransport counts the answers by status and the PATCH bodies.
type countingTransport struct {
	mu      sync.Mutex
	status  map[int]int
	patches []int64
	base    http.RoundTripper // nil: http.DefaultTransport
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := c.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Method == http.MethodPatch {
		c.patches = append(c.patches, r.ContentLength)
	}
	if err == nil {
		c.status[resp.StatusCode]++
	}
	return resp, err
}

func (c *countingTransport) reset() (status map[int]int, patches []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	status, patches = c.status, c.patches
	c.status, c.patches = map[int]int{}, nil
	return
}

// portalFile finds the portal's stored copy of an upload by its content.
func portalFile(t *testing.T, dir string, data []byte) bool {
	t.Helper()
	found := false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() != int64(len(data)) {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Equal(b, data) {
			found = true
		}
		return nil
	})
	return found
}

// TestChunkHalvesBehindNginxBodyLimit: the real portal behind Debian's
// nginx with client_max_body_size 1m. An upload of 5 MiB with 8 MiB
// chunks gets 413s from nginx (no portal JSON), halves the chunk to
// 1 MiB, goes on from the server's offset and completes, byte-identical
// in the portal's store. The size is remembered per portal (a JSON file):
// the next upload, by a new client, starts at 1 MiB and gets no 413.
func TestChunkHalvesBehindNginxBodyLimit(t *testing.T) {
	dataDir := t.TempDir()
	srv, err := portal.New(portal.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	addInbox(t, srv)
	proxy := nginxProxy(t, ts.URL, "1m")
	endpoint := proxy + wire.UploadsPath
	memory := filepath.Join(t.TempDir(), "chunks.json")
	ct := &countingTransport{status: map[int]int{}}

	for round := 1; round <= 2; round++ {
		f, data := randomFile(t, 5<<20+12345)
		c := &Client{HTTP: &http.Client{Transport: ct}, Retry: fastRetry(), Chunks: NewChunkFile(memory)}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		res, err := c.Upload(ctx, Job{Endpoint: endpoint, File: f, Size: int64(len(data)),
			Metadata: map[string]string{"community": "bM1X", "sha256": sha(data)}})
		cancel()
		status, patches := ct.reset()
		if err != nil {
			t.Fatalf("upload %d: %v (answers %v, PATCH bodies %v)", round, err, status, patches)
		}
		if !portalFile(t, dataDir, data) {
			t.Fatalf("upload %d (%s): no byte-identical copy in the portal's store", round, res.ID)
		}
		var largest2xx int64
		for _, n := range patches {
			largest2xx = max(largest2xx, n)
		}
		t.Logf("upload %d: answers %v, PATCH bodies %v", round, status, patches)
		switch round {
		case 1:
			// 8 MiB chunk → 5 MiB body (the whole file), then 4, 2, 1 MiB.
			if status[413] != 3 || patches[0] != int64(len(data)) || patches[3] != 1<<20 {
				t.Fatalf("first upload: %d 413s, PATCH bodies %v", status[413], patches)
			}
			b, err := os.ReadFile(memory)
			if err != nil || !strings.Contains(string(b), proxy) || !strings.Contains(string(b), "1048576") {
				t.Fatalf("remembered %q (%v)", b, err)
			}
		case 2:
			if status[413] != 0 || patches[0] != 1<<20 || largest2xx > 1<<20 {
				t.Fatalf("second upload: %d 413s, PATCH bodies %v", status[413], patches)
			}
		}
	}
}

// TestBodyLimitBelowFloor: nginx at client_max_body_size 200k refuses
// even MinChunkSize: the upload ends, permanently, with a message in
// German and English that names the size and asks clinic IT to raise the
// proxy's limit — after one 413 per halving step, no endless loop.
func TestBodyLimitBelowFloor(t *testing.T) {
	endpoint, _ := realPortal(t)
	b, _ := url.Parse(endpoint)
	proxy := nginxProxy(t, "http://"+b.Host, "200k")
	ct := &countingTransport{status: map[int]int{}}
	f, data := randomFile(t, 3<<20)
	c := &Client{HTTP: &http.Client{Transport: ct}, Retry: fastRetry(), Chunks: NewChunkFile("")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := c.Upload(ctx, Job{Endpoint: proxy + wire.UploadsPath, File: f, Size: int64(len(data)),
		Metadata: map[string]string{"community": "bM1X", "sha256": sha(data)}})
	status, patches := ct.reset()
	var be *BodyLimitError
	if !errors.As(err, &be) || be.Size != MinChunkSize {
		t.Fatalf("want a BodyLimitError at %d: %v (PATCH bodies %v)", MinChunkSize, err, patches)
	}
	// The 8 MiB chunk sends the whole 3 MiB, then 2 MiB, 1 MiB, 512 and
	// 256 KiB.
	if want := []int64{3 << 20, 2 << 20, 1 << 20, 512 << 10, 256 << 10}; fmt.Sprint(patches) != fmt.Sprint(want) || status[413] != len(want) {
		t.Fatalf("PATCH bodies %v (want %v), answers %v", patches, want, status)
	}
	if v := transfer.Classify(err); !v.Permanent() {
		t.Fatalf("classified %v", v)
	}
	ue, ok := i18n.AsUserError(err)
	if !ok || ue.Key != "transfer.tus.body_limit" {
		t.Fatalf("user error %+v", ue)
	}
	for lang, want := range map[i18n.Lang][]string{
		i18n.EN: {i18n.Bytes(MinChunkSize).Localize(i18n.EN), "proxy", "IT"},
		i18n.DE: {i18n.Bytes(MinChunkSize).Localize(i18n.DE), "Proxy", "IT"},
	} {
		msg, hint := i18n.Localize(lang, err)
		all := msg + " " + hint
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Fatalf("%s: %q lacks %q", lang, all, w)
			}
		}
		t.Logf("%s: %s — %s", lang, msg, hint)
	}
}

// addInbox adds the inbox bM1X (64 MiB per upload) to srv.
func addInbox(t *testing.T, srv *portal.Server) {
	t.Helper()
	id, _ := age.GenerateX25519Identity()
	if _, err := srv.Store().AddCommunity(t.Context(), portal.AddCommunityRequest{
		Code: "bM1X", Name: "Radiologie", Recipients: []string{id.Recipient().String()}, MaxUploadBytes: 64 << 20,
	}); err != nil {
		t.Fatal(err)
	}
}

// TestChunkHalvesOnFixedSizeCuts: a buffering filter in front of the real
// portal that, like some proxies, does not answer 413 but closes the
// connection (a reset) once a request body passes 1 MiB, forwarding
// nothing. Two cuts at the same server offset halve the chunk; the upload
// completes byte-identical with 1 MiB chunks, and the size is remembered.
func TestChunkHalvesOnFixedSizeCuts(t *testing.T) {
	dataDir := t.TempDir()
	srv, err := portal.New(portal.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	const limit = 1 << 20
	var cuts atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			io.CopyN(io.Discard, r.Body, limit)
			cuts.Add(1)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST, as a proxy's hard close
			}
			conn.Close()
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { ts.Close(); srv.Close() })
	addInbox(t, srv)
	f, data := randomFile(t, 3<<20+777)
	memory := NewChunkFile(filepath.Join(t.TempDir(), "chunks.json"))
	ct := &countingTransport{status: map[int]int{}}
	c := &Client{HTTP: &http.Client{Transport: ct}, Retry: fastRetry(), Chunks: memory}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.Upload(ctx, Job{Endpoint: ts.URL + wire.UploadsPath, File: f, Size: int64(len(data)),
		Metadata: map[string]string{"community": "bM1X", "sha256": sha(data)}}); err != nil {
		t.Fatal(err)
	}
	_, patches := ct.reset()
	t.Logf("%d cuts, PATCH bodies %v", cuts.Load(), patches)
	if !portalFile(t, dataDir, data) {
		t.Fatal("no byte-identical copy in the portal's store")
	}
	// 3 MiB twice, 2 MiB twice, then 1 MiB chunks.
	if n := cuts.Load(); n != 4 || memory.ChunkSize(ts.URL) != 1<<20 {
		t.Fatalf("%d cuts, remembered %d", n, memory.ChunkSize(ts.URL))
	}
}

// TestChunkHalvesBehindSquidBodyLimit: the clinic's forward proxy caps
// request bodies — a real squid with request_body_max_size 1 MB between
// the client and the real portal. squid answers an 8 MiB chunk with its
// own 413 (an HTML error page, not the portal's JSON); the client halves
// to 1 MiB, goes on from the server's offset and completes, byte-identical
// in the portal's store, and squid's access log shows the refused and the
// accepted PATCHes.
func TestChunkHalvesBehindSquidBodyLimit(t *testing.T) {
	dataDir := t.TempDir()
	srv, err := portal.New(portal.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	addInbox(t, srv)
	sq := squid.Start(t, squid.Options{RequestBodyMax: 1 << 20})
	proxyURL, err := url.Parse(sq.URL)
	if err != nil {
		t.Fatal(err)
	}
	ct := &countingTransport{status: map[int]int{}, base: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	f, data := randomFile(t, 3<<20+777)
	memory := filepath.Join(t.TempDir(), "chunks.json")
	c := &Client{HTTP: &http.Client{Transport: ct}, Retry: fastRetry(), Chunks: NewChunkFile(memory)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.Upload(ctx, Job{Endpoint: ts.URL + wire.UploadsPath, File: f, Size: int64(len(data)),
		Metadata: map[string]string{wire.MetaCommunity: "bM1X", wire.MetaSHA256: sha(data)}})
	status, patches := ct.reset()
	if err != nil {
		t.Fatalf("upload: %v (answers %v, PATCH bodies %v)", err, status, patches)
	}
	t.Logf("answers %v, PATCH bodies %v", status, patches)
	if !portalFile(t, dataDir, data) {
		t.Fatalf("%s: no byte-identical copy in the portal's store", res.ID)
	}
	// An 8 MiB chunk is the whole 3 MiB file: refused, by squid's 413 or,
	// when squid hangs up while the body is still coming, by a cut
	// (either halves). The client goes down to 1 MiB (squid's limit
	// exactly), where the rest passes, and remembers that size.
	// Which of the two the client sees depends on timing (squid may reset
	// before its 413 is read); squid's own log shows the 413 either way.
	if patches[0] != int64(len(data)) || patches[len(patches)-2] != 1<<20 {
		t.Fatalf("%d 413s, PATCH bodies %v", status[413], patches)
	}
	if b, err := os.ReadFile(memory); err != nil || !strings.Contains(string(b), "1048576") {
		t.Fatalf("remembered %q (%v)", b, err)
	}
	sq.WaitLog(t, 10*time.Second, "/413 ", " PATCH "+ts.URL+wire.UploadsPath)
	sq.WaitLog(t, 10*time.Second, "/204 ", " PATCH "+ts.URL+wire.UploadsPath)
}
