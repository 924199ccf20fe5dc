package ui

import (
	"fmt"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"

	"github.com/bildbote/bildbote/internal/i18n"
)

// tabMarkers are texts only tab i shows (a button or title of its own).
var tabMarkers = map[string]string{
	"send": "ui.send.chooseFolder", "redeem": "ui.redeem.next", "inbox": "ui.inbox.refresh",
	"transfers": "ui.transfers.empty", "settings": "ui.settings.save",
}

// tabName names tab i by its content.
func (h *harness) tabName(i int) string {
	switch h.u.tabs.Items[i].Content {
	case h.u.send.content:
		return "send"
	case h.u.redeem.content:
		return "redeem"
	case h.u.inbox.content:
		return "inbox"
	case h.u.transfers.content:
		return "transfers"
	case h.u.settings.content:
		return "settings"
	}
	return "?"
}

// showsExactly reports whether some visible text is s.
func (h *harness) showsExactly(s string) bool {
	for _, t := range h.screenTexts() {
		if t == s {
			return true
		}
	}
	return false
}

// tabOnScreen fails unless tab i is the one the window shows: its
// content drawn, its own texts visible, no other tab's.
func (h *harness) tabOnScreen(lang i18n.Lang, i int, after string) {
	h.t.Helper()
	if got := h.u.tabs.SelectedIndex(); got != i {
		h.t.Errorf("%s: tab %d (%s) selected, want %d (%s)", after, got, h.tabName(got), i, h.tabName(i))
		return
	}
	for j := range h.u.tabs.Items {
		name := h.tabName(j)
		shown := h.showsExactly(i18n.T(lang, tabMarkers[name]))
		if j == i && (!shown || !h.u.tabs.Items[j].Content.Visible()) {
			h.t.Errorf("%s: the %s tab is selected but not on screen", after, name)
		}
		if j != i && shown {
			h.t.Errorf("%s: the %s tab's %q is still on screen", after, name, i18n.T(lang, tabMarkers[name]))
		}
	}
}

// focusStops are the widgets Tab reaches on the tab shown, in order.
func (h *harness) focusStops() []fyne.Focusable {
	c := h.canvas()
	c.Unfocus()
	c.FocusNext()
	first := c.Focused()
	if first == nil {
		return nil
	}
	stops := []fyne.Focusable{first}
	for range 200 {
		c.FocusNext()
		if f := c.Focused(); f == nil || f == first {
			break
		} else {
			stops = append(stops, f)
		}
	}
	return stops
}

// focusOn focuses f; nil: nothing.
func (h *harness) focusOn(f fyne.Focusable) {
	if f == nil {
		h.canvas().Unfocus()
		return
	}
	h.canvas().Focus(f)
}

