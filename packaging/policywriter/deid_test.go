package main

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/app"
)

// deidentify_inboxes (issue 19): the flag lands in the file, the app's
// loader locks it and a core on the file requires de-identification for
// exactly those inboxes; a value that is no inbox code is refused.
func TestDeidentifyInboxesKey(t *testing.T) {
	quietEnv(t, "en")
	dir := t.TempDir()
	out := filepath.Join(dir, "policy.toml")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--out", out, "--deidentify-inboxes", " bM1X; cN2Y "}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	p, err := app.LoadPolicy(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Keys(); !reflect.DeepEqual(got, []string{app.SettingDeidentifyInboxes}) {
		t.Fatalf("locked %v", got)
	}
	core, err := app.Open(app.Config{StateDir: t.TempDir(), PolicyPath: out})
	if err != nil {
		t.Fatal(err)
	}
	defer core.Close()
	s := core.Settings()
	if !s.DeidentifyRequired("bM1X") || !s.DeidentifyRequired("cN2Y") || s.DeidentifyRequired("dP3Z") {
		t.Errorf("deidentify_inboxes %v", s.DeidentifyInboxes)
	}
	stderr.Reset()
	if code := run([]string{"--out", filepath.Join(dir, "bad.toml"), "--deidentify-inboxes", "bM1X;no such"}, &stdout, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "deidentify_inboxes") {
		t.Errorf("a bad inbox code: exit %d, %s", code, stderr.String())
	}
}
