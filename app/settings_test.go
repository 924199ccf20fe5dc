package app

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

func writePolicy(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func openCore(t *testing.T, cfg Config) *Core {
	t.Helper()
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	if cfg.PolicyPath == "" {
		cfg.PolicyPath = writePolicy(t, "# no policy\n")
	}
	c, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

const fullPolicy = `
portal_url = "https://portal.example"
allowed_portals = ["https://portal.example", "https://backup.example/"]
default_inbox = "bM1X"
pacs_stow_url = "http://pacs.local:8042/dicom-web"
library_dir = "/srv/bildbote"
bandwidth_limit_kbps = 10000
clinic_mode = true
[pinned_keys]
bM1X = "MFRG GZDF MZTW Q2LK NNWG 23TP OA"
`

func TestPolicyPrecedence(t *testing.T) {
	state := t.TempDir()
	// The user's own file sets portal, inbox and sender.
	user := `{"portal_url":"https://mine.example","default_inbox":"zZ9","sender_name":"Praxis Dr. Müller","library_dir":"/home/u/Bilder"}`
	if err := os.WriteFile(filepath.Join(state, "settings.json"), []byte(user), 0o600); err != nil {
		t.Fatal(err)
	}
	policy := writePolicy(t, "portal_url = \"https://portal.example\"\nclinic_mode = true\n")
	c, err := Open(Config{StateDir: state, PolicyPath: policy})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.Settings()
	if s.PortalURL != "https://portal.example" {
		t.Errorf("policy must win over user: portal %q", s.PortalURL)
	}
	if s.DefaultInbox != "zZ9" || s.SenderName != "Praxis Dr. Müller" || s.LibraryDir != "/home/u/Bilder" {
		t.Errorf("user values must win over defaults: %+v", s)
	}
	if !s.ClinicMode {
		t.Error("policy clinic_mode not applied")
	}
	if !c.Locked(SettingPortalURL) || !c.Locked(SettingClinicMode) || c.Locked(SettingDefaultInbox) {
		t.Errorf("locked keys wrong: %v", c.Policy().Keys())
	}

	// Changing a locked value is refused with a typed error, nothing saved.
	s.PortalURL = "https://evil.example"
	err = c.SaveSettings(s)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.Setting != SettingPortalURL {
		t.Fatalf("SaveSettings(locked change) = %v", err)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindRefused || ue.HintKey == "" {
		t.Errorf("locked error is not a refused UserError with hint: %v", err)
	}
	if c.Settings().PortalURL != "https://portal.example" {
		t.Error("locked value changed")
	}

	// Unlocked values save, and the policy's values are not copied into
	// the user's file.
	if err := c.UpdateSettings(func(s *Settings) { s.Referrer = "Dr. Özdemir"; s.DefaultInbox = "bM1X" }); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(state, "settings.json"))
	if strings.Contains(string(data), "portal.example") || !strings.Contains(string(data), "Özdemir") {
		t.Errorf("user file content: %s", data)
	}

	// A Config value sits between user and policy.
	c.Close()
	c2, err := Open(Config{StateDir: state, PolicyPath: policy, PortalURL: "https://flag.example", LibraryDir: "/tmp/lib"})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if s := c2.Settings(); s.PortalURL != "https://portal.example" || s.LibraryDir != "/tmp/lib" || s.Referrer != "Dr. Özdemir" {
		t.Errorf("after reopen: %+v", s)
	}
}

func TestPolicyFullFileLocksEverything(t *testing.T) {
	c := openCore(t, Config{PolicyPath: writePolicy(t, fullPolicy)})
	want := []string{"allowed_portals", "bandwidth_limit_kbps", "clinic_mode", "default_inbox", "library_dir", "pacs_stow_url", "pinned_keys", "portal_url"}
	if got := strings.Join(c.Policy().Keys(), ","); got != strings.Join(want, ",") {
		t.Errorf("locked = %s", got)
	}
	s := c.Settings()
	if s.BandwidthLimitKbps != 10000 || s.LibraryDir != "/srv/bildbote" || s.PinnedKeys["bM1X"] == "" || len(s.AllowedPortals) != 2 {
		t.Errorf("settings: %+v", s)
	}
	for _, change := range []func(*Settings){
		func(s *Settings) { s.BandwidthLimitKbps = 0 },
		func(s *Settings) { s.ClinicMode = false },
		func(s *Settings) { s.PinnedKeys = nil },
		func(s *Settings) { s.AllowedPortals = append(s.AllowedPortals, "https://x.example") },
	} {
		if err := c.UpdateSettings(change); !errors.Is(err, ErrLocked) {
			t.Errorf("locked change accepted: %v", err)
		}
	}
	// Saving the settings unchanged is fine.
	if err := c.SaveSettings(c.Settings()); err != nil {
		t.Errorf("unchanged save: %v", err)
	}
}

func TestPolicyMalformed(t *testing.T) {
	cases := map[string]string{
		"syntax":            "portal_url = \"https://a.example\nclinic_mode = true\n",
		"unknown key":       "portal_url = \"https://a.example\"\nportal_ulr = \"x\"\n",
		"unknown table key": "[pinned_keys]\nbM1X = \"MFRG GZDF MZTW Q2LK NNWG 23TP OA\"\n[extra]\na = 1\n",
		"wrong type":        "bandwidth_limit_kbps = \"fast\"\n",
		"bool as string":    "clinic_mode = \"yes\"\n",
		"not a URL":         "portal_url = \"portal.example\"\n",
		"ftp URL":           "pacs_stow_url = \"ftp://pacs/\"\n",
		"not allowed":       "portal_url = \"https://a.example\"\nallowed_portals = [\"https://b.example\"]\n",
		"negative":          "bandwidth_limit_kbps = -5\n",
		"relative library":  "library_dir = \"bilder\"\n",
		"bad fingerprint":   "[pinned_keys]\nbM1X = \"not a fingerprint!\"\n",
		"bad inbox code":    "default_inbox = \"b M1X\"\n",
		"user-only key":     "sender_name = \"Praxis\"\n",
		"bad sender field":  "required_sender_fields = [\"fax\"]\n",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			path := writePolicy(t, body)
			_, err := Open(Config{StateDir: t.TempDir(), PolicyPath: path})
			if !errors.Is(err, ErrPolicy) {
				t.Fatalf("Open with %s policy = %v, want ErrPolicy", name, err)
			}
			ue, ok := i18n.AsUserError(err)
			if !ok || ue.Kind != i18n.KindInput || ue.HintKey == "" {
				t.Fatalf("not a UserError with hint: %v", err)
			}
			if msg := ue.Message(i18n.DE); !strings.Contains(msg, path) {
				t.Errorf("message does not name the file: %s", msg)
			}
		})
	}
}

