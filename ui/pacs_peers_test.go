package ui

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
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

// silentListener accepts connections on loopback and never answers.
func silentListener(t *testing.T) string {
	t.Helper()
	return strings.TrimPrefix(silentPortURL(t), "http://")
}
