package dimse

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/dicompeer"
)

// The real peers (dcmtk's storescp, dcmqrscp) listen on all interfaces.
// TestMain therefore re-runs the whole test binary inside a private
// network namespace that has only a loopback interface (as root, with
// ip(8)); nothing outside the machine can reach them there. Without root
// or ip the tests that need a peer skip locally and fail under CI=true
// (see needNetns); the pure Go tests run anyway.
const netnsEnv = "BILDBOTE_DIMSE_NETNS"

func TestMain(m *testing.M) {
	if os.Getenv(netnsEnv) != "" || os.Geteuid() != 0 {
		os.Exit(m.Run())
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		os.Exit(m.Run())
	}
	ns := fmt.Sprintf("bbdimse-%d", os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "dimse tests: ip netns add: %v: %s (peer tests will not run)\n", err, out)
		os.Exit(m.Run())
	}
	code := 1
	if out, err := exec.Command(ip, "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "dimse tests: lo up: %v: %s\n", err, out)
	} else {
		cmd := exec.Command(ip, append([]string{"netns", "exec", ns, os.Args[0]}, os.Args[1:]...)...)
		cmd.Env = append(os.Environ(), netnsEnv+"="+ns)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
		err := cmd.Run()
		code = cmd.ProcessState.ExitCode()
		if err != nil && code <= 0 {
			fmt.Fprintf(os.Stderr, "dimse tests: %v\n", err)
			code = 1
		}
	}
	exec.Command(ip, "netns", "del", ns).Run()
	os.Exit(code)
}

// needNetns skips (fails under CI) unless the test runs in the private
// namespace made by TestMain.
func needNetns(t *testing.T) {
	t.Helper()
	if os.Getenv(netnsEnv) == "" {
		corpus.Missing(t, "a private network namespace for the dcmtk peers (run as root with ip(8) from iproute2)")
	}
}

func freePort(t *testing.T) int { return dicompeer.FreePort(t) }

// peer runs a dcmtk SCP (storescp, dcmqrscp) on a free port; port is
// appended to args. It returns the address once it takes connections and
// stops it by its PID when the test ends.
func peer(t *testing.T, tool string, args ...string) string {
	t.Helper()
	needNetns(t)
	port := freePort(t)
	dicompeer.Start(t, tool, port, args...)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// storescp starts dcmtk's storescp writing into a new directory, bit
// preserving (+B: the files hold the data set exactly as received).
func storescp(t *testing.T, extra ...string) (addr, dir string) {
	dir = t.TempDir()
	args := append([]string{"--aetitle", "STORESCP", "-od", dir, "+B", "+uf", "-ta", "10", "-ts", "10"}, extra...)
	return peer(t, "storescp", args...), dir
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rcvKey names a received file: pydicom's MR_small* files share one SOP
// instance UID in different transfer syntaxes.
type rcvKey struct{ uid, ts string }

// received maps SOP instance UID and transfer syntax to the files an SCP
// wrote into dir.
func received(t *testing.T, dir string) map[rcvKey]*Instance {
	t.Helper()
	out := map[rcvKey]*Instance{}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		in, err := OpenInstance(f)
		if err != nil {
			t.Errorf("received file %s: %v", f, err)
			continue
		}
		k := rcvKey{in.SOPInstanceUID, in.TransferSyntax}
		if out[k] != nil {
			t.Errorf("received %s twice in %s", in.SOPInstanceUID, shortTS(in.TransferSyntax))
		}
		out[k] = in
	}
	return out
}

func dataSet(t *testing.T, in *Instance) []byte {
	t.Helper()
	b, err := os.ReadFile(in.Path)
	if err != nil {
		t.Fatal(err)
	}
	return b[in.DataOffset:]
}

// pydicomFiles are third-party files in several transfer syntaxes.
func pydicomFiles(t *testing.T, names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, corpus.PydicomFile(t, n))
	}
	return out
}

func shortTS(ts string) string { return strings.TrimPrefix(ts, "1.2.840.10008.1.2") }
