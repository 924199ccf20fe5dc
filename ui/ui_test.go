package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// harness is a UI on Fyne's test driver. UI updates from background
// goroutines are queued and run by the test goroutine in drain/waitFor,
// as the real driver runs them on its own goroutine.
type harness struct {
	core *app.Core
	t    *testing.T
	u    *UI
	do   chan func()
}

func newHarness(t *testing.T, lang i18n.Lang) *harness {
	t.Helper()
	return newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), LibraryDir: "/library"})
}

func newHarnessWith(t *testing.T, lang i18n.Lang, cfg app.Config) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(test.Theme())
	h := &harness{t: t, do: make(chan func(), 1024)}
	t.Setenv(app.PolicyEnv, "")
	cfg.ScryptWorkFactor = 10
	core, err := app.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	h.core = core
	h.u = New(a, Options{Core: core, Lang: lang, do: func(f func()) { h.do <- f }, discs: func() []string { return nil }})
	h.u.win.Resize(WindowSize)
	t.Cleanup(h.u.win.Close)
	h.u.Start()
	return h
}

// drain runs the queued UI updates.
func (h *harness) drain() {
	for {
		select {
		case f := <-h.do:
			f()
		default:
			return
		}
	}
}

func (h *harness) canvas() fyne.Canvas { return h.u.win.Canvas() }

// Every key the UI uses exists in both languages (the i18n package checks
// the catalogs agree; this checks the UI asks for nothing missing).
func TestNoRawKeysShown(t *testing.T) {
	for _, lang := range i18n.Langs {
		h := newHarness(t, lang)
		h.u.showInboxTab(true)
		for i := range h.u.tabs.Items {
			h.u.tabs.SelectIndex(i)
			markup := test.RenderToMarkup(h.canvas())
			if strings.Contains(markup, "ui.") {
				for _, line := range strings.Split(markup, "\n") {
					if strings.Contains(line, ">ui.") || strings.Contains(line, "\"ui.") {
						t.Errorf("%s tab %d shows a raw key: %s", lang, i, strings.TrimSpace(line))
					}
				}
			}
		}
	}
}

// Each screen as a person first sees it, in both languages.
func TestScreensMarkup(t *testing.T) {
	for _, lang := range i18n.Langs {
		h := newHarness(t, lang)
		h.u.showInboxTab(true)
		for i, name := range []string{"send", "redeem", "inbox", "transfers", "settings"} {
			h.u.tabs.SelectIndex(i)
			test.AssertRendersToMarkup(t, "screen_"+name+"_"+string(lang)+".xml", h.canvas())
		}
	}
}

func TestInboxTabOnlyInClinicMode(t *testing.T) {
	h := newHarness(t, i18n.DE)
	if len(h.u.tabs.Items) != 4 {
		t.Fatalf("tabs without clinic mode = %d, want 4", len(h.u.tabs.Items))
	}
	h.u.showInboxTab(true)
	h.u.showInboxTab(true)
	if len(h.u.tabs.Items) != 5 || h.u.tabs.Items[2].Text != "Posteingang" {
		t.Fatalf("clinic mode tabs wrong: %d items", len(h.u.tabs.Items))
	}
	h.u.showInboxTab(false)
	if len(h.u.tabs.Items) != 4 {
		t.Fatal("inbox tab not removed")
	}
}

func TestCodeEntryTypingAdvances(t *testing.T) {
	h := newHarness(t, i18n.DE)
	h.u.tabs.SelectIndex(1)
	c := h.u.redeem.code
	h.canvas().Focus(c.fields[0])
	test.Type(c.fields[0], "ab3d")
	if h.canvas().Focused() != c.fields[1] {
		t.Fatal("focus did not advance after four characters")
	}
	test.Type(h.canvas().Focused(), "efgh")
	test.Type(h.canvas().Focused(), "jk")
	if got := c.Code(); got != "AB3DEFGHJK" {
		t.Fatalf("code = %q", got)
	}
	// Backspace in an empty field goes back.
	h.canvas().Focus(c.fields[2])
	c.fields[2].SetText("")
	c.fields[2].TypedKey(&fyne.KeyEvent{Name: fyne.KeyBackspace})
	if h.canvas().Focused() != c.fields[1] {
		t.Fatal("backspace in an empty field did not step back")
	}
}

func TestCodeEntryPasteSpreads(t *testing.T) {
	h := newHarness(t, i18n.EN)
	h.u.tabs.SelectIndex(1)
	c := h.u.redeem.code
	h.canvas().Focus(c.fields[0])
	cb := test.NewClipboard()
	cb.SetContent(" abcd-efgh-2345 ")
	c.fields[0].TypedShortcut(&fyne.ShortcutPaste{Clipboard: cb})
	got := []string{c.fields[0].Text, c.fields[1].Text, c.fields[2].Text}
	if strings.Join(got, "|") != "ABCD|EFGH|2345" {
		t.Fatalf("fields after paste = %q", got)
	}
	if h.canvas().Focused() != c.fields[2] {
		t.Error("focus not on the last field after pasting a whole code")
	}
}

func TestOpenRoutes(t *testing.T) {
	h := newHarness(t, i18n.DE)
	h.u.Open([]string{"https://portal.example/c?token=ABCD"})
	if h.u.tabs.SelectedIndex() != 1 {
		t.Error("a code link does not open Redeem")
	}
	h.u.tabs.SelectIndex(3)
	h.u.Dropped([]fyne.URI{storage.NewFileURI(t.TempDir())})
	if h.u.tabs.SelectedIndex() != 0 {
		t.Error("a dropped folder does not open Send")
	}
	h.u.tabs.SelectIndex(0)
	h.u.Dropped([]fyne.URI{storage.NewFileURI("/tmp/code-sheet.JPG")})
	if h.u.tabs.SelectedIndex() != 1 {
		t.Error("a dropped photo does not open Redeem")
	}
}

func TestDropZoneTapOpensChooser(t *testing.T) {
	h := newHarness(t, i18n.DE)
	before := len(h.canvas().Overlays().List())
	test.Tap(h.u.send.drop)
	if len(h.canvas().Overlays().List()) != before+1 {
		t.Fatal("tapping the drop zone opened no folder chooser")
	}
	_ = widget.NewLabel
}