func TestPolicyEnvAndMissing(t *testing.T) {
	// A named policy file that does not exist is an error (a typo).
	t.Setenv(PolicyEnv, filepath.Join(t.TempDir(), "missing.toml"))
	if _, err := Open(Config{StateDir: t.TempDir()}); !errors.Is(err, ErrPolicy) {
		t.Errorf("missing named policy: %v", err)
	}
	// BILDBOTE_POLICY is read.
	t.Setenv(PolicyEnv, writePolicy(t, "default_inbox = \"bM1X\"\n"))
	c, err := Open(Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Locked(SettingDefaultInbox) || c.Settings().DefaultInbox != "bM1X" {
		t.Error("BILDBOTE_POLICY not used")
	}
	// An empty policy file is valid and locks nothing.
	p, err := LoadPolicy(writePolicy(t, "# nothing\n"))
	if err != nil || len(p.Keys()) != 0 {
		t.Errorf("empty policy: %v %v", p, err)
	}
}

func TestSettingsMalformed(t *testing.T) {
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, "settings.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(PolicyEnv, "")
	_, err := Open(Config{StateDir: state, PolicyPath: writePolicy(t, "")})
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "app.settings-malformed" {
		t.Errorf("malformed settings: %v", err)
	}
}

func TestStateBusy(t *testing.T) {
	state := t.TempDir()
	c := openCore(t, Config{StateDir: state})
	_ = c
	_, err := Open(Config{StateDir: state, PolicyPath: writePolicy(t, "")})
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "app.state-busy" {
		t.Errorf("second Open = %v", err)
	}
}

func TestMaskCode(t *testing.T) {
	for in, want := range map[string]string{
		"ABCD-EFGH-1234": "XXXX-XXXX-1234",
		"abcdefgh1234":   "XXXXXXXX1234",
		"ABC-S1Z-98A":    "XXX-XXZ-98A",
		"AB12":           "XX12",
	} {
		if got := MaskCode(in); got != want {
			t.Errorf("MaskCode(%q) = %q, want %q", in, got, want)
		}
	}
}

// Inside Flatpak the host's policy is read from the sandbox's view of /etc;
// a missing file there still means "no policy", not an error.
func TestDefaultPolicyPathInFlatpak(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Flatpak is Linux only")
	}
	t.Setenv("FLATPAK_ID", "")
	if got := DefaultPolicyPath(); got != "/etc/bildbote/policy.toml" {
		t.Errorf("outside Flatpak: %q", got)
	}
	t.Setenv("FLATPAK_ID", "org.bildbote.Bildbote")
	if got := DefaultPolicyPath(); got != "/run/host/etc/bildbote/policy.toml" {
		t.Errorf("inside Flatpak: %q", got)
	}
	if path, named := policyPath(""); named || path != "/run/host/etc/bildbote/policy.toml" {
		t.Errorf("policyPath = %q, %v; want the sandbox default, not named", path, named)
	}
}
