package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/app"
)

// msiArgs are the arguments the MSI custom action passes, with the
// properties an admin set on the msiexec command line.
func msiArgs(out, portal, inbox, pinned, pacs string) []string {
	return []string{"--out", out, "--portal-url", portal, "--allowed-portals", "",
		"--default-inbox", inbox, "--pinned-key", pinned, "--pacs-url", pacs,
		"--library-dir", "", "--bandwidth-limit-kbps", "", "--clinic-mode", ""}
}

const fingerprint = "ABCD EFGH IJKL MNOP QRST UVWX YZ23 4567"

func TestWritesWhatTheAppLoadsAndLocks(t *testing.T) {
	out := filepath.Join(t.TempDir(), "etc", "bildbote", "policy.toml")
	var stdout, stderr bytes.Buffer
	args := msiArgs(out, "https://portal.example", "bM1X", fingerprint, "http://pacs.local:8042/dicom-web")
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	p, err := app.LoadPolicy(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"default_inbox", "pacs_stow_url", "pinned_keys", "portal_url"}
	if got := p.Keys(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("locked keys %v, want %v (empty properties must not lock anything)", got, want)
	}
	data, _ := os.ReadFile(out)
	if !strings.Contains(string(data), `bM1X = "`+fingerprint+`"`) {
		t.Errorf("pinned key not written as read out:\n%s", data)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestEveryKey(t *testing.T) {
	out := filepath.Join(t.TempDir(), "policy.toml")
	args := []string{"--out", out, "--portal-url", "https://a.example",
		"--allowed-portals", "https://a.example; https://b.example",
		"--default-inbox", "bM1X", "--pinned-key", "bM1X=" + fingerprint + ";X9=" + fingerprint,
		"--pacs-url", "http://pacs.local:8042/dicom-web", "--library-dir", "/srv/bildbote",
		"--bandwidth-limit-kbps", "10000", "--clinic-mode", "1"}
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	p, err := app.LoadPolicy(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(p.Keys()); got != 8 {
		t.Fatalf("%d keys locked, want all 8: %v", got, p.Keys())
	}
}

func TestNoValuesLeavesExistingFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "policy.toml")
	const existing = "portal_url = \"https://kept.example\"\n"
	if err := os.WriteFile(out, []byte(existing), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(msiArgs(out, "", "", "", ""), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if data, _ := os.ReadFile(out); string(data) != existing {
		t.Fatalf("file changed to:\n%s", data)
	}
}

func TestRejectedValueKeepsOldFileAndFails(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "policy.toml")
	const existing = "portal_url = \"https://kept.example\"\n"
	if err := os.WriteFile(out, []byte(existing), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{
		"not a URL":          msiArgs(out, "portal.example", "", "", ""),
		"bare pin, no inbox": msiArgs(out, "https://portal.example", "", fingerprint, ""),
		"bad fingerprint":    msiArgs(out, "", "bM1X", "not-base32!", ""),
		"bad number":         {"--out", out, "--bandwidth-limit-kbps", "fast"},
		"bad bool":           {"--out", out, "--clinic-mode", "maybe"},
		"unknown flag":       {"--out", out, "--portal", "https://x.example"},
	}
	for name, args := range cases {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code == 0 {
			t.Errorf("%s: exit 0, want failure", name)
		}
		if stderr.Len() == 0 {
			t.Errorf("%s: no message on stderr", name)
		}
	}
	if data, _ := os.ReadFile(out); string(data) != existing {
		t.Fatalf("file changed to:\n%s", data)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".policy-*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	for path, content := range map[string]string{
		good: "portal_url = \"https://portal.example\"\ndefault_inbox = \"bM1X\"\n",
		bad:  "portal_url = \"https://portal.example\"\nportal = \"typo\"\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--check", good}, &stdout, &stderr); code != 0 {
		t.Fatalf("good file: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "default_inbox, portal_url") {
		t.Errorf("locked keys not listed: %q", stdout.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"--check", bad}, &stdout, &stderr); code != 2 {
		t.Fatalf("file with an unknown key: exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "portal") {
		t.Errorf("the unknown key is not named: %q", stderr.String())
	}
}
