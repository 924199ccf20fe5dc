// Package dicompeer runs dcmtk's DICOM peers for tests: storescp (with a
// count of the C-STORE requests it received, so a test sees an instance
// sent twice) and dcmqrscp (an SCP that knows its called AE title), each
// on a loopback port, stopped by its PID when the test ends and with its
// log shown when the test fails. dcmtk's SCPs listen on all interfaces:
// start them only inside a private network namespace (orthanc.Run, or a
// package's own TestMain), never on a machine's open interfaces.
package dicompeer

import (
	"bytes"
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

// startWait bounds how long a peer may take to listen.
const startWait = 10 * time.Second

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Log is a process's output, written by it and read by the test.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Log) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Log) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start runs the dcmtk tool (a name on PATH, see corpus.Tool) with args
// and the port appended, waits until 127.0.0.1:port takes connections
// and returns its log. The peer is stopped (SIGTERM, then SIGKILL after
// 10 s) when the test ends.
func Start(t testing.TB, tool string, port int, args ...string) *Log {
	t.Helper()
	return Run(t, tool, port, append(args, strconv.Itoa(port))...)
}

// Run is Start for a program that takes its port from its own
// configuration (Orthanc): args are passed as they are, port is where it
// will listen. tool is a name on PATH or a path.
func Run(t testing.TB, tool string, port int, args ...string) *Log {
	t.Helper()
	bin := tool
	if !strings.Contains(tool, "/") {
		bin = corpus.Tool(t, tool)
	}
	tool = filepath.Base(bin)
	cmd := exec.Command(bin, args...)
	log := &Log{}
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
	for deadline := time.Now().Add(startWait); ; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return log
		}
		select {
		case <-done:
			t.Fatalf("%s exited before it listened on %s:\n%s", tool, addr, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s: %v\n%s", tool, addr, err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Storescp runs storescp on port writing what it receives into dir
// (created if needed), verbose, with extra options (e.g. "+xi" for
// implicit VR only, "--aetitle", "STORESCP"); stores counts the C-STORE
// requests it received so far.
func Storescp(t testing.TB, dir string, port int, extra ...string) (stores func() int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log := Start(t, "storescp", port, append([]string{"-v", "-od", dir}, extra...)...)
	return func() int { return strings.Count(log.String(), "Received Store Request") }
}

// Dcmqrscp runs dcmqrscp on port answering only to the called AE title
// ae (any calling AE), with a storage area of its own.
func Dcmqrscp(t testing.TB, port int, ae string) *Log {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "dcmqrscp.cfg")
	if err := os.WriteFile(cfg, []byte("NetworkTCPPort = "+strconv.Itoa(port)+"\nMaxPDUSize = 16384\nMaxAssociations = 4\n"+
		"HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"+
		"AETable BEGIN\n"+ae+" "+db+" RW (10, 1024mb) ANY\nAETable END\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Not -s: dcmqrscp 3.6.7 crashes after the first association in
	// single-process mode.
	return Start(t, "dcmqrscp", port, "-c", cfg)
}

// CountFiles counts the regular files below dir (what an SCP stored).
func CountFiles(t testing.TB, dir string) int {
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
