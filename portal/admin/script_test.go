package admin

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bildbote/bildbote/internal/gencd"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"bildbote-portal": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScript runs the golden CLI tests in testdata/script: usage, output
// on stdout versus notes on stderr, translated errors, exit status.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("LANG", "en_US.UTF-8")
			cd := filepath.Join(env.WorkDir, "cd")
			if _, err := gencd.Generate(cd, gencd.Options{Files: gencd.MinFiles, PixelSize: 16, Documents: true}); err != nil {
				return err
			}
			env.Setenv("CD", cd)
			return nil
		},
		UpdateScripts: os.Getenv("UPDATE_GOLDEN") != "",
	})
}
