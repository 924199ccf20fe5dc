package ui

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// Real PACS peers for the UI's PACS tests: dcmtk's storescp and dcmqrscp
// listen on all interfaces, so (as in transfer/dimse and app) the test
// runs in a private network namespace that has only a loopback
// interface: runInPrivateNet re-runs the named test of this binary there
// with `ip netns exec`; the inner test skips unless it runs there.

// netnsEnv marks the re-executed test binary.
const netnsEnv = "BILDBOTE_UI_NETNS"

// runInPrivateNet runs the test inner inside a new network namespace and
// fails with its output when it fails. Without root or ip(8) it skips
// (fails under CI=true).
func runInPrivateNet(t *testing.T, inner string) {
	t.Helper()
	if os.Getenv(netnsEnv) != "" {
		t.Skip("already inside the namespace")
	}
	ip := corpus.Tool(t, "ip")
	if os.Geteuid() != 0 {
		corpus.Missing(t, "a private network namespace for the dcmtk peers (run as root with ip(8) from iproute2)")
	}
	ns := fmt.Sprintf("bbui%d%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		corpus.Missing(t, "ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(ip, "netns", "del", ns).Run() })
	if out, err := exec.Command(ip, "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	args := []string{"netns", "exec", ns, os.Args[0], "-test.run=^" + inner + "$", "-test.v", "-test.count=1"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).Round(time.Second).String())
	}
	cmd := exec.Command(ip, args...)
	cmd.Env = append(os.Environ(), netnsEnv+"="+ns)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+inner)) {
		t.Fatalf("%s inside namespace %s: %v\n%s", inner, ns, err, out)
	}
	if testing.Verbose() {
		t.Logf("%s passed inside namespace %s:\n%s", inner, ns, out)
	}
}

// insidePrivateNet skips a test not started by runInPrivateNet.
func insidePrivateNet(t *testing.T) {
	t.Helper()
	if os.Getenv(netnsEnv) == "" {
		t.Skip("runs inside a network namespace started by runInPrivateNet")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startPeer runs a dcmtk SCP with args and the port last, waits until it
// takes connections and stops it by its PID when the test ends. The log
// is returned (and shown when the test fails).
func startPeer(t *testing.T, tool string, port int, args ...string) *lockedBuffer {
	t.Helper()
	bin := corpus.Tool(t, tool)
	cmd := exec.Command(bin, append(args, strconv.Itoa(port))...)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", tool, log.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s: %v\n%s", tool, addr, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startStorescp runs storescp writing into dir; stores counts the
// C-STORE requests it received.
func startStorescp(t *testing.T, dir string, port int, extra ...string) (stores func() int) {
	t.Helper()
	log := startPeer(t, "storescp", port, append([]string{"-v", "-od", dir}, extra...)...)
	return func() int { return strings.Count(log.String(), "Received Store Request") }
}

// startDcmqrscp runs dcmqrscp answering only to the AE title PACS.
func startDcmqrscp(t *testing.T, port int) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "dcmqrscp.cfg")
	if err := os.WriteFile(cfg, []byte("NetworkTCPPort = "+strconv.Itoa(port)+"\nMaxPDUSize = 16384\nMaxAssociations = 4\n"+
		"HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"+
		"AETable BEGIN\nPACS "+db+" RW (10, 1024mb) ANY\nAETable END\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Not -s: dcmqrscp 3.6.7 crashes after the first association in
	// single-process mode.
	startPeer(t, "dcmqrscp", port, "-c", cfg)
}

// silentListener accepts connections on loopback and never answers.
func silentListener(t *testing.T) string {
	t.Helper()
	return strings.TrimPrefix(silentPortURL(t), "http://")
}

// countFiles counts the regular files below dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
		}
		return nil
	})
	return n
}
