package tus

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	expslog "golang.org/x/exp/slog"
)

// tusd v2.10.0 has a data race of its own when a client aborts a PATCH
// (handler/context.go reads httpContext.body while writeChunk sets it).
// Tests that cut or cancel uploads therefore run tusd in a child process
// (this test binary, re-executed) whose race reports go to a log file
// instead of failing our tests: the client under test stays under the
// race detector, the server is still the real tusd.
const childEnv = "BILDBOTE_TUS_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		serveChild(dir)
		return
	}
	os.Exit(m.Run())
}

func serveChild(dir string) {
	store := filestore.New(dir)
	composer := tusd.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	h, err := tusd.NewHandler(tusd.Config{StoreComposer: composer, BasePath: "/files/", NetworkTimeout: 2 * time.Second,
		Logger: expslog.New(expslog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", ln.Addr().String())
	go func() { io.Copy(io.Discard, os.Stdin); os.Exit(0) }() // parent gone: stop
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", h))
	http.Serve(ln, mux)
}

// childServer starts tusd in a child process; it stops with the test.
func childServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir,
		"GORACE=exitcode=0 log_path="+filepath.Join(t.TempDir(), "tusd-race"))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if err != nil || !ok {
		t.Fatalf("tusd child: %q %v", line, err)
	}
	return &server{dir: dir, endpoint: "http://" + addr + "/files/", addr: addr}
}
