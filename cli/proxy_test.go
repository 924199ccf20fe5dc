package cli

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bildbote/bildbote/internal/testkit/squid"
)

// TestProxyScript runs testdata/proxy against the real reference portal
// on loopback through a real squid (internal/testkit/squid): send, redeem
// and receive with --proxy and BILDBOTE_PROXY, squid's access log showing
// each request; a proxy login via basic_ncsa_auth (407 without it, in
// English and German, then with --proxy-user and a password file or
// BILDBOTE_PROXY_PASSWORD). Without squid: skipped, failed under CI=true.
func TestProxyScript(t *testing.T) {
	squid.BumpAvailable(t) // squid, its auth helpers, openssl, security_file_certgen
	testscript.Run(t, testscript.Params{
		Dir:   "testdata/proxy",
		Setup: scriptSetup,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"jsonshape": jsonShape, "startportal": startPortal,
			"startsquid": startSquid, "squidlog": squidLog,
			"subst": substCmd, "servedir": serveDir, "closedport": closedPortCmd, // pac_test.go
			"bumpsquid": bumpSquid,
		},
		UpdateScripts: os.Getenv("UPDATE_GOLDEN") != "",
	})
}

// startsquid VAR [basic|digest|ntlm] [USER:PASSWORD…] starts squid (with
// a login of that scheme, Basic by default, for the users given) and sets
// $VAR to its URL and $VAR_LOG to its access log.
func startSquid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: startsquid VAR [basic|digest|ntlm] [USER:PASSWORD…]")
	}
	var o squid.Options
	users := args[1:]
	if len(users) > 0 && !strings.Contains(users[0], ":") { // the scheme: basic, digest, ntlm
		o.Auth, users = users[0], users[1:]
	}
	for _, a := range users {
		u, p, ok := strings.Cut(a, ":")
		if !ok {
			ts.Fatalf("startsquid: %q is not USER:PASSWORD", a)
		}
		if o.Users == nil {
			o.Users = map[string]string{}
		}
		o.Users[u] = p
	}
	dir := ts.MkAbs("squid-" + args[0])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		ts.Fatalf("%v", err)
	}
	p, err := squid.StartIn(dir, o)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ts.Defer(p.Stop)
	ts.Setenv(args[0], p.URL)
	ts.Setenv(args[0]+"_LOG", p.AccessLog)
}

// squidlog LOG PART… waits (10 s at most) for an access-log line holding
// every PART and prints the matching lines (for stdout checks).
func squidLog(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: squidlog LOG PART…")
	}
	p := &squid.Proxy{AccessLog: args[0]}
	wait := 10 * time.Second
	if neg {
		wait = 0
	}
	lines, err := p.WaitFor(wait, args[1:]...)
	switch {
	case neg && err == nil:
		ts.Fatalf("squid access log has %q: %s", args[1:], lines[0])
	case !neg && err != nil:
		ts.Fatalf("%v", err)
	}
	for _, l := range lines {
		fmt.Fprintln(ts.Stdout(), l)
	}
}