// The window's shortcuts work with the focus on every widget Tab reaches
// on every screen (the entries of Redeem and Settings swallowed them):
// Ctrl+Tab, Ctrl+PageDown, Ctrl+Shift+Tab, Ctrl+PageUp and Alt+N change
// the tab on screen, and type nothing into the field.
func TestJourneyShortcutsFromEveryField(t *testing.T) {
	lang := i18n.DE
	h := newHarness(t, lang) // no portal set: Redeem asks for its address
	h.u.showInboxTab(true)
	n := len(h.u.tabs.Items)
	keys := []struct {
		name string
		key  fyne.KeyName
		mod  fyne.KeyModifier
		step int
	}{
		{"Ctrl+Tab", fyne.KeyTab, fyne.KeyModifierControl, 1},
		{"Ctrl+PageDown", fyne.KeyPageDown, fyne.KeyModifierControl, 1},
		{"Ctrl+Shift+Tab", fyne.KeyTab, fyne.KeyModifierControl | fyne.KeyModifierShift, -1},
		{"Ctrl+PageUp", fyne.KeyPageUp, fyne.KeyModifierControl, -1},
	}
	entries := map[string]int{}
	for i := range n {
		h.u.selectTab(i)
		stops := h.focusStops()
		if len(stops) < 2 && h.tabName(i) != "transfers" {
			t.Fatalf("tab %s: Tab reaches %d widgets", h.tabName(i), len(stops))
		}
		if len(stops) == 0 {
			stops = []fyne.Focusable{nil} // nothing to focus: the window has the keys
		}
		for k, f := range stops {
			name := fmt.Sprintf("%T", f)
			if _, ok := f.(*keyEntry); ok {
				entries[h.tabName(i)]++
			}
			if _, ok := f.(*codeField); ok {
				entries[h.tabName(i)]++
			}
			var before string
			if e, ok := f.(*keyEntry); ok {
				before = e.Text
			}
			sc := keys[k%len(keys)]
			h.u.selectTab(i)
			h.focusOn(f)
			h.shortcut(sc.key, sc.mod)
			want := ((i+sc.step)%n + n) % n
			h.tabOnScreen(lang, want, fmt.Sprintf("%s with the focus on %s (stop %d of %s)", sc.name, name, k, h.tabName(i)))
			if e, ok := f.(*keyEntry); ok && e.Text != before {
				t.Errorf("%s typed into %s: %q", sc.name, name, e.Text)
			}
			// Alt+N from the same widget.
			h.u.selectTab(i)
			h.canvas().Focus(f)
			to := (i + 2) % n
			h.shortcut(fyne.KeyName(fmt.Sprint(to+1)), fyne.KeyModifierAlt)
			h.tabOnScreen(lang, to, fmt.Sprintf("Alt+%d with the focus on %s (stop %d of %s)", to+1, name, k, h.tabName(i)))
		}
	}
	// The screens' own fields were among the stops: the redeem screen's
	// portal address and code fields, every settings field, the inbox's.
	if entries["redeem"] < 4 || entries["settings"] < 3 || entries["inbox"] < 2 || entries["send"] < 5 {
		t.Errorf("entries reached per tab: %v", entries)
	}
}

// The answer fields of the redeem questions pass the shortcuts on too.
func TestJourneyShortcutsFromAnswerField(t *testing.T) {
	p := startDemoPortal(t)
	issued, _, _, _ := issueCode(t, p)
	lang := i18n.EN
	h := journeyHarness(t, lang, p.url)
	r := h.u.redeem
	h.u.selectTab(1)
	h.askWith(issued.Code)
	h.waitShown("the question", func() bool { return r.questionsBox.Visible() })
	h.canvas().Focus(r.answerFields[0])
	h.typeKeys("1")
	h.shortcut(fyne.Key4, fyne.KeyModifierAlt)
	h.tabOnScreen(lang, 3, "Alt+4 in the answer field")
	h.u.tabs.SelectIndex(1)
	h.canvas().Focus(r.answerFields[0])
	h.shortcut(fyne.KeyPageUp, fyne.KeyModifierControl)
	h.tabOnScreen(lang, 0, "Ctrl+PageUp in the answer field")
	if r.answerFields[0].Text != "1" {
		t.Errorf("the answer field reads %q", r.answerFields[0].Text)
	}
	// Behind one of our dialogs the tabs stay: the dialog has the keys.
	h.u.tabs.SelectIndex(1)
	h.u.confirm("?", "?", i18n.T(lang, "ui.ok"), i18n.T(lang, "ui.cancel"), nil)
	h.shortcut(fyne.KeyTab, fyne.KeyModifierControl)
	if h.u.tabs.SelectedIndex() != 1 {
		t.Error("Ctrl+Tab switched the tab behind an open dialog")
	}
	h.press(fyne.KeyEscape)
}

