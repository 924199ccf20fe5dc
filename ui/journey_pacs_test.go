package ui

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/dicompeer"
	"github.com/bildbote/bildbote/portal"
)

// The Settings' PACS field takes both notations and its "Verbindung
// testen" says what a real peer answered, in the reader's words: a
// storescp answers the C-ECHO, a dcmqrscp called by a wrong AE title
// rejects it, a closed port has nobody listening, a listener that never
// answers times out, a dicom:// address without AE title is named wrong
// in the reader's language (it carried dimse's English reason).
func TestSettingsPACSTestDIMSE(t *testing.T) { runInPrivateNet(t, "TestSettingsPACSTestDIMSEInside") }

func TestSettingsPACSTestDIMSEInside(t *testing.T) {
	insidePrivateNet(t)
	echo := dicompeer.FreePort(t)
	dicompeer.Storescp(t, t.TempDir(), echo)
	qr := dicompeer.FreePort(t)
	dicompeer.Dcmqrscp(t, qr, "PACS")
	closed := net.JoinHostPort("127.0.0.1", strconv.Itoa(dicompeer.FreePort(t)))
	silent := silentListener(t)
	for _, lang := range i18n.Langs {
		h := newHarness(t, lang)
		s := h.u.settings
		s.pacsTimeout = 500 * time.Millisecond
		h.u.selectTab(len(h.u.tabs.Items) - 1)
		h.mustShow(i18n.T(lang, "ui.settings.pacs"), i18n.T(lang, "ui.settings.pacsHint"), i18n.T(lang, "ui.settings.pacsPlaceholder"))
		if !strings.Contains(i18n.T(lang, "ui.settings.pacsHint"), "dicom://PACS@pacs.local:104") ||
			!strings.Contains(i18n.T(lang, "ui.settings.pacsHint"), "http://pacs.local:8042/dicom-web") {
			t.Errorf("%s: the hint does not show both notations: %q", lang, i18n.T(lang, "ui.settings.pacsHint"))
		}
		try := func(target string) string {
			t.Helper()
			s.pacs.SetText(target)
			test.Tap(s.pacsTest)
			h.waitShown("the answer for "+target, func() bool {
				return !s.pacsTest.Disabled() && s.status.Text != i18n.T(lang, "ui.settings.pacsTesting")
			})
			h.checkLanguage(lang, "the PACS test of "+target, target)
			t.Logf("%s: %s → %s", lang, target, s.status.Text)
			return s.status.Text
		}
		for target, want := range map[string][]string{
			fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d", echo): {i18n.T(lang, "ui.settings.pacsEchoOK")},
			fmt.Sprintf("dicom://RADIOLOGIE@127.0.0.1:%d", qr): {i18n.T(lang, "dimse.reject.called", "RADIOLOGIE"), i18n.T(lang, "dimse.reject.called.hint")},
			"dicom://PACS@" + closed:                           {i18n.T(lang, "dimse.refused", closed)},
			"dicom://PACS@" + silent:                           {i18n.T(lang, "dimse.timeout", silent), i18n.T(lang, "dimse.timeout.hint")},
			"dicom://127.0.0.1:104":                            {i18n.T(lang, "dimse.target.why.no_called")},
		} {
			got := try(target)
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("%s: testing %s shows %q, want %q in it", lang, target, got, w)
				}
			}
		}
		// The DICOM port that answers also answers to the right AE title.
		if got := try(fmt.Sprintf("dicom://PACS@127.0.0.1:%d?calling=BILDBOTE", qr)); got != i18n.T(lang, "ui.settings.pacsEchoOK") {
			t.Errorf("%s: dcmqrscp called PACS: %q", lang, got)
		}
	}
}

// TestJourneyRedeemIntoPACS: at the clinic (clinic mode), a patient's code
// redeemed against the real reference portal goes into a real PACS
// (storescp) with "In das PACS übernehmen". Before a PACS is set the
// button is greyed out and says where to set one; after saving one under
// Settings it is usable at once and names the target. The screen then says
// how many instances the PACS stored, storescp received exactly those, and
// nothing was copied to the library; the report among the items is said
// to stay out. A PACS that refuses the association (storescp --refuse)
// shows, in English, how many were not stored and why; one where nobody
// listens yet makes the import wait, saying so, and "try now" finishes
// it once storescp runs.
func TestJourneyRedeemIntoPACS(t *testing.T) { runInPrivateNet(t, "TestJourneyRedeemIntoPACSInside") }

