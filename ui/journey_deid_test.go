package ui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// TestScreenshotsDeid (issue 19, run by `make screenshots` too): the Send
// view's "Send de-identified" part in both languages at both sizes — the
// options, the preview of one file, the summary naming the pseudonym —
// nothing cut off; then the send goes out de-identified: the job says
// under which pseudonym, the mapping stays in the state dir.
func TestScreenshotsDeid(t *testing.T) {
	p := startDemoPortal(t)
	cd := demoCD(t)
	for _, lang := range i18n.Langs {
		for _, size := range screenSizes {
			at := func(name string) string {
				return fmt.Sprintf("%s_%s_%dx%d", name, lang, int(size.Width), int(size.Height))
			}
			h := newFlowHarness(t, lang, p)
			h.u.app.Settings().SetTheme(NewTheme())
			h.u.win.Resize(size)
			s := h.u.send
			h.sendReady(p, cd.Dir, "Praxis Dr. Weber", "0201 12345")
			if s.deid.options.Visible() || s.deid.check.Disabled() {
				t.Fatalf("%s: the options show before the switch, or it is locked", lang)
			}
			test.Tap(s.deid.check)
			h.drain()
			if !s.deid.options.Visible() || !strings.HasPrefix(s.deid.pseudonym.Text, "Pseudonym-") || !s.patientName.Disabled() {
				t.Fatalf("%s: after the switch: options %v, pseudonym %q, patient note enabled %v", lang,
					s.deid.options.Visible(), s.deid.pseudonym.Text, !s.patientName.Disabled())
			}
			s.deid.pseudonym.SetText("Zweitmeinung-0427")
			s.deid.dates.SetSelected(i18n.T(lang, "ui.deid.datesShift"))
			s.formScroll.ScrollToBottom()
			h.shot(t, at("send_deid"))

			test.Tap(s.deid.preview)
			h.waitFor("the preview", func() bool { return len(h.canvas().Overlays().List()) > 0 })
			preview := strings.Join(h.topDialogTexts(), "\n")
			for _, want := range []string{i18n.T(lang, "ui.deid.previewTitle"), "(0010,0010) PatientName: " + cd.Patients[0].Name + " → Zweitmeinung-0427",
				"(0010,0020) PatientID: " + cd.Patients[0].ID + " → Zweitmeinung-0427"} {
				if !strings.Contains(preview, want) {
					t.Errorf("%s: the preview lacks %q:\n%s", lang, want, preview)
				}
			}
			h.shot(t, at("send_deid_preview"))
			h.press(fyne.KeyEscape)
			h.drain()

			test.Tap(s.sendButton)
			h.waitFor("the summary", func() bool { return s.confirmation != nil })
			if summary := strings.Join(h.topDialogTexts(), "\n"); !strings.Contains(summary, i18n.T(lang, "ui.deid.confirmAs", "Zweitmeinung-0427")) {
				t.Errorf("%s: the summary does not name the pseudonym:\n%s", lang, summary)
			}
			h.shot(t, at("send_deid_summary"))
			if size != screenSizes[0] {
				s.confirmation.dismiss()
				continue
			}
			test.Tap(s.confirmation.ok)
			h.waitFor("the send to finish", func() bool { return strings.HasPrefix(s.status.Text, i18n.T(lang, "ui.send.done", "")) })
			jobs, err := h.core.Jobs()
			if err != nil || len(jobs) != 1 || jobs[0].Detail == nil || jobs[0].Detail.Send.Pseudonym != "Zweitmeinung-0427" {
				t.Fatalf("%s: jobs %+v %v", lang, jobs, err)
			}
			if recs, err := h.core.DeidLookup("Zweitmeinung-0427"); err != nil || len(recs) != 1 {
				t.Errorf("%s: mapping %+v %v", lang, recs, err)
			}
			h.u.transfers.show(jobs[0])
			for i, it := range h.u.tabs.Items {
				if it.Text == i18n.T(lang, "ui.tab.transfers") {
					h.u.selectTab(i)
				}
			}
			h.mustShow(i18n.T(lang, "ui.kind.send") + " · " + jobs[0].LocalTitle(lang) + i18n.T(lang, "ui.deid.as", "Zweitmeinung-0427"))
		}
	}
}

