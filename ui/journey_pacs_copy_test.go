package ui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/dicompeer"
)

// Code einlösen in clinic mode, into the PACS with or without a copy: the
// check "Auch eine Kopie auf diesem Computer speichern" shows with the
// PACS button, unchecked. Unchecked, the studies go into a real storescp
// (private netns) and nothing lands in the library; checked (the next
// code), they go into storescp again and a copy with its DICOMDIR and the
// report lands in the library; the note under the button says which of
// the two happens, the done line says where the copy went, the folder
// buttons open it, and the report counts as saved. English labels too.
func TestJourneyRedeemIntoPACSWithCopy(t *testing.T) {
	runInPrivateNet(t, "TestJourneyRedeemIntoPACSWithCopyInside")
}

func TestJourneyRedeemIntoPACSWithCopyInside(t *testing.T) {
	insidePrivateNet(t)
	p := startDemoPortal(t)
	pacsDir := t.TempDir()
	port := dicompeer.FreePort(t)
	stores := dicompeer.Storescp(t, pacsDir, port)
	target := fmt.Sprintf("dicom://STORESCP@127.0.0.1:%d", port)

	lang := i18n.DE
	h := journeyHarness(t, lang, p.url)
	h.u.app.Settings().SetTheme(NewTheme())
	h.u.win.Resize(screenSizes[1])
	r, set := h.u.redeem, h.u.settings
	h.u.selectTab(len(h.u.tabs.Items) - 1)
	set.clinic.SetChecked(true)
	set.pacs.SetText(target)
	test.Tap(set.save)
	if h.u.lastErr != nil {
		t.Fatalf("saving the PACS: %v", h.u.lastErr)
	}
	lib := h.core.Settings().LibraryDir

	issued, staged, pat := issueCodeWithReport(t, p)
	h.u.selectTab(1)
	h.askWith(issued.Code)
	h.answerWith(birthDate(t, lang, pat))
	h.itemsShown(lang, staged)
	if !r.keepCopy.Visible() || r.keepCopy.Checked {
		t.Fatalf("copy check: visible %v, checked %v; want shown and off", r.keepCopy.Visible(), r.keepCopy.Checked)
	}
	h.mustShow(i18n.T(lang, "ui.redeem.keepCopy"), i18n.T(lang, "ui.redeem.pacsGoesTo", target))
	studies := len(staged.Items) - 1 // the report is no study

	test.Tap(r.toPACS)
	h.waitFor("the import into the PACS without a copy", func() bool { return r.done.Visible() })
	n := stores()
	if n == 0 {
		t.Fatal("storescp received nothing")
	}
	if got := dicompeer.CountFiles(t, lib); got != 0 {
		t.Errorf("the library holds %d files after an import without a copy", got)
	}
	if r.folderRow.Visible() || strings.Contains(r.status.Text, strings.SplitN(i18n.T(lang, "ui.redeem.pacsCopy", ""), " %", 2)[0]) {
		t.Errorf("without a copy: folder buttons %v, status %q", r.folderRow.Visible(), r.status.Text)
	}
	h.mustShow(h.u.n("ui.redeem.pacsSkipped", 1, 1))

	// The next code with the check on.
	test.Tap(r.another)
	issued, staged, pat = issueCodeWithReport(t, p)
	h.askWith(issued.Code)
	h.answerWith(birthDate(t, lang, pat))
	h.itemsShown(lang, staged)
	r.keepCopy.SetChecked(true)
	h.mustShow(i18n.T(lang, "ui.redeem.pacsGoesToCopy", target))
	h.mustNotShow(i18n.T(lang, "ui.redeem.pacsGoesTo", target))
	test.Tap(r.toPACS)
	h.waitFor("the import into the PACS with a copy", func() bool { return r.done.Visible() })
	if got := stores(); got != 2*n {
		t.Errorf("storescp received %d C-STOREs in all, want %d", got, 2*n)
	}
	if r.savedDir == "" || !strings.HasPrefix(r.savedDir, lib) {
		t.Fatalf("the copy's folder %q is not in the library %s", r.savedDir, lib)
	}
	h.mustShow(h.u.n("ui.redeem.pacsDone", studies, studies), i18n.T(lang, "ui.redeem.pacsCopy", r.savedDir),
		i18n.T(lang, "ui.redeem.pacsStored", target, n, 0))
	h.mustNotShow(h.u.n("ui.redeem.pacsSkipped", 1, 1))
	if !r.folderRow.Visible() {
		t.Error("the folder buttons are hidden although a copy was kept")
	}
	dicoms, pdfs, dicomdirs := 0, 0, 0
	filepath.Walk(lib, func(p string, fi os.FileInfo, err error) error {
		switch {
		case err != nil || !fi.Mode().IsRegular():
		case fi.Name() == "DICOMDIR":
			dicomdirs++
		case strings.HasSuffix(strings.ToUpper(fi.Name()), ".PDF"):
			pdfs++
		default:
			if b, err := os.ReadFile(p); err == nil && len(b) > 132 && string(b[128:132]) == "DICM" {
				dicoms++
			}
		}
		return nil
	})
	if dicoms != n || pdfs != 1 || dicomdirs == 0 {
		t.Errorf("the copy holds %d DICOM files (want %d), %d reports (want 1), %d DICOMDIRs", dicoms, n, pdfs, dicomdirs)
	}
	if !r.savedAll {
		t.Error("the code does not count as saved although everything is in the copy")
	}
	h.checkLanguage(lang, "redeemed into the PACS with a copy", target, r.savedDir)
	h.shot(t, "redeem_into_pacs_copy_de_1024x600")

	// English: the check's label.
	h = journeyHarness(t, i18n.EN, p.url)
	h.u.selectTab(len(h.u.tabs.Items) - 1)
	h.u.settings.clinic.SetChecked(true)
	h.u.settings.pacs.SetText(target)
	test.Tap(h.u.settings.save)
	issued, staged, pat, _ = issueCode(t, p)
	h.u.selectTab(1)
	h.askWith(issued.Code)
	h.answerWith(birthDate(t, i18n.EN, pat))
	h.itemsShown(i18n.EN, staged)
	h.mustShow("Also keep a copy on this computer")
	if h.u.redeem.keepCopy.Checked {
		t.Error("the copy check is on in a new window")
	}
	t.Logf("copy in %s: %d DICOM files, the report, %d DICOMDIR", r.savedDir, dicoms, dicomdirs)
}
