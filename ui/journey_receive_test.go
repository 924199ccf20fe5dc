package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/portal"
)

// clinicSetup is a clinic UI (clinic mode, its key, inbox kL9Q on p) and
// a practice core that sends cd to it n times.
func clinicSetup(t *testing.T, lang i18n.Lang, p *demoPortal, portalURL string, sends int) (*harness, string, string) {
	t.Helper()
	keyring.MockInit()
	cd := demoCD(t)
	library := t.TempDir()
	h := newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), PortalURL: portalURL, LibraryDir: library})
	key, err := h.core.InitClinicKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	added, err := p.admin.AddCommunity(ctx, portal.AddCommunityRequest{Code: "kL9Q", Name: "Klinik Nord", Recipients: []string{key.Recipient}})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := app.Open(app.Config{StateDir: t.TempDir(), PortalURL: p.url})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	ix, err := sender.Scan(ctx, []string{cd.Dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < sends; i++ {
		job, err := sender.StartSend(ctx, app.SendRequest{Inbox: "kL9Q", Index: ix, Sender: app.Sender{Name: "Praxis Dr. Weber", Contact: "0201"}})
		if err != nil {
			t.Fatal(err)
		}
		if j, err := sender.Wait(ctx, job.ID); err != nil || j.State != app.StateDone {
			t.Fatalf("send: %+v, %v", j, err)
		}
	}
	if err := h.core.UpdateSettings(func(s *app.Settings) { s.ClinicMode = true }); err != nil {
		t.Fatal(err)
	}
	h.u.showInboxTab(true)
	h.u.selectTab(2)
	s := h.u.inbox
	s.code.SetText("kL9Q")
	s.apiKey.SetText(added.APIKey)
	test.Tap(s.refresh)
	h.waitFor("the envelopes", func() bool { return len(s.checks) == sends })
	return h, library, added.APIKey
}

// countStudyDirs counts the study folders under library (those with a
// manifest.json) and how many of them are a "… (2)" copy.
func countStudyDirs(t *testing.T, library string) (dirs, copies int) {
	t.Helper()
	err := filepath.WalkDir(library, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "manifest.json" {
			dirs++
			if strings.HasSuffix(filepath.Dir(p), ")") {
				copies++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs, copies
}

// The same CD sent twice (two envelopes): each study is stored once, the
// screen says the second copy was already imported; both envelopes leave
// the portal.
func TestJourneyReceiveSameStudyTwice(t *testing.T) {
	for _, lang := range i18n.Langs {
		p := startDemoPortal(t)
		h, library, _ := clinicSetup(t, lang, p, p.url, 2)
		s := h.u.inbox
		test.Tap(s.importB)
		h.waitFor("the import results and the emptied inbox", func() bool { return s.results.Text != "" && len(s.checks) == 0 })
		h.mustShow(i18n.T(lang, "ui.inbox.alreadyImported"))
		dirs, copies := countStudyDirs(t, library)
		if dirs != 3 || copies != 0 {
			t.Errorf("%s: %d study folders (%d copies \"(2)\"), want the 3 studies once", lang, dirs, copies)
		}
		if n := strings.Count(s.results.Text, i18n.T(lang, "ui.inbox.alreadyImported")); n != 3 {
			t.Errorf("%s: %d results say already imported, want 3:\n%s", lang, n, s.results.Text)
		}
		h.u.selectTab(3)
		h.mustShow(i18n.T(lang, "ui.transfers.alreadyImported", 3))
		h.checkLanguage(lang, "inbox, same study twice", library, "Klinik Nord", "kL9Q", "Praxis Dr. Weber")
	}
}

// An import over a slow line shows its bytes as they come, with a bar,
// long before the first envelope is done.
func TestJourneyReceiveProgress(t *testing.T) {
	p := startDemoPortal(t)
	slow := startProxyPortal(t, p, false, true)
	lang := i18n.DE
	h, _, _ := clinicSetup(t, lang, p, slow.url, 1)
	s := h.u.inbox
	test.Tap(s.importB)
	var seen string
	h.waitShown("bytes moving", func() bool {
		if s.bar.Visible() && s.bar.Value > 0 && s.bar.Value < 1 && s.bytes.Visible() {
			seen = s.bytes.Text
			return true
		}
		return false
	})
	if !strings.Contains(seen, " von ") || !strings.Contains(seen, "kB") {
		t.Errorf("bytes line %q, want \"… kB von … kB\"", seen)
	}
	h.capture("journey_receive_progress_de")
	h.waitFor("the import results", func() bool { return s.results.Text != "" && len(s.checks) == 0 })
	if s.bar.Visible() || s.bytes.Visible() {
		t.Error("the bar stays after the import")
	}
}
