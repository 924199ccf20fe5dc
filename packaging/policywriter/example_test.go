package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/bildbote/bildbote/app"
)

// uncommentKey matches the example's commented-out keys ("# key = ...",
// "# [pinned_keys]", "# bM1X = ..."), not its prose lines.
var uncommentKey = regexp.MustCompile(`(?m)^# ((?:[a-z][a-z0-9_]*|bM1X) = |\[pinned_keys\])`)

// The shipped example must stay in step with the app's loader: as shipped
// (everything commented) it locks nothing, and with every key switched on
// it loads and locks all of them.
func TestExampleMatchesTheLoader(t *testing.T) {
	example, err := os.ReadFile("../policy/policy.toml.example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	asShipped := filepath.Join(dir, "shipped.toml")
	if err := os.WriteFile(asShipped, example, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := app.LoadPolicy(asShipped)
	if err != nil {
		t.Fatalf("example as shipped: %v", err)
	}
	if len(p.Keys()) != 0 {
		t.Fatalf("example as shipped locks %v, want nothing", p.Keys())
	}

	everything := filepath.Join(dir, "everything.toml")
	if err := os.WriteFile(everything, uncommentKey.ReplaceAll(example, []byte("$1")), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err = app.LoadPolicy(everything)
	if err != nil {
		t.Fatalf("example with every key: %v", err)
	}
	want := []string{app.SettingAllowedPortals, app.SettingBandwidthLimitKbps, app.SettingClinicMode,
		app.SettingDefaultInbox, app.SettingLibraryDir, app.SettingPACSStowURL,
		app.SettingPinnedKeys, app.SettingPortalURL, app.SettingRequiredSender,
		app.SettingMaxNetworkWait, app.SettingMaxBusyWait, app.SettingCABundle, app.SettingHTTP1Only,
		app.SettingPACSTLSCA, app.SettingPACSTLSCert, app.SettingPACSTLSKey,
		app.SettingProxy, app.SettingProxyPAC, app.SettingProxyUser, app.SettingDeidentifyInboxes}
	sort.Strings(want)
	if got := p.Keys(); !slices.Equal(got, want) {
		t.Fatalf("example with every key locks %v, want %v", got, want)
	}
	// proxy_default locks nothing, so Keys cannot show it: the example
	// must still carry it.
	if !bytes.Contains(example, []byte("\n# "+app.SettingProxyDefault+" = ")) {
		t.Errorf("the example does not show %s", app.SettingProxyDefault)
	}
}