// Settings lists the keyboard shortcuts (the tab bar takes no focus), in
// each language.
func TestSettingsListShortcuts(t *testing.T) {
	for _, lang := range i18n.Langs {
		h := newHarness(t, lang)
		h.u.selectTab(3)
		h.mustShow(i18n.T(lang, "ui.settings.keys"))
		if !h.showsAnywhere("Alt+1") || !h.showsAnywhere(map[i18n.Lang]string{i18n.DE: "Strg+Enter", i18n.EN: "Ctrl+Enter"}[lang]) {
			t.Errorf("%s: the shortcut list is not on the settings screen", lang)
		}
		h.checkLanguage(lang, "settings with the shortcut list")
	}
	if i18n.T(i18n.DE, "ui.settings.keysList") == i18n.T(i18n.EN, "ui.settings.keysList") {
		t.Error("the shortcut list is not translated")
	}
	for _, w := range []string{"Strg+Tab", "Strg+Bild ab", "Leertaste", "Umschalt"} {
		if !strings.Contains(i18n.T(i18n.DE, "ui.settings.keysList"), w) {
			t.Errorf("the German list does not name %q", w)
		}
	}
}

// Choosing English in Settings and saving switches the whole window at
// once, keeping what was typed and chosen on Send and Redeem.
func TestJourneyLanguageAppliesAtOnce(t *testing.T) {
	p := startDemoPortal(t)
	cd := demoCD(t)
	h := newFlowHarness(t, i18n.DE, p)
	h.u.startLang = "" // as in the product: the start names no language
	s := h.u.send
	h.u.Dropped([]fyne.URI{storage.NewFileURI(cd.Dir)})
	h.waitFor("the scan", func() bool { return s.result.Visible() && s.stopScan == nil })
	s.tree.setChecked("0", false) // the first patient unticked
	selected := s.tree.SelectedStudies()
	s.senderName.SetText("Praxis Dr. Weber")
	s.message.SetText("Bitte mit Vorbefund vergleichen")
	s.patientName.SetText("Mustermann, Erika")
	h.u.selectTab(1)
	h.canvas().Focus(h.u.redeem.code.Field(0))
	h.typeKeys("abcd-ef")
	h.u.selectTab(3)
	set := h.u.settings
	set.language.SetSelectedIndex(2) // English
	test.Tap(set.save)

	if h.u.lang != i18n.EN || h.core.Settings().Language != "en" {
		t.Fatalf("language %s, saved %q", h.u.lang, h.core.Settings().Language)
	}
	h.tabOnScreen(i18n.EN, 3, "saving English")
	h.mustShow(i18n.T(i18n.EN, "ui.settings.title"), i18n.T(i18n.EN, "ui.settings.languageNow"))
	h.mustNotShow(i18n.T(i18n.DE, "ui.settings.title"), i18n.T(i18n.DE, "ui.tab.redeem"))
	if h.u.win.Title() != i18n.T(i18n.EN, "ui.title") || h.u.tabs.Items[1].Text != i18n.T(i18n.EN, "ui.tab.redeem") {
		t.Errorf("title %q, tab %q", h.u.win.Title(), h.u.tabs.Items[1].Text)
	}
	if h.focused() != h.u.settings.language {
		t.Errorf("the focus is on %T, not on the language", h.focused())
	}
	h.checkLanguage(i18n.EN, "settings after switching")

	h.u.selectTab(0)
	ns := h.u.send
	if ns == s || !ns.result.Visible() || fmt.Sprint(ns.tree.SelectedStudies()) != fmt.Sprint(selected) {
		t.Errorf("Send after switching: scan shown %v, studies %v, want %v", ns.result.Visible(), ns.tree.SelectedStudies(), selected)
	}
	for _, want := range []string{"Praxis Dr. Weber", "Bitte mit Vorbefund vergleichen", "Mustermann, Erika", i18n.T(i18n.EN, "ui.send.send")} {
		if !h.showsAnywhere(want) {
			t.Errorf("Send after switching does not show %q", want)
		}
	}
	h.checkLanguage(i18n.EN, "send after switching", cd.Dir, "Praxis Dr. Weber", "Bitte mit Vorbefund vergleichen", "Mustermann, Erika")
	h.u.selectTab(1)
	if got := h.u.redeem.code.Code(); got != "ABCDEF" {
		t.Errorf("the code typed reads %q after switching", got)
	}
	h.checkLanguage(i18n.EN, "redeem after switching", "ABCD", "EF")

	// Back to German with the same window: the shortcuts still work.
	h.u.selectTab(3)
	h.u.settings.language.SetSelectedIndex(1)
	test.Tap(h.u.settings.save)
	if h.u.lang != i18n.DE {
		t.Fatalf("back to German: %s", h.u.lang)
	}
	h.canvas().Focus(h.u.settings.portal)
	h.shortcut(fyne.Key1, fyne.KeyModifierAlt)
	h.tabOnScreen(i18n.DE, 0, "Alt+1 after switching twice")
}

