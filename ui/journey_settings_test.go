package ui

import (
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/bildbote/bildbote/internal/i18n"
)

// A PACS address saved under Settings can be chosen on the inbox at once
// (the check stayed disabled until a restart); while none is set the
// inbox says where to set it, and before the first listing what to do.
func TestJourneyPACSSettingAppliesToInbox(t *testing.T) {
	for _, lang := range i18n.Langs {
		h := newHarness(t, lang)
		h.u.showInboxTab(true)
		in := h.u.inbox
		h.u.selectTab(2)
		if !in.toPACS.Disabled() || in.toPACS.Checked {
			t.Fatalf("%s: PACS target without a PACS: disabled %v, checked %v", lang, in.toPACS.Disabled(), in.toPACS.Checked)
		}
		h.mustShow(i18n.T(lang, "ui.inbox.noPACS"), i18n.T(lang, "ui.inbox.intro"))
		h.checkLanguage(lang, "the inbox before listing", "/library")
		h.u.selectTab(4)
		set := h.u.settings
		set.pacs.SetText("http://pacs.local:8042/dicom-web")
		test.Tap(set.save)
		h.u.selectTab(2)
		if in.toPACS.Disabled() || !in.toPACS.Checked {
			t.Errorf("%s: after saving a PACS: disabled %v, checked %v", lang, in.toPACS.Disabled(), in.toPACS.Checked)
		}
		h.mustNotShow(i18n.T(lang, "ui.inbox.noPACS"))
		h.u.selectTab(4)
		set.pacs.SetText("")
		test.Tap(set.save)
		if !in.toPACS.Disabled() || in.toPACS.Checked {
			t.Errorf("%s: after removing the PACS: disabled %v, checked %v", lang, in.toPACS.Disabled(), in.toPACS.Checked)
		}
	}
}