// TestScreenshotsDeidForced: an inbox the policy forces: the switch is on
// and locked, with the policy's note; the summary says that the CD's PDF
// report stays here.
func TestScreenshotsDeidForced(t *testing.T) {
	p := startDemoPortal(t)
	cd, err := gencd.Generate(filepath.Join(t.TempDir(), "cd"), gencd.Options{Files: gencd.MinFiles, PixelSize: 16, Seed: 7, Documents: true})
	if err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(pol, []byte(`deidentify_inboxes = ["`+p.inbox+`"]`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Langs {
		h := newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), PortalURL: p.url, LibraryDir: t.TempDir(), PolicyPath: pol})
		h.u.app.Settings().SetTheme(NewTheme())
		h.u.win.Resize(screenSizes[1])
		s := h.u.send
		h.sendReady(p, cd.Dir, "Praxis Dr. Weber", "0201 12345")
		if !s.deid.check.Checked || !s.deid.check.Disabled() || !s.deid.options.Visible() {
			t.Fatalf("%s: forced inbox: checked %v disabled %v", lang, s.deid.check.Checked, s.deid.check.Disabled())
		}
		h.mustShow(i18n.T(lang, "ui.deid.forced", p.inbox))
		s.formScroll.ScrollToBottom()
		h.shot(t, fmt.Sprintf("send_deid_forced_%s_1024x600", lang))
		test.Tap(s.sendButton)
		h.waitFor("the summary", func() bool { return s.confirmation != nil })
		h.mustShow(i18n.N(lang, "ui.deid.documentsStay", len(cd.Documents), len(cd.Documents)))
		h.shot(t, fmt.Sprintf("send_deid_forced_summary_%s_1024x600", lang))
		s.confirmation.dismiss()
	}
}

// TestScreenshotsDeidBurnedIn: a series marked Burned In Annotation = YES
// (dcmtk's dcmodify) asks before the summary; Back sends nothing, the
// confirmed send goes out with the warning accepted.
func TestScreenshotsDeidBurnedIn(t *testing.T) {
	p := startDemoPortal(t)
	cd := demoCD(t)
	marked := 0
	for _, in := range cd.Patients[0].Studies[0].Series[0].Instances {
		f := filepath.Join(cd.Dir, filepath.FromSlash(in.Path))
		if out, err := exec.Command(corpus.Tool(t, "dcmodify"), "-nb", "-i", "(0028,0301)=YES", f).CombinedOutput(); err != nil {
			t.Fatalf("dcmodify: %v\n%s", err, out)
		}
		marked++
	}
	for _, lang := range i18n.Langs {
		h := newFlowHarness(t, lang, p)
		h.u.app.Settings().SetTheme(NewTheme())
		h.u.win.Resize(screenSizes[1])
		s := h.u.send
		h.sendReady(p, cd.Dir, "Praxis Dr. Weber", "0201 12345")
		test.Tap(s.deid.check)
		test.Tap(s.sendButton)
		h.waitFor("the burned-in question", func() bool { return len(h.canvas().Overlays().List()) > 0 })
		if s.confirmation != nil {
			t.Fatalf("%s: the summary came before the burned-in question", lang)
		}
		q := strings.Join(h.topDialogTexts(), "\n")
		if !strings.Contains(q, i18n.T(lang, "ui.deid.burnedInTitle")) || !strings.Contains(q, fmt.Sprint(marked)) ||
			!strings.Contains(q, i18n.T(lang, "app.deid.reason.burned-in-annotation")) {
			t.Errorf("%s: the question:\n%s", lang, q)
		}
		h.shot(t, fmt.Sprintf("send_deid_burned_in_%s_1024x600", lang))
		h.press(fyne.KeyEscape)
		h.drain()
		if s.confirmation != nil || len(h.canvas().Overlays().List()) != 0 {
			t.Fatalf("%s: Back did not close the question", lang)
		}
		test.Tap(s.sendButton)
		h.waitFor("the burned-in question", func() bool { return len(h.canvas().Overlays().List()) > 0 })
		h.press(fyne.KeyReturn)
		h.waitFor("the summary", func() bool { return s.confirmation != nil })
		test.Tap(s.confirmation.ok)
		h.waitFor("the send to finish", func() bool { return strings.HasPrefix(s.status.Text, i18n.T(lang, "ui.send.done", "")) })
	}
}
