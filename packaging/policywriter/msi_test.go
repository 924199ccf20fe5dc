package main

import (
	"bytes"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/app"
)

// msiCommand is WritePolicy's ExeCommand in bildbote.wxs, unescaped.
func msiCommand(t *testing.T) string {
	t.Helper()
	wxs, err := os.ReadFile("../windows/bildbote.wxs")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<CustomAction Id="WritePolicy"[^>]*ExeCommand="([^"]*)"`).FindSubmatch(wxs)
	if m == nil {
		t.Fatal("no WritePolicy ExeCommand in bildbote.wxs")
	}
	return html.UnescapeString(string(m[1]))
}

// expand does what msiexec does to the command line: [PROPERTY] becomes
// its value ("" when unset), then the quoted arguments are split.
func expand(t *testing.T, cmd string, props map[string]string) []string {
	t.Helper()
	cmd = regexp.MustCompile(`\[([A-Za-z0-9_]+)\]`).ReplaceAllStringFunc(cmd, func(m string) string {
		return props[m[1:len(m)-1]]
	})
	var args []string
	for _, a := range regexp.MustCompile(`"[^"]*"|[^ "]+`).FindAllString(cmd, -1) {
		args = append(args, strings.Trim(a, `"`))
	}
	return args
}

// The MSI's command line is one the writer takes: every property it
// passes is an option the writer knows (a typo would fail every install),
// every option of the writer is passed, unset properties write nothing,
// and set ones land in the policy as the app loads it.
func TestMSICommandLine(t *testing.T) {
	quietEnv(t, "en")
	cmd := msiCommand(t)
	dir := t.TempDir()
	common := dir + string(filepath.Separator)
	out := filepath.Join(dir, `Bildbote\policy.toml`) // the Windows separator is a name character here

	var passed []string
	for _, m := range regexp.MustCompile(`--([a-z0-9-]+) "\[([A-Z0-9]+)\]"`).FindAllStringSubmatch(cmd, -1) {
		if want := strings.ToUpper(strings.ReplaceAll(m[1], "-", "")); m[2] != want {
			t.Errorf("--%s passes [%s], want [%s] (the documented naming)", m[1], m[2], want)
		}
		passed = append(passed, m[1])
	}
	// the writer's options, as -h lists them
	var stderr bytes.Buffer
	if _, err := parseArgs([]string{"-h"}, &stderr); err == nil {
		t.Fatal("-h parsed")
	}
	var known []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(stderr.String(), -1) {
		if m[1] != "out" && m[1] != "check" {
			known = append(known, m[1])
		}
	}
	stderr.Reset()
	slices.Sort(passed)
	slices.Sort(known)
	if !slices.Equal(passed, known) {
		t.Errorf("the MSI passes %v,\nthe writer has %v", passed, known)
	}

	var stdout bytes.Buffer
	if code := run(expand(t, cmd, map[string]string{"CommonAppDataFolder": common}), &stdout, &stderr); code != 0 {
		t.Fatalf("no property set: exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("no property set, yet %s was written (%v)", out, err)
	}

	props := map[string]string{"CommonAppDataFolder": common, "PORTALURL": "https://portal.example",
		"PROXYPAC": "http://wpad.klinik.local/proxy.pac", "PROXYUSER": `KLINIK\anna`, "HTTP1ONLY": "1",
		"MAXNETWORKWAITMINUTES": "480", "REQUIREDSENDERFIELDS": "sender_name"}
	if code := run(expand(t, cmd, props), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	p, err := app.LoadPolicy(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"http1_only", "max_network_wait_minutes", "portal_url", "proxy_pac", "proxy_user", "required_sender_fields"}
	if got := p.Keys(); !slices.Equal(got, want) {
		t.Errorf("locked %v, want %v", got, want)
	}
}
