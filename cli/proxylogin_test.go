package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/testkit/secretservice"
	"github.com/bildbote/bildbote/internal/testkit/squid"
	"github.com/bildbote/bildbote/portal"
)

// TestProxyKeyringScript runs testdata/proxy/keyring against a REAL
// Secret Service (a private D-Bus session bus with gnome-keyring-daemon,
// internal/testkit/secretservice), the real portal and a real squid with
// a Digest login: proxy login stores the password in the keyring, later
// commands use it without any password of their own, proxy logout
// removes it. Without the programs: skipped, failed under CI=true.
func TestProxyKeyringScript(t *testing.T) {
	squid.Available(t)
	secretservice.Available(t)
	testscript.Run(t, testscript.Params{
		Files: []string{"testdata/proxy/keyring/auth_keyring.txt"},
		Setup: scriptSetup,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"startportal": startPortal, "startsquid": startSquid, "squidlog": squidLog,
			"startkeyring": startKeyring,
		},
		UpdateScripts: os.Getenv("UPDATE_GOLDEN") != "",
	})
}

// startkeyring starts a private session bus with a Secret Service and
// points the script's commands at it (DBUS_SESSION_BUS_ADDRESS, XDG dirs).
func startKeyring(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: startkeyring")
	}
	dir := ts.MkAbs("secretservice")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		ts.Fatalf("%v", err)
	}
	s, err := secretservice.StartIn(dir)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ts.Defer(s.Stop)
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		ts.Setenv(k, v)
	}
}

// lockedBuffer is a bytes.Buffer for a command's stderr read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// openPTY opens a pseudo-terminal: the master (what a person types
// into) and the slave (the command's stdin, a real terminal).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	go io.Copy(io.Discard, m) // the terminal's echo of the user name
	return m, s
}

// TestProxyPromptOn407: on a terminal, a command whose request gets a 407
// from a real squid (Digest) asks once for the proxy user and password
// (the password without echo), sends the request again and passes as
// anna; a wrong answer is asked for only once, then the command fails
// with the translated 407. Without a terminal nothing is asked (see
// testdata/proxy/auth_digest.txt).
func TestProxyPromptOn407(t *testing.T) {
	squid.Available(t)
	dir := t.TempDir()
	srv, err := portal.New(portal.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	id, err := crypto.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.Store().AddCommunity(context.Background(), portal.AddCommunityRequest{Code: "bM1X", Name: "Klinik Süd", Recipients: []string{id.Recipient().String()}})
	if err != nil {
		t.Fatal(err)
	}
	sq := squid.Start(t, squid.Options{Auth: squid.Digest, Users: map[string]string{"anna": "geheim"}})
	t.Setenv("BILDBOTE_STATE", filepath.Join(t.TempDir(), "state"))
	t.Setenv("BILDBOTE_POLICY", "")
	t.Setenv("LANG", "en_US.UTF-8")
	t.Setenv("BILDBOTE_API_KEY", res.APIKey)
	for _, k := range []string{app.ProxyUserEnv, app.ProxyPasswordEnv, app.ProxyEnv} {
		t.Setenv(k, "")
	}
	t.Setenv(app.KeyringEnv, "off") // never the developer's own keyring
	run := func(answers ...[2]string) (int, string, string) {
		master, slave := openPTY(t)
		var stdout bytes.Buffer
		stderr := &lockedBuffer{}
		done := make(chan int, 1)
		go func() {
			done <- Main([]string{"receive", "--json", "--proxy", sq.URL, "--portal", ts.URL, "--inbox", "bM1X", "--list"}, slave, &stdout, stderr)
		}()
		for _, a := range answers {
			end := time.Now().Add(20 * time.Second)
			for !strings.Contains(stderr.String(), a[0]) {
				if time.Now().After(end) {
					t.Fatalf("no prompt %q; stderr:\n%s", a[0], stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			io.WriteString(master, a[1]+"\n")
		}
		select {
		case code := <-done:
			return code, stdout.String(), stderr.String()
		case <-time.After(30 * time.Second):
			t.Fatalf("the command did not end; stderr:\n%s", stderr.String())
		}
		return 0, "", ""
	}
	code, out, errOut := run([2]string{"Proxy user name", "anna"}, [2]string{"Password of proxy user anna: ", "geheim"})
	if code != ExitOK || !strings.Contains(out, "[") || !strings.Contains(errOut, "The proxy "+sq.URL+" asks for a login.") || strings.Contains(errOut, "geheim") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	sq.WaitLog(t, 10*time.Second, "TCP_MISS/200", "GET "+ts.URL+"/api/v1/inbox/bM1X", " anna ")

	// a wrong password: asked once, then the translated 407
	code, _, errOut = run([2]string{"Proxy user name", "anna"}, [2]string{"Password of proxy user anna: ", "verkehrt7"})
	if code != ExitInput || strings.Count(errOut, "Password of proxy user") != 1 || !strings.Contains(errOut, "refused the login") || strings.Contains(errOut, "verkehrt7") {
		t.Fatalf("wrong password: exit %d\n%s", code, errOut)
	}
}
