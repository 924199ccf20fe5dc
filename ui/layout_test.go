package ui

import (
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

// Fyne's folder chooser reads in the UI language: our title and buttons
// (Fyne composes "Öffnen Ordner"), and its places ("Home", "Computer").
func TestFolderChooserTranslated(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	h := newHarness(t, i18n.DE)
	h.u.send.chooseFolder()
	h.drain()
	h.mustShow(i18n.T(i18n.DE, "ui.send.chooseFolderTitle"), i18n.T(i18n.DE, "ui.send.choose"), i18n.T(i18n.DE, "ui.place.home"))
	h.mustNotShow("Öffnen Ordner", "Open Folder")
	for _, s := range h.topDialogTexts() {
		if s == "Home" {
			t.Error("the place Home is not translated")
		}
	}
}
