package ui

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/portal"
)

// journeyHarness is a UI against p whose look-ups give up after a few
// seconds (the product waits 15 s).
func journeyHarness(t *testing.T, lang i18n.Lang, portalURL string) *harness {
	t.Helper()
	return newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), PortalURL: portalURL, LibraryDir: t.TempDir(),
		LookupTimeout: 3 * time.Second, RetryInitial: 20 * time.Millisecond})
}

// birthDate is how a reader of lang writes pat's date of birth.
func birthDate(t *testing.T, lang i18n.Lang, pat *gencd.Patient) string {
	t.Helper()
	d, err := time.Parse("20060102", pat.BirthDate)
	if err != nil {
		t.Fatal(err)
	}
	return d.Format(i18n.DateLayout(lang))
}

// otherDate is a wrong date of birth in lang's format.
func otherDate(lang i18n.Lang) string {
	return time.Date(1961, 7, 9, 0, 0, 0, 0, time.UTC).Format(i18n.DateLayout(lang))
}

// wrongCode is code with its last character changed (still a valid shape).
func wrongCode(code string) string {
	last := code[len(code)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return code[:len(code)-1] + string(repl)
}

// typeCode types code into the three fields as a person does: focus the
// first field, type the characters (the focus moves on by itself).
func (h *harness) typeCode(code string) {
	h.t.Helper()
	r := h.u.redeem
	for i := 2; i >= 0; i-- {
		r.code.Field(i).SetText("")
	}
	h.canvas().Focus(r.code.Field(0))
	h.typeKeys(strings.ToLower(code))
	if got := r.code.Code(); got != code {
		h.t.Fatalf("typed %q, the fields hold %q", code, got)
	}
}

// answerWith types answer into the first question's field and presses
// Enter there.
func (h *harness) answerWith(answer string) {
	h.t.Helper()
	r := h.u.redeem
	h.waitShown("the question", func() bool { return r.questionsBox.Visible() && !r.busy.Visible() })
	if len(r.answerFields) == 0 {
		h.t.Fatal("no answer field")
	}
	if got := r.answerFields[0].Text; got != "" {
		h.t.Fatalf("the answer field is not empty at the start of a round: %q", got)
	}
	h.canvas().Focus(r.answerFields[0])
	h.typeKeys(answer)
	h.press(fyne.KeyReturn)
}

// askWith types code and presses Enter in the code fields.
func (h *harness) askWith(code string) {
	h.t.Helper()
	h.typeCode(code)
	h.press(fyne.KeyReturn)
	h.waitShown("the portal's answer", func() bool { return !h.u.redeem.busy.Visible() })
}

// itemsShown waits for the items list and checks it names them.
func (h *harness) itemsShown(lang i18n.Lang, staged *portal.Staged) {
	h.t.Helper()
	r := h.u.redeem
	h.waitShown("the items", func() bool { return r.itemsBox.Visible() })
	h.mustShow(i18n.T(lang, "ui.redeem.items"), staged.Items[0].Description)
}

// A mistyped code, then the right one, in the same window: the second
// round has a fresh, empty date field that works (issue 13's blocker: the
// old field stayed, every answer ended in " ist kein Datum.").
func TestJourneyRedeemAfterWrongCode(t *testing.T) {
	p := startDemoPortal(t)
	issued, staged, pat, _ := issueCode(t, p)
	for _, lang := range i18n.Langs {
		h := journeyHarness(t, lang, p.url)
		r := h.u.redeem
		h.u.tabs.SelectIndex(1)
		dob := birthDate(t, lang, pat)
		h.askWith(wrongCode(issued.Code))
		h.answerWith(dob)
		h.waitText(i18n.T(lang, "transfer.dlx.wrong_answer"))
		h.mustShow(i18n.T(lang, "transfer.dlx.wrong_answer.hint"))
		h.mustNotShow(dob) // cleared after the failure
		h.askWith(issued.Code)
		h.mustNotShow(dob, i18n.T(lang, "transfer.dlx.wrong_answer"))
		if n := len(r.questions.Items); n != len(r.session.Questions) {
			t.Fatalf("the form holds %d fields for %d questions: an old round's field stayed", n, len(r.session.Questions))
		}
		h.answerWith(dob)
		h.itemsShown(lang, staged)
		h.mustNotShow(dob, strings.TrimSpace(i18n.T(lang, "app.answer-date", "")))
	}
}

// Two codes in a row (two patients at a shared PC): after the first is
// saved, "Redeem another code" leaves nothing of the first person on the
// screen, and the second code works like the first.
func TestJourneyRedeemTwoCodesInARow(t *testing.T) {
	p := startDemoPortal(t)
	first, staged1, pat1, _ := issueCode(t, p)
	second, staged2, pat2, _ := issueCode(t, p)
	lang := i18n.DE
	h := journeyHarness(t, lang, p.url)
	h.u.win.Resize(fyne.NewSize(1024, 560)) // a netbook: the done buttons need scrolling
	r := h.u.redeem
	h.u.tabs.SelectIndex(1)
	h.askWith(first.Code)
	h.answerWith(birthDate(t, lang, pat1))
	h.itemsShown(lang, staged1)
	h.press(fyne.KeySpace) // "Save all" has the focus
	h.waitShown("the saved studies", func() bool { return r.done.Visible() })
	h.mustShow(i18n.T(lang, "ui.redeem.another"))
	test.Tap(r.another)
	h.mustNotShow(birthDate(t, lang, pat1), staged1.Items[0].Description, i18n.T(lang, "ui.redeem.items"))
	if r.code.Code() != "" || h.focused() != r.code.Field(0) {
		t.Errorf("after 'another code': code %q, focus %T", r.code.Code(), h.focused())
	}
	if off := r.content.(*container.Scroll).Offset; off.Y != 0 {
		t.Errorf("after 'another code' the screen stays scrolled down by %v: the title is out of view", off.Y)
	}
	h.askWith(second.Code)
	h.answerWith(birthDate(t, lang, pat2))
	h.itemsShown(lang, staged2)
	h.mustNotShow(i18n.T(lang, "ui.redeem.saved", ""))
}

// A wrong date of birth, then the right one: the wrong one is said with
// what to do, the field is empty and has the focus, the right one works.
func TestJourneyRedeemWrongAnswerThenRight(t *testing.T) {
	p := startDemoPortal(t)
	issued, staged, pat, _ := issueCode(t, p)
	for _, lang := range i18n.Langs {
		h := journeyHarness(t, lang, p.url)
		r := h.u.redeem
		h.u.tabs.SelectIndex(1)
		h.askWith(issued.Code)
		// Not a date at all: said on the spot, translated, with the value.
		h.answerWith("31.02.1958")
		h.mustShow(i18n.T(lang, "ui.redeem.dateInvalid", "31.02.1958"))
		h.mustNotShow("parsing time")
		r.answerFields[0].SetText("")
		h.answerWith(otherDate(lang))
		h.waitText(i18n.T(lang, "transfer.dlx.wrong_answer"))
		if r.answerFields[0].Text != "" || h.focused() != r.answerFields[0] {
			t.Errorf("after a wrong answer: field %q, focus on it %v", r.answerFields[0].Text, h.focused() == r.answerFields[0])
		}
		if r.retry.Visible() {
			t.Error("a retry button for a wrong answer (retrying the same answer cannot help)")
		}
		h.answerWith(birthDate(t, lang, pat))
		h.itemsShown(lang, staged)
		h.mustNotShow(i18n.T(lang, "transfer.dlx.wrong_answer"))
	}
}

var clockTime = regexp.MustCompile(`\b\d{2}:\d{2}\b`)

// After too many wrong dates the portal locks the code for a while: the
// screen says so with the time to try again, not "wrong answer" — also for
// the right date while the lock lasts.
func TestJourneyRedeemLockedCode(t *testing.T) {
	p := startDemoPortal(t)
	issued, _, pat, _ := issueCode(t, p)
	lang := i18n.DE
	h := journeyHarness(t, lang, p.url)
	r := h.u.redeem
	h.u.tabs.SelectIndex(1)
	h.askWith(issued.Code)
	locked := strings.SplitN(i18n.T(lang, "app.code-locked", "\x00"), "\x00", 2)[0]
	for i := 0; i < 8 && !h.showsAnywhere(locked); i++ {
		h.answerWith(otherDate(lang))
		h.waitShown("the portal's answer", func() bool { return r.problemBox.Visible() && !r.busy.Visible() })
	}
	h.waitText(locked)
	h.answerWith(birthDate(t, lang, pat))
	h.waitShown("the portal's answer", func() bool { return r.problemBox.Visible() && !r.busy.Visible() })
	h.mustShow(locked, i18n.T(lang, "app.code-locked.hint"))
	h.mustNotShow(i18n.T(lang, "transfer.dlx.wrong_answer"))
	if !clockTime.MatchString(r.problem.Text) {
		t.Errorf("no time to try again in %q", r.problem.Text)
	}
	h.capture("redeem_locked_de")
}

// An expired code with the right answer: "expired — ask the practice",
// never "wrong".
func TestJourneyRedeemExpiredCode(t *testing.T) {
	p := startDemoPortal(t)
	issued, _, pat, _ := issueCode(t, p)
	if _, err := p.admin.ExtendCode(context.Background(), portal.ExtendRequest{Ref: issued.RecordID, ExpiresAt: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Langs {
		h := journeyHarness(t, lang, p.url)
		h.u.tabs.SelectIndex(1)
		h.askWith(issued.Code)
		h.answerWith(birthDate(t, lang, pat))
		h.waitText(i18n.T(lang, "transfer.dlx.expired"))
		h.mustShow(i18n.T(lang, "transfer.dlx.expired.hint"))
		h.mustNotShow(i18n.T(lang, "transfer.dlx.wrong_answer"), birthDate(t, lang, pat))
	}
}

// A fresh install (no portal set) and a typed code: the screen asks for
// the portal address printed on the sheet, then redeems, and remembers
// the address so the next code needs only the code.
func TestJourneyRedeemTypedCodeFreshInstall(t *testing.T) {
	p := startDemoPortal(t)
	issued, staged, pat, _ := issueCode(t, p)
	for _, lang := range i18n.Langs {
		h := journeyHarness(t, lang, "")
		r := h.u.redeem
		h.u.tabs.SelectIndex(1)
		if !r.portalBox.Visible() {
			t.Fatal("no portal address field on a fresh install")
		}
		h.mustShow(i18n.T(lang, "ui.redeem.portal"), i18n.T(lang, "ui.redeem.portalHint"))
		h.typeCode(issued.Code)
		h.press(fyne.KeyReturn)
		h.mustShow(i18n.T(lang, "ui.redeem.portalNeeded"))
		if h.focused() != r.portal {
			t.Error("the portal field does not get the focus when it is missing")
		}
		h.typeKeys(p.url)
		h.press(fyne.KeyReturn) // on to the code fields
		if h.focused() != r.code.Field(0) {
			t.Fatalf("Enter in the portal field does not move on to the code")
		}
		h.askWith(issued.Code)
		h.answerWith(birthDate(t, lang, pat))
		h.itemsShown(lang, staged)
		if got := h.core.Settings().PortalURL; got != p.url {
			t.Errorf("portal not remembered: %q", got)
		}
		if r.portalBox.Visible() || h.u.settings.portal.Text != p.url {
			t.Errorf("after the first redeem: portal still asked %v; Settings shows %q", r.portalBox.Visible(), h.u.settings.portal.Text)
		}
		test.Tap(r.saveAll)
		h.waitShown("the saved studies", func() bool { return r.done.Visible() })
		test.Tap(r.another)
		r.portal.SetText("")
		r.refreshPortal()
		if r.portalBox.Visible() {
			t.Error("the portal field is still asked after the address was remembered")
		}
	}
}

// The portal does not answer — connections refused (a wrong address, an
// outage) or swallowed (a proxy): within seconds the screen says which
// portal does not answer and what to do, with a retry button; the look-up
// can be cancelled meanwhile.
func TestJourneyPortalUnreachable(t *testing.T) {
	for name, url := range map[string]string{"refused": closedPortURL(t), "silent": silentPortURL(t)} {
		for _, lang := range i18n.Langs {
			h := journeyHarness(t, lang, url)
			r := h.u.redeem
			h.u.tabs.SelectIndex(1)
			h.typeCode("ABCDEFGHJKMN")
			start := time.Now()
			h.press(fyne.KeyReturn)
			h.mustShow(i18n.T(lang, "ui.redeem.asking"), i18n.T(lang, "ui.redeem.cancel"))
			h.waitShown("the error", func() bool { return r.problemBox.Visible() })
			if took := time.Since(start); took > 6*time.Second {
				t.Errorf("%s/%s: the error came after %v", name, lang, took)
			}
			h.mustShow(i18n.T(lang, "app.portal-no-answer", url), i18n.T(lang, "app.portal-no-answer.hint"), i18n.T(lang, "ui.redeem.retry"))
			h.mustNotShow(i18n.T(lang, "ui.redeem.asking"))
			if r.next.Disabled() || !r.retry.Visible() || h.focused() != r.retry {
				t.Errorf("%s/%s: Next disabled %v, retry visible %v, focused", name, lang, r.next.Disabled(), r.retry.Visible())
			}
			h.checkLanguage(lang, "portal unreachable")
			h.capture("redeem_unreachable_" + name + "_" + string(lang))
			h.press(fyne.KeySpace) // "Try again" has the focus
			h.mustShow(i18n.T(lang, "ui.redeem.asking"))
			h.waitShown("the error again", func() bool { return r.problemBox.Visible() })
			if name == "silent" {
				h.press(fyne.KeySpace)
				test.Tap(r.cancelAsk)
				h.mustShow(i18n.T(lang, "ui.redeem.canceled"))
				h.mustNotShow(i18n.T(lang, "ui.redeem.asking"))
				if r.next.Disabled() {
					t.Error("Next stays disabled after cancelling")
				}
			}
		}
	}
}

// A new portal address saved under Settings counts at once, without a
// restart; an address given at the start (-portal) shows read-only, saying
// that it is in use.
func TestJourneyPortalAddressChanged(t *testing.T) {
	p := startDemoPortal(t)
	issued, _, _, _ := issueCode(t, p)
	for _, lang := range i18n.Langs {
		h := journeyHarness(t, lang, "")
		if err := h.core.UpdateSettings(func(s *app.Settings) { s.PortalURL = closedPortURL(t) }); err != nil {
			t.Fatal(err)
		}
		r, s := h.u.redeem, h.u.settings
		h.u.tabs.SelectIndex(1)
		h.askWith(issued.Code)
		h.waitShown("the error", func() bool { return r.problemBox.Visible() })
		h.u.tabs.SelectIndex(3)
		s.load()
		s.portal.SetText("")
		h.canvas().Focus(s.portal)
		h.typeKeys(p.url)
		test.Tap(s.save)
		h.mustShow(i18n.T(lang, "ui.settings.saved"))
		h.u.tabs.SelectIndex(1)
		h.askWith(issued.Code)
		h.waitShown("the questions", func() bool { return r.questionsBox.Visible() })
		if r.session == nil || !strings.HasPrefix(r.session.Portal, p.url) {
			t.Errorf("redeemed at %+v, want the new address %s", r.session, p.url)
		}
	}
	// -portal: read-only, with the hint naming the address in use.
	for _, lang := range i18n.Langs {
		h := journeyHarness(t, lang, p.url)
		s := h.u.settings
		h.u.tabs.SelectIndex(3)
		if !s.portal.Disabled() {
			t.Error("the portal field is editable although -portal overrides it")
		}
		h.mustShow(i18n.T(lang, "ui.settings.overridden.portal_url", p.url))
	}
}

// A clinic key installed earlier shows as installed when Settings opens,
// with its fingerprint, without pressing a button (it said "no clinic key
// yet"); a key file protected by a passphrase says so without asking.
func TestJourneySettingsShowInstalledKey(t *testing.T) {
	keyring.MockInit()
	for _, lang := range i18n.Langs {
		state := t.TempDir()
		core, err := app.Open(app.Config{StateDir: state, ScryptWorkFactor: 10})
		if err != nil {
			t.Fatal(err)
		}
		info, err := core.InitClinicKey()
		core.Close()
		if err != nil {
			t.Fatal(err)
		}
		h := newHarnessWith(t, lang, app.Config{StateDir: state, LibraryDir: t.TempDir()})
		h.u.tabs.SelectIndex(3)
		h.waitShown("the key", func() bool { return h.showsAnywhere(info.Fingerprint) })
		h.mustShow(i18n.T(lang, "ui.settings.keyReady"))
		h.mustNotShow(i18n.T(lang, "ui.settings.noIdentity"))
		h.checkLanguage(lang, "settings with a key", info.Fingerprint, state)
	}
	// A passphrase-protected key file (no keyring): installed, no prompt.
	state := t.TempDir()
	cfg := app.Config{StateDir: state, NoKeyring: true, ScryptWorkFactor: 10}
	cfg.Passphrase.Prompt = func() (string, error) { return "geheim", nil }
	core, err := app.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.InitClinicKey(); err != nil {
		t.Fatal(err)
	}
	core.Close()
	h := newHarnessWith(t, i18n.DE, app.Config{StateDir: state, NoKeyring: true, LibraryDir: t.TempDir()})
	h.u.tabs.SelectIndex(3)
	path := filepath.Join(state, "keys", "clinic.age")
	h.waitShown("the key file", func() bool { return h.showsAnywhere(path) })
	h.mustShow(i18n.T(i18n.DE, "ui.settings.showKey"))
	h.mustNotShow(i18n.T(i18n.DE, "ui.settings.noIdentity"))
}

// The whole redeem journey with the keyboard only: type the code, Enter,
// type the date, Enter, Space on "Save all", Tab to the folder buttons.
func TestJourneyKeyboardOnlyRedeem(t *testing.T) {
	p := startDemoPortal(t)
	issued, staged, pat, _ := issueCode(t, p)
	lang := i18n.EN
	h := journeyHarness(t, lang, p.url)
	r := h.u.redeem
	h.u.tabs.SelectIndex(1)
	h.canvas().Focus(r.code.Field(0))
	h.typeKeys(strings.ToLower(issued.Code[:4]) + "-" + issued.Code[4:])
	if r.code.Code() != issued.Code {
		t.Fatalf("typed code reads %q", r.code.Code())
	}
	h.press(fyne.KeyReturn)
	h.waitShown("the question", func() bool { return r.questionsBox.Visible() })
	if h.focused() != r.answerFields[0] {
		t.Fatal("the answer field does not get the focus")
	}
	h.typeKeys(birthDate(t, lang, pat))
	h.press(fyne.KeyReturn)
	h.itemsShown(lang, staged)
	if h.focused() != r.saveAll {
		t.Fatal("'Save all' does not get the focus")
	}
	h.press(fyne.KeySpace)
	h.waitShown("the saved studies", func() bool { return r.done.Visible() })
	h.mustShow(i18n.T(lang, "ui.redeem.saved", r.savedDir))
	// Tab reaches the folder buttons and "another code".
	reached := map[string]bool{}
	for i := 0; i < 40; i++ {
		h.tab()
		if h.focused() == r.another {
			reached["another"] = true
		}
	}
	if !reached["another"] {
		t.Error("Tab never reaches 'Redeem another code'")
	}
	if _, err := os.Stat(filepath.Join(r.savedDir)); err != nil {
		t.Errorf("saved folder: %v", err)
	}
}

// Every string on the redeem and settings screens, in each state a person
// meets, is in the screen's language: no raw key, no Go error text, no
// text of the other language.
func TestJourneyGermanAndEnglishComplete(t *testing.T) {
	p := startDemoPortal(t)
	issued, staged, pat, _ := issueCode(t, p)
	for _, lang := range i18n.Langs {
		h := journeyHarness(t, lang, "")
		r := h.u.redeem
		h.u.tabs.SelectIndex(1)
		data := []string{p.url, issued.Code, staged.Items[0].Description}
		h.checkLanguage(lang, "redeem, fresh install", data...)
		h.typeCode(issued.Code)
		h.press(fyne.KeyReturn)
		h.checkLanguage(lang, "redeem, portal missing", data...)
		r.portal.SetText(p.url)
		h.askWith(issued.Code)
		h.checkLanguage(lang, "redeem, question", data...)
		h.answerWith(otherDate(lang))
		h.waitShown("the answer", func() bool { return r.problemBox.Visible() && !r.busy.Visible() })
		h.checkLanguage(lang, "redeem, wrong answer", data...)
		h.answerWith(birthDate(t, lang, pat))
		h.itemsShown(lang, staged)
		h.checkLanguage(lang, "redeem, items", data...)
		test.Tap(r.saveAll)
		h.waitShown("the saved studies", func() bool { return r.done.Visible() })
		h.checkLanguage(lang, "redeem, saved", append(data, r.savedDir)...)
		h.mustShow(i18n.T(lang, "ui.redeem.expiresSaved", i18n.FormatDate(lang, r.session.Expires)))
		h.u.tabs.SelectIndex(3)
		h.checkLanguage(lang, "settings", data...)
	}
}

// "Open folder" on a desktop without a file manager (no xdg-open; gio
// there but without a default application, so it exits with an error):
// a translated message with the path and "Copy path", never Go's
// "exec: xdg-open: executable file not found".
func TestJourneyOpenFolderWithoutFileManager(t *testing.T) {
	falseBin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1)")
	}
	saved := lookPath
	t.Cleanup(func() { lookPath = saved })
	lookPath = func(name string) (string, error) {
		if name == "gio" {
			return falseBin, nil // gio open: "Failed to find default application", exit 2
		}
		return "", exec.ErrNotFound
	}
	for _, lang := range i18n.Langs {
		h := newHarness(t, lang)
		dir := t.TempDir()
		h.u.openPath(dir)
		h.waitText(i18n.T(lang, "ui.open.failed", dir))
		h.mustShow(i18n.T(lang, "ui.open.failed.hint"))
		h.checkLanguage(lang, "open folder failed", dir)
		h.mustShow(i18n.T(lang, "ui.redeem.copyPath"))
		h.press(fyne.KeyReturn) // "Copy path" has the focus
		if len(h.canvas().Overlays().List()) != 0 {
			t.Error("the dialog stays open after Enter")
		}
		if got := h.u.app.Clipboard().Content(); got != dir {
			t.Errorf("clipboard = %q, want %q", got, dir)
		}
	}
}

// The portal goes away while a redeemed code is being saved: the screen
// says "connection lost – next try in …" with "Try now" (no frozen
// progress), and once the portal is back, "Try now" finishes the save.
func TestJourneyRedeemSaveWhilePortalDown(t *testing.T) {
	base := startDemoPortal(t)
	issued, staged, pat, _ := issueCode(t, base)
	rp := startProxyPortal(t, base, false, false)
	lang := i18n.DE
	h := newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), PortalURL: rp.url, LibraryDir: t.TempDir(),
		LookupTimeout: 3 * time.Second, RetryInitial: 30 * time.Second})
	r := h.u.redeem
	h.u.tabs.SelectIndex(1)
	h.askWith(issued.Code)
	h.answerWith(birthDate(t, lang, pat))
	h.itemsShown(lang, staged)
	rp.stop()
	h.press(fyne.KeySpace) // Save all
	waiting, _, _ := strings.Cut(i18n.T(lang, "ui.redeem.waiting"), "%")
	h.waitShown("the offline state", func() bool { return r.waiting.Visible() && strings.Contains(r.waitText.Text, " s") })
	h.mustShow(strings.TrimSpace(waiting), i18n.T(lang, "ui.redeem.retryNow"))
	h.checkLanguage(lang, "redeem save offline", rp.url)
	h.capture("redeem_save_offline_de")
	rp.start(t)
	test.Tap(r.retryNow)
	h.waitShown("the saved studies", func() bool { return r.done.Visible() })
	h.mustNotShow(strings.TrimSpace(waiting))
	if r.waiting.Visible() {
		t.Error("the offline line stays after the save finished")
	}
}

