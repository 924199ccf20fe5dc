package cli

import (
	"net"
	"net/http"
	"os"

	"github.com/rogpeppe/go-internal/testscript"
)

// The testscript commands of testdata/proxy/pac.txt (registered in
// TestProxyScript).

// subst IN OUT copies IN to OUT with $VAR and ${VAR} replaced by the
// script's environment (a PAC file naming this run's squid and portal).
func substCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: subst IN OUT")
	}
	out := os.Expand(ts.ReadFile(args[0]), ts.Getenv)
	if err := os.WriteFile(ts.MkAbs(args[1]), []byte(out), 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
}

// servedir VAR DIR serves DIR over http on a free port of 127.0.0.1 and
// sets $VAR to its URL (a PAC file over http).
func serveDir(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: servedir VAR DIR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.Fatalf("%v", err)
	}
	hs := &http.Server{Handler: http.FileServer(http.Dir(ts.MkAbs(args[1])))}
	go hs.Serve(ln)
	ts.Defer(func() { hs.Close() })
	ts.Setenv(args[0], "http://"+ln.Addr().String())
}

// closedport VAR sets $VAR to a loopback host:port nobody listens on.
func closedPortCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: closedport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ts.Setenv(args[0], ln.Addr().String())
	ln.Close()
}
