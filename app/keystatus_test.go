package app

import (
	"path/filepath"
	"testing"
)

// The settings screen learns that a key is installed without a prompt:
// none at first, then a key file that needs its passphrase, then, once
// loaded, the key itself.
func TestClinicKeyStatus(t *testing.T) {
	state := t.TempDir()
	prompts := 0
	cfg := Config{StateDir: state, NoKeyring: true, ScryptWorkFactor: 10}
	cfg.Passphrase.Prompt = func() (string, error) { prompts++; return "geheim", nil }
	c, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st := c.ClinicKeyStatus(); st.Installed {
		t.Fatalf("fresh state: %+v", st)
	}
	info, err := c.InitClinicKey()
	if err != nil {
		t.Fatal(err)
	}
	if st := c.ClinicKeyStatus(); !st.Installed || st.Info == nil || st.Info.Fingerprint != info.Fingerprint {
		t.Errorf("after creating: %+v", st)
	}
	c.Close()
	prompts = 0
	c, err = Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := c.ClinicKeyStatus()
	if !st.Installed || st.Info != nil || st.Path != filepath.Join(state, "keys", "clinic.age") || prompts != 0 {
		t.Errorf("key file after a restart: %+v, %d prompts (want installed, no info, no prompt)", st, prompts)
	}
}

func TestOverridden(t *testing.T) {
	c, err := Open(Config{StateDir: t.TempDir(), PortalURL: "https://portal.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Overridden(SettingPortalURL) || c.Overridden(SettingLibraryDir) {
		t.Errorf("Overridden: portal %v, library %v", c.Overridden(SettingPortalURL), c.Overridden(SettingLibraryDir))
	}
}