// While a code is being redeemed the switch asks first, in both
// languages: "At the next start" keeps the round and says when; "Switch
// now" switches, with the code still typed.
func TestJourneyLanguageWhileRedeeming(t *testing.T) {
	p := startDemoPortal(t)
	issued, _, _, _ := issueCode(t, p)
	h := journeyHarness(t, i18n.EN, p.url)
	h.u.startLang = ""
	r := h.u.redeem
	h.u.selectTab(1)
	h.askWith(issued.Code)
	h.waitShown("the question", func() bool { return r.questionsBox.Visible() })
	h.u.selectTab(3)
	h.u.settings.language.SetSelectedIndex(1) // Deutsch
	test.Tap(h.u.settings.save)
	h.mustShow(i18n.T(i18n.EN, "ui.language.busy"), i18n.T(i18n.DE, "ui.language.busy"),
		i18n.T(i18n.EN, "ui.language.now"), i18n.T(i18n.EN, "ui.language.later"))
	h.press(fyne.KeyEscape) // at the next start
	if h.u.lang != i18n.EN || h.u.redeem != r || !r.questionsBox.Visible() {
		t.Fatal("'At the next start' switched or lost the round")
	}
	h.mustShow(i18n.T(i18n.EN, "ui.settings.saved") + " " + i18n.T(i18n.EN, "ui.settings.restart"))
	if h.core.Settings().Language != "de" {
		t.Errorf("saved language %q", h.core.Settings().Language)
	}
	test.Tap(h.u.settings.save)
	h.press(fyne.KeyReturn) // switch now
	if h.u.lang != i18n.DE || h.u.redeem == r {
		t.Fatal("'Switch now' did not switch")
	}
	h.u.selectTab(1)
	if h.u.redeem.code.Code() != issued.Code || h.u.redeem.questionsBox.Visible() {
		t.Errorf("after switching: code %q, questions shown %v", h.u.redeem.code.Code(), h.u.redeem.questionsBox.Visible())
	}
	h.mustShow(i18n.T(i18n.DE, "ui.redeem.next"))
	h.checkLanguage(i18n.DE, "redeem after switching now", issued.Code[:4], issued.Code[4:8], issued.Code[8:])
}

// Switching clinic mode in Settings adds or removes the inbox tab and
// leaves Settings on screen (removing the tab jumped to Transfers).
func TestJourneyClinicModeKeepsSettingsShown(t *testing.T) {
	lang := i18n.EN
	h := newHarness(t, lang)
	set := h.u.settings
	h.u.selectTab(3)
	test.Tap(set.clinic)
	test.Tap(set.save)
	if len(h.u.tabs.Items) != 5 {
		t.Fatalf("%d tabs in clinic mode", len(h.u.tabs.Items))
	}
	h.tabOnScreen(lang, 4, "turning clinic mode on")
	test.Tap(set.clinic)
	test.Tap(set.save)
	if len(h.u.tabs.Items) != 4 {
		t.Fatalf("%d tabs without clinic mode", len(h.u.tabs.Items))
	}
	h.tabOnScreen(lang, 3, "turning clinic mode off")
}
