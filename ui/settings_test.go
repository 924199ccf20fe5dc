package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// Values the clinic's policy fixes are read-only and say why; the rest
// saves; clinic mode from the policy shows the inbox tab.
func TestSettingsPolicyLocks(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policy, []byte("portal_url = \"https://portal.example\"\nclinic_mode = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Langs {
		state := t.TempDir()
		h := newHarnessWith(t, lang, app.Config{StateDir: state, PolicyPath: policy, LibraryDir: "/library"})
		s := h.u.settings
		h.u.tabs.SelectIndex(4)
		h.capture("settings_policy_" + string(lang))
		if !s.portal.Disabled() || s.portal.Text != "https://portal.example" {
			t.Errorf("locked portal: disabled=%v text=%q", s.portal.Disabled(), s.portal.Text)
		}
		if s.hints[0].Text != i18n.T(lang, "ui.settings.locked") || !s.policy.Visible() {
			t.Error("no note that the policy fixes the portal")
		}
		if !s.clinic.Disabled() || !s.clinic.Checked || len(h.u.tabs.Items) != 5 {
			t.Error("clinic mode from the policy: not locked on, or no inbox tab")
		}
		// -library (Config.LibraryDir) sets the folder for this session:
		// read-only, saying so (a saved value would not be used).
		if !s.library.Disabled() || s.hints[1].Text != i18n.T(lang, "ui.settings.overridden.library_dir", "/library") {
			t.Errorf("library set by the start option: disabled=%v hint=%q", s.library.Disabled(), s.hints[1].Text)
		}
		if s.pacs.Disabled() {
			t.Fatal("PACS locked without a policy key")
		}
		s.pacs.SetText("http://pacs.local:8042/dicom-web")
		test.Tap(s.save)
		if h.u.lastErr != nil {
			t.Fatalf("saving an unlocked value: %v", h.u.lastErr)
		}
		data, err := os.ReadFile(filepath.Join(state, "settings.json"))
		if err != nil || !contains(string(data), "pacs.local") || contains(string(data), "portal.example") {
			t.Errorf("settings.json = %s, %v; want the PACS address, not the locked portal", data, err)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// The PACS "Test" button asks the URL in the field and shows the answer:
// the real portal's inbox API wants its key (401), which reads as "refused
// access" with a hint; an empty field asks for a URL. (The success path
// against a real Orthanc is app's TestPACSConnection.)
func TestSettingsPACSTest(t *testing.T) {
	p := startDemoPortal(t)
	for _, lang := range i18n.Langs {
		h := newFlowHarness(t, lang, p)
		s := h.u.settings
		if !s.pacsTest.Visible() {
			t.Fatal("the PACS test button is hidden")
		}
		test.Tap(s.pacsTest)
		if s.status.Text != i18n.T(lang, "ui.settings.pacsEmpty") {
			t.Errorf("empty field: %q", s.status.Text)
		}
		url := p.url + "/api/v1/inbox/" + p.inbox
		s.pacs.SetText(url)
		test.Tap(s.pacsTest)
		want := i18n.T(lang, "app.pacs-unauthorized", url)
		h.waitFor("the PACS test's answer", func() bool { return strings.HasPrefix(s.status.Text, want) })
		if !strings.Contains(s.status.Text, i18n.T(lang, "app.pacs-unauthorized.hint")) || s.pacsTest.Disabled() {
			t.Errorf("answer %q (button disabled: %v)", s.status.Text, s.pacsTest.Disabled())
		}
	}
}