func TestJourneyRedeemIntoPACSInside(t *testing.T) {
	insidePrivateNet(t)
	p := startDemoPortal(t)
	pacsDir := t.TempDir()
	port := dicompeer.FreePort(t)
	stores := dicompeer.Storescp(t, pacsDir, port)
	target := fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d?calling=BILDBOTE", port)

	lang := i18n.DE
	h := journeyHarness(t, lang, p.url)
	h.u.app.Settings().SetTheme(NewTheme())
	h.u.win.Resize(screenSizes[1]) // the small window
	r, set := h.u.redeem, h.u.settings
	h.u.selectTab(len(h.u.tabs.Items) - 1)
	set.clinic.SetChecked(true)
	test.Tap(set.save)

	issued, staged, pat := issueCodeWithReport(t, p)
	h.u.selectTab(1)
	h.askWith(issued.Code)
	h.answerWith(birthDate(t, lang, pat))
	h.itemsShown(lang, staged)
	if !r.toPACS.Visible() || !r.toPACS.Disabled() {
		t.Fatalf("without a PACS: button visible %v, disabled %v; want shown and greyed out", r.toPACS.Visible(), r.toPACS.Disabled())
	}
	h.mustShow(i18n.T(lang, "ui.redeem.toPACS"), i18n.T(lang, "ui.redeem.noPACS"))

	// A PACS saved under Settings counts at once.
	h.u.selectTab(len(h.u.tabs.Items) - 1)
	set.pacs.SetText(target)
	test.Tap(set.save)
	if h.u.lastErr != nil {
		t.Fatalf("saving the PACS: %v", h.u.lastErr)
	}
	h.u.selectTab(1)
	if r.toPACS.Disabled() {
		t.Fatal("the PACS button stays greyed out after a PACS was saved")
	}
	h.mustShow(i18n.T(lang, "ui.redeem.pacsGoesTo", target))
	h.mustNotShow(i18n.T(lang, "ui.redeem.noPACS"))
	h.shot(t, "redeem_into_pacs_ready_de_1024x600")

	test.Tap(r.toPACS)
	h.waitFor("the import into the PACS", func() bool { return r.done.Visible() })
	n := stores()
	if n == 0 || dicompeer.CountFiles(t, pacsDir) != n {
		t.Fatalf("storescp received %d C-STOREs and holds %d files", n, dicompeer.CountFiles(t, pacsDir))
	}
	studies := len(staged.Items) - 1 // the report is no study
	h.mustShow(h.u.n("ui.redeem.pacsDone", studies, studies), h.u.n("ui.redeem.pacsSkipped", 1, 1),
		i18n.T(lang, "ui.redeem.pacsStored", target, n, 0))
	if r.savedAll || strings.HasPrefix(r.expiry.Text, "Alles gespeichert") {
		t.Errorf("the expiry line says everything is saved although the report is not: %q", r.expiry.Text)
	}
	if r.folderRow.Visible() {
		t.Error("the folder buttons are shown although nothing was saved to a folder")
	}
	if got := dicompeer.CountFiles(t, h.core.Settings().LibraryDir); got != 0 {
		t.Errorf("the library holds %d files after an import into the PACS only", got)
	}
	h.checkLanguage(lang, "redeemed into the PACS", target)
	h.shot(t, "redeem_into_pacs_done_de_1024x600")

	// A PACS that refuses us, in English: the job fails and the screen
	// says, for the target, how many were not stored and why.
	refusing := dicompeer.FreePort(t)
	dicompeer.Storescp(t, t.TempDir(), refusing, "--refuse")
	bad := fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d", refusing)
	lang = i18n.EN
	h = journeyHarness(t, lang, p.url)
	h.u.app.Settings().SetTheme(NewTheme())
	h.u.win.Resize(screenSizes[1])
	r, set = h.u.redeem, h.u.settings
	h.u.selectTab(len(h.u.tabs.Items) - 1)
	set.clinic.SetChecked(true)
	set.pacs.SetText(bad)
	test.Tap(set.save)
	issued, staged, pat, _ = issueCode(t, p)
	h.u.selectTab(1)
	h.askWith(issued.Code)
	h.answerWith(birthDate(t, lang, pat))
	h.itemsShown(lang, staged)
	test.Tap(r.toPACS)
	h.waitShown("the refusal", func() bool { return r.problemBox.Visible() && !r.saveAll.Disabled() })
	rejected := i18n.T(lang, "dimse.reject.other", 1, 1, 1)
	h.mustShow(rejected, i18n.T(lang, "ui.redeem.pacs.not-sent"))
	if !r.pacsResult.Visible() || !strings.Contains(r.pacsResult.Text, bad+": ") ||
		!strings.Contains(r.pacsResult.Text, " × "+i18n.T(lang, "ui.redeem.pacs.not-sent")+" – "+rejected) {
		t.Errorf("the per-target result: %q", r.pacsResult.Text)
	}
	if r.done.Visible() || r.toPACS.Disabled() {
		t.Errorf("after the refusal: done shown %v, PACS button disabled %v", r.done.Visible(), r.toPACS.Disabled())
	}
	h.checkLanguage(lang, "refused by the PACS", bad)
	h.shot(t, "redeem_into_pacs_refused_en_1024x600")

	// A PACS where nobody listens yet: the import waits and says why
	// (not "connection lost", the portal's line); once storescp runs,
	// "try now" finishes it.
	late := dicompeer.FreePort(t)
	lateAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(late))
	lateTarget := "dicom://STORESCP@" + lateAddr
	h.u.selectTab(len(h.u.tabs.Items) - 1)
	set.pacs.SetText(lateTarget)
	test.Tap(set.save)
	h.u.selectTab(1)
	test.Tap(r.toPACS)
	why := i18n.T(lang, "dimse.refused", lateAddr)
	h.waitShown("the wait for the PACS", func() bool { return r.waiting.Visible() && strings.HasPrefix(r.waitText.Text, why) })
	h.mustNotShow(strings.SplitN(i18n.T(lang, "ui.redeem.waiting", ""), " –", 2)[0])
	h.checkLanguage(lang, "waiting for the PACS", lateTarget, lateAddr)
	h.shot(t, "redeem_into_pacs_waiting_en_1024x600")
	lateStores := dicompeer.Storescp(t, t.TempDir(), late)
	h.waitShown("the import after the PACS came up", func() bool {
		if r.waiting.Visible() && !r.retryNow.Disabled() {
			test.Tap(r.retryNow)
		}
		return r.done.Visible()
	})
	if got := lateStores(); got != n {
		t.Errorf("the late storescp received %d C-STOREs, want %d", got, n)
	}
	h.mustShow(i18n.T(lang, "ui.redeem.pacsStored", lateTarget, n, 0))
	t.Logf("de: %d stored | en, after the wait: %s", n, r.pacsResult.Text)
}