// The reminder of a code about to expire, unsaved, shows in the window
// too (a desktop without a notification service shows nothing else).
func TestJourneyExpiryReminderInWindow(t *testing.T) {
	p := startDemoPortal(t)
	issued, _, pat, _ := issueCode(t, p)
	cfg := app.Config{StateDir: t.TempDir(), PortalURL: p.url, LibraryDir: t.TempDir()}
	core, err := app.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sess, err := core.RedeemStart(ctx, "", issued.Code)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Answer(ctx, map[string]string{sess.Questions[0].ID: pat.BirthDate}); err != nil {
		t.Fatal(err)
	}
	core.Close() // the code runs out in 5 days, nothing saved
	for _, lang := range i18n.Langs {
		h := newHarnessWith(t, lang, cfg)
		h.u.tabs.SelectIndex(1)
		h.waitShown("the reminder on the redeem screen", func() bool { return h.u.redeem.reminder.Visible() })
		h.mustShow(sess.Masked)
		h.checkLanguage(lang, "expiry reminder", sess.Masked)
		h.core.Close() // the next language opens the same state
	}
}

// A portal that does not say when the code expires (plain DLX): the
// "valid until" field is asked, labelled as optional and in the reader's
// format; when the portal says it, it is text only.
func TestRedeemExpiryAskedOnlyWhenUnknown(t *testing.T) {
	for _, lang := range i18n.Langs {
		h := newHarness(t, lang)
		r := h.u.redeem
		h.u.tabs.SelectIndex(1)
		items := []app.Item{{ID: "1", MIMEType: "application/zip", Description: "CT Thorax", Date: "20251013"}}
		r.showItems(&app.RedeemSession{Masked: "XXXX-XXXX-ABCD"}, items)
		if !r.expiryAsk.Visible() || r.expiry.Visible() {
			t.Errorf("%s, expiry unknown: field shown %v, line shown %v", lang, r.expiryAsk.Visible(), r.expiry.Visible())
		}
		h.mustShow(i18n.T(lang, "ui.redeem.expiryAsk"), i18n.T(lang, "ui.redeem.expiryAskHint"), i18n.T(lang, "ui.redeem.datePlaceholder"))
		h.checkLanguage(lang, "expiry unknown", "CT Thorax", "XXXX-XXXX-ABCD")
		expires := time.Now().Add(30 * 24 * time.Hour)
		r.showItems(&app.RedeemSession{Masked: "XXXX-XXXX-ABCD", Expires: expires}, items)
		if r.expiryAsk.Visible() || !r.expiry.Visible() {
			t.Errorf("%s, expiry known: field shown %v, line shown %v", lang, r.expiryAsk.Visible(), r.expiry.Visible())
		}
		h.mustShow(i18n.FormatDate(lang, expires))
		if r.expiry.Importance == widget.WarningImportance {
			t.Errorf("%s: a warning with 30 days left", lang)
		}
	}
}
