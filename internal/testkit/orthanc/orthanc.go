// Package orthanc runs a real Orthanc PACS (Debian's orthanc and
// orthanc-dicomweb packages) for tests, isolated in a private network
// namespace.
//
// Orthanc 1.10 cannot bind to 127.0.0.1 only, so it runs in a uniquely
// named network namespace that has nothing but a loopback interface:
// nothing outside the machine can reach it, and parallel test runs do not
// collide on port 8042. The code under test must run in the same
// namespace, so the design is a re-exec:
//
//	func TestStow(t *testing.T) {
//		orthanc.Run(t, "TestStowInside") // starts Orthanc, re-runs the test binary in the namespace
//	}
//
//	func TestStowInside(t *testing.T) {
//		base := orthanc.URL(t) // skips unless run by orthanc.Run
//		... talk to base ...
//	}
//
// Run creates the namespace, writes a temporary configuration and storage,
// starts Orthanc with `ip netns exec`, waits for /system, then runs
// `ip netns exec NS <this test binary> -test.run=^Inside$` with an
// environment marker carrying the URL, and fails the outer test with the
// inner test's output when it fails. Orthanc is stopped by its PID and the
// namespace deleted when the test ends. Without `ip netns` (not root, no
// Orthanc) the test is skipped locally and fails under CI=true.
package orthanc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// Env carries Orthanc's base URL into the re-executed test binary.
const Env = "BILDBOTE_ORTHANC_URL"

// HTTPPort is Orthanc's HTTP port inside the namespace.
const HTTPPort = 8042

// DICOMwebRoot is the DICOMweb plugin's root below the base URL.
const DICOMwebRoot = "/dicom-web"

// PluginPath is where Debian installs the DICOMweb plugin.
const PluginPath = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

// URL returns Orthanc's base URL ("http://127.0.0.1:8042") inside a test
// started by Run, and skips the test otherwise.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(Env)
	if u == "" {
		t.Skip("runs inside a network namespace started by orthanc.Run")
	}
	return u
}

// Inside reports whether the process runs under Run.
func Inside() bool { return os.Getenv(Env) != "" }

// Run starts Orthanc in a new network namespace and runs the test named
// inner of the current test binary inside it.
func Run(t *testing.T, inner string) {
	t.Helper()
	RunWith(t, inner, Options{})
}

// Options change what RunWith starts.
type Options struct {
	// Config is merged into Orthanc's configuration over the defaults
	// (e.g. DicomTlsEnabled with its certificate files).
	Config map[string]any
	// Env is added to the inner test's environment (KEY=VALUE), e.g.
	// the paths of files the outer test made for Orthanc and the client.
	Env []string
}

// RunWith is Run with options.
func RunWith(t *testing.T, inner string, o Options) {
	t.Helper()
	if Inside() {
		t.Skip("already inside the namespace")
	}
	ip := corpus.Tool(t, "ip")
	bin := corpus.Tool(t, "Orthanc")
	corpus.Path(t, PluginPath)
	ns := fmt.Sprintf("bbpacs%d%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		missing(t, "ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(ip, "netns", "del", ns).Run() })
	if out, err := exec.Command(ip, "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "orthanc.json")
	if err := writeConfig(cfg, dir, o.Config); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "orthanc.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	log := func() string { data, _ := os.ReadFile(logPath); return string(data) }
	srv := exec.Command(ip, "netns", "exec", ns, bin, cfg)
	srv.Stdout, srv.Stderr = logFile, logFile
	if err := srv.Start(); err != nil {
		t.Fatalf("start Orthanc: %v", err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			srv.Process.Kill()
			<-done
		}
	})
	base := "http://127.0.0.1:" + strconv.Itoa(HTTPPort)
	if err := waitReady(ip, ns, base); err != nil {
		t.Fatalf("Orthanc not ready: %v\n%s", err, log())
	}
	args := []string{"netns", "exec", ns, os.Args[0], "-test.run=^" + inner + "$", "-test.v", "-test.count=1"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).Round(time.Second).String())
	}
	cmd := exec.Command(ip, args...)
	cmd.Env = append(append(os.Environ(), o.Env...), Env+"="+base)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+inner)) {
		t.Fatalf("%s inside namespace %s: %v\n%s\nOrthanc log:\n%s", inner, ns, err, out, tail(log(), 4000))
	}
	t.Logf("%s passed inside namespace %s", inner, ns)
}

func writeConfig(path, dir string, extra map[string]any) error {
	cfg := map[string]any{
		"Name":                  "BILDBOTE-TEST",
		"HttpPort":              HTTPPort,
		"DicomPort":             4242,
		"DicomAet":              "ORTHANC",
		"RemoteAccessAllowed":   false,
		"AuthenticationEnabled": false,
		"StorageDirectory":      filepath.Join(dir, "storage"),
		"IndexDirectory":        filepath.Join(dir, "index"),
		"Plugins":               []string{PluginPath},
		"DefaultEncoding":       "Utf8",
		"DicomWeb": map[string]any{
			"Enable": true, "Root": DICOMwebRoot + "/", "Host": "127.0.0.1:" + strconv.Itoa(HTTPPort),
		},
		"DicomModalities": map[string]any{"BILDBOTE": []any{"BILDBOTE", "127.0.0.1", 11112}},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// waitReady polls /system inside the namespace with curl for up to a
// minute (a loaded CI machine starts Orthanc slowly).
func waitReady(ip, ns, base string) error {
	curl, err := exec.LookPath("curl")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var last []byte
	for ctx.Err() == nil {
		out, err := exec.CommandContext(ctx, ip, "netns", "exec", ns, curl, "-sf", base+"/system").Output()
		if err == nil && bytes.Contains(out, []byte("Version")) {
			return nil
		}
		last = out
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("timeout, last answer %q", last)
}

func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if corpus.InCI() {
		t.Fatalf("orthanc: "+format+" (CI=true)", args...)
	}
	t.Skipf("orthanc: "+format, args...)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
