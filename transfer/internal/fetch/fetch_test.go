package fetch

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/faultproxy"
	"github.com/bildbote/bildbote/transfer/internal/retry"
)

// pythonServer serves dir with Python's http.server, a real server that
// knows nothing of Range: every answer is the whole file with 200.
func pythonServer(t *testing.T, dir string) string {
	t.Helper()
	py := corpus.Tool(t, corpus.Python)
	cmd := exec.Command(py, "-u", "-c", `
import http.server, socketserver, sys, os
os.chdir(sys.argv[1])
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
`, dir)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	port, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strings.TrimSpace(port)
}

func get(u string) func(ctx context.Context, w *retry.Waiter, prepare func(*http.Request)) (*http.Response, error) {
	return func(ctx context.Context, w *retry.Waiter, prepare func(*http.Request)) (*http.Response, error) {
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			prepare(req)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				return resp, nil
			}
			if werr := w.Wait(ctx, err); werr != nil {
				return nil, werr
			}
		}
	}
}

// Without Range support every cut restarts from byte 0 — cleanly: the
// result is still the file, byte for byte.
func TestRestartWithoutRanges(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 2<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, "study.zip"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	addr := pythonServer(t, dir)
	proxy, err := faultproxy.New(addr, faultproxy.Options{Cuts: 3, MinBytes: 200 << 10, MaxBytes: 1 << 20, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	dst := filepath.Join(t.TempDir(), "study.zip")
	res, err := ToFile(context.Background(), dst, Options{Item: "study", Retry: retry.Policy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond},
		Send:    get(fmt.Sprintf("http://%s/study.zip", proxy.Addr())),
		Refused: func(resp *http.Response) error { return fmt.Errorf("status %d", resp.StatusCode) }})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("content differs")
	}
	if res.Resumed != 0 || res.Restarted != 3 || proxy.Cuts() != 3 {
		t.Fatalf("resumed %d, restarted %d, cuts %d", res.Resumed, res.Restarted, proxy.Cuts())
	}
	if _, err := os.Stat(dst + ".part"); !os.IsNotExist(err) {
		t.Fatal(".part left behind")
	}
}

func TestParseContentRange(t *testing.T) {
	for in, want := range map[string][3]int64{"bytes 100-199/1000": {100, 1000, 1}, "bytes 0-9/*": {0, -1, 1}, "bytes */1000": {0, 0, 0}, "items 1-2/3": {0, 0, 0}} {
		s, tot, ok := parseContentRange(in)
		if ok != (want[2] == 1) || (ok && (s != want[0] || tot != want[1])) {
			t.Errorf("%q: %d %d %v", in, s, tot, ok)
		}
	}
}
