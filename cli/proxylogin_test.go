package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bildbote/bildbote/internal/testkit/secretservice"
	"github.com/bildbote/bildbote/internal/testkit/squid"
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
