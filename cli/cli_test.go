package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bildbote/bildbote/internal/testkit/gencd"
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
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("BILDBOTE_STATE", filepath.Join(env.WorkDir, "state"))
			env.Setenv("BILDBOTE_POLICY", "")
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, "config"))
			env.Setenv("LANG", "en_US.UTF-8")
			env.Setenv("BILDBOTE_KEY_PASSPHRASE", "correct horse battery staple")
			cd := filepath.Join(env.WorkDir, "cd")
			if _, err := gencd.Generate(cd, gencd.Options{Files: gencd.MinFiles, PixelSize: 16}); err != nil {
				return err
			}
			env.Setenv("CD", cd)
			return nil
		},
		Cmds:          map[string]func(*testscript.TestScript, bool, []string){"jsonshape": jsonShape},
		UpdateScripts: os.Getenv("UPDATE_GOLDEN") != "",
	})
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
