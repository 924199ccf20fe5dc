package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/portal"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"bildbote-cli": func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScript runs the golden tests in testdata/script: usage, errors with
// hints, exit codes, and scan --json on a small generated CD ($CD).
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		Setup:         scriptSetup,
		Cmds:          map[string]func(*testscript.TestScript, bool, []string){"jsonshape": jsonShape, "startportal": startPortal},
		UpdateScripts: os.Getenv("UPDATE_GOLDEN") != "",
	})
}

// scriptSetup gives each script its own state and a small generated CD.
func scriptSetup(env *testscript.Env) error {
	env.Setenv("BILDBOTE_STATE", filepath.Join(env.WorkDir, "state"))
	env.Setenv("BILDBOTE_POLICY", "")
	env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, "config"))
	env.Setenv("LANG", "en_US.UTF-8")
	env.Setenv("BILDBOTE_KEY_PASSPHRASE", "correct horse battery staple")
	cd := filepath.Join(env.WorkDir, "cd")
	res, err := gencd.Generate(cd, gencd.Options{Files: gencd.MinFiles, PixelSize: 16})
	if err != nil {
		return err
	}
	env.Setenv("CD", cd)
	env.Setenv("DOB", res.Patients[0].BirthDate)
	env.Setenv("PATIENT_ID", res.Patients[0].ID)
	return nil
}

// jsonShape prints the sorted key paths of a JSON file ("stdout" for the
// last command's output), arrays as [], so golden files pin the shape of
// --json output without its varying values.
func jsonShape(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: jsonshape FILE")
	}
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &v); err != nil {
		ts.Fatalf("jsonshape: %v", err)
	}
	paths := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				paths[p] = true
				walk(p, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix+"[]", e)
			}
		}
	}
	walk("", v)
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ts.Stdout().Write([]byte(strings.Join(keys, "\n") + "\n"))
}

// startPortal starts the real reference portal in-process on 127.0.0.1
// and sets $PORTAL, $APIKEY (inbox bM1X with a fresh key), $CODE (the
// first patient of $CD, date of birth $DOB) and $EXPIRED (a code that has
// just expired). Arguments set limits of the portal: inbox-quota=BYTES,
// client-quota=BYTES (serve's --inbox-quota and --client-quota) and
// max-size=BYTES (bM1X's --max-size); "tls" serves https with a
// certificate from a test CA whose file is $PORTAL_CA (bump_test.go).
func startPortal(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: startportal [inbox-quota=N] [client-quota=N] [max-size=N]")
	}
	var lim portal.Limits
	var maxSize int64
	useTLS := false
	for _, a := range args {
		if a == "tls" {
			useTLS = true
			continue
		}
		k, v, _ := strings.Cut(a, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			ts.Fatalf("startportal %s: %v", a, err)
		}
		switch k {
		case "inbox-quota":
			lim.InboxPendingBytes = n
		case "client-quota":
			lim.AddrPendingBytes = n
		case "max-size":
			maxSize = n
		default:
			ts.Fatalf("startportal: unknown limit %s", k)
		}
	}
	dir := ts.MkAbs("portal-data")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.Fatalf("listen: %v", err)
	}
	url := "http://" + ln.Addr().String()
	if useTLS {
		url = "https://" + ln.Addr().String()
	}
	srv, err := portal.New(portal.Config{DataDir: dir, PublicURL: url, Limits: lim})
	if err != nil {
		ts.Fatalf("portal: %v", err)
	}
	srv.Start()
	hs := &http.Server{Handler: srv.Handler()}
	if useTLS {
		cert, key := portalCert(ts)
		go hs.ServeTLS(ln, cert, key)
	} else {
		go hs.Serve(ln)
	}
	ts.Defer(func() { hs.Close(); srv.Close() })
	id, err := crypto.GenerateIdentity()
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ctx := context.Background()
	res, err := srv.Store().AddCommunity(ctx, portal.AddCommunityRequest{Code: "bM1X", Name: "Klinik Süd", Recipients: []string{id.Recipient().String()}, MaxUploadBytes: maxSize})
	if err != nil {
		ts.Fatalf("community: %v", err)
	}
	issue := func(expires time.Time) string {
		rid := portal.NewRecordID()
		st, err := portal.StageItems(ctx, dir, rid, []string{ts.Getenv("CD")}, portal.StageOptions{PatientID: ts.Getenv("PATIENT_ID")})
		if err != nil {
			ts.Fatalf("stage: %v", err)
		}
		code, err := srv.Store().IssueCode(ctx, portal.IssueRequest{RecordID: rid, Items: st.Items, ExpiresAt: expires,
			Questions: []portal.QuestionSpec{{Type: portal.QuestionBirthDate, Answer: ts.Getenv("DOB")}}})
		if err != nil {
			ts.Fatalf("issue: %v", err)
		}
		return code.Code
	}
	ts.Setenv("PORTAL", url)
	ts.Setenv("APIKEY", res.APIKey)
	ts.Setenv("CODE", issue(time.Now().Add(24*time.Hour)))
	// Expired an hour ago, well inside the portal's Retention: its
	// record stays, so the portal answers "expired", not "unknown".
	ts.Setenv("EXPIRED", issue(time.Now().Add(-time.Hour)))
}