// issueCodeWithReport issues a code for the demo CD's first patient whose
// items are the studies and a PDF report (a document, no DICOM).
func issueCodeWithReport(t *testing.T, p *demoPortal) (portal.IssueResult, *portal.Staged, *gencd.Patient) {
	t.Helper()
	cd := demoCD(t)
	if err := os.WriteFile(filepath.Join(cd.Dir, "BEFUND.PDF"), []byte("%PDF-1.4\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pat := cd.Patients[0]
	ctx := context.Background()
	record := portal.NewRecordID()
	staged, err := portal.StageItems(ctx, p.dir, record, []string{cd.Dir}, portal.StageOptions{PatientID: pat.ID})
	if err != nil {
		t.Fatal(err)
	}
	docs := 0
	for _, it := range staged.Items {
		if it.MIMEType != "application/zip" {
			docs++
		}
	}
	if docs != 1 {
		t.Fatalf("staged %d documents, want the report: %+v", docs, staged.Items)
	}
	issued, err := p.admin.IssueCode(ctx, portal.IssueRequest{
		RecordID: record, Items: staged.Items, ExpiresAt: time.Now().Add(5 * 24 * time.Hour).Truncate(time.Second),
		Questions: []portal.QuestionSpec{{Type: "PAT_BIRTH_DATE", Answer: pat.BirthDate}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return issued, staged, pat
}
