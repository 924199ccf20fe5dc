package ui

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/internal/i18n"
)

// Helpers for the TestJourney* tests (send, receive, transfers and
// redeem): keys as Fyne's desktop driver delivers them, waiting for what
// a person waits for, and a walker over every visible string.

// press sends a key to the focused widget, else to the window (as the
// desktop driver does).
func (h *harness) press(name fyne.KeyName) {
	h.t.Helper()
	ev := &fyne.KeyEvent{Name: name}
	if f := h.canvas().Focused(); f != nil {
		f.TypedKey(ev)
	} else if on := h.canvas().OnTypedKey(); on != nil {
		on(ev)
	}
	h.drain()
}

// focused is the widget with the keyboard focus.
func (h *harness) focused() fyne.Focusable { return h.canvas().Focused() }

// tab moves the focus as the driver does for Tab (unless the focused
// widget takes Tab itself).
func (h *harness) tab() {
	if t, ok := h.canvas().Focused().(fyne.Tabbable); ok && t.AcceptsTab() {
		h.canvas().Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeyTab})
		return
	}
	h.canvas().FocusNext()
}

// shortcut presses key with mod as the driver does: the focused widget
// gets it when it takes shortcuts, else the window.
func (h *harness) shortcut(key fyne.KeyName, mod fyne.KeyModifier) {
	sc := &desktop.CustomShortcut{KeyName: key, Modifier: mod}
	if f, ok := h.canvas().Focused().(fyne.Shortcutable); ok {
		f.TypedShortcut(sc)
	} else {
		h.canvas().(fyne.Shortcutable).TypedShortcut(sc)
	}
	h.drain()
}

// typeKeys types s character by character into whatever has the focus
// (the focus may move on while typing, as in the code fields).
func (h *harness) typeKeys(s string) {
	h.t.Helper()
	for _, c := range s {
		f := h.canvas().Focused()
		if f == nil {
			h.t.Fatalf("typing %q: nothing has the focus", s)
		}
		test.Type(f, string(c))
	}
	h.drain()
}

// waitShown runs queued UI updates until cond holds (errors shown on the
// screen do not end the wait; see waitFor for flows that must not fail).
func (h *harness) waitShown(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		h.drain()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("waiting for %s: gave up; the screen shows:\n%s", what, strings.Join(h.screenTexts(), "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitText waits until some visible text contains s.
func (h *harness) waitText(s string) {
	h.t.Helper()
	h.waitShown(fmt.Sprintf("%q", s), func() bool { return h.showsAnywhere(s) })
}

// showsAnywhere reports whether a visible text (entries' text included)
// contains s.
func (h *harness) showsAnywhere(s string) bool {
	for _, t := range h.screenTexts() {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

// mustShow fails for every text not on the screen.
func (h *harness) mustShow(texts ...string) {
	h.t.Helper()
	for _, s := range texts {
		if !h.showsAnywhere(s) {
			h.t.Errorf("not on screen: %q; the screen shows:\n%s", s, strings.Join(h.screenTexts(), "\n"))
		}
	}
}

// mustNotShow fails for every text on the screen.
func (h *harness) mustNotShow(texts ...string) {
	h.t.Helper()
	for _, s := range texts {
		if s != "" && h.showsAnywhere(s) {
			h.t.Errorf("on screen although it must not be: %q", s)
		}
	}
}

// checkLanguage fails for a raw key, a broken format verb, Go error text
// or text of the other language on the screen; data are the values
// shown as they are (addresses, codes, names).
func (h *harness) checkLanguage(lang i18n.Lang, where string, data ...string) {
	h.t.Helper()
	h.assertComplete(h.t, lang, where, data...)
}

// topDialogTexts is every visible string of the dialog on top.
func (h *harness) topDialogTexts() []string {
	ov := h.canvas().Overlays().Top()
	if ov == nil {
		return nil
	}
	return visibleTexts(ov)
}

// visibleTexts walks o like a reader: labels, checks, buttons, entries'
// text and place holders, select place holders, rich text.
func visibleTexts(o fyne.CanvasObject) []string {
	var out []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		// A text widget is read as one; its parts are not read again.
		switch w := o.(type) {
		case *widget.Label:
			out = append(out, w.Text)
			return
		case *widget.Check:
			out = append(out, w.Text)
			return
		case *widget.Button:
			out = append(out, w.Text)
			return
		case *widget.Select:
			out = append(out, w.Selected, w.PlaceHolder)
			return
		case *widget.Entry:
			out = append(out, w.Text, w.PlaceHolder)
			return
		case *widget.RichText:
			out = append(out, w.String())
			return
		case *canvas.Text:
			out = append(out, w.Text)
			return
		}
		switch w := o.(type) {
		case *keyEntry:
			out = append(out, w.Text, w.PlaceHolder)
			return
		case *passwordField:
			out = append(out, w.PlaceHolder)
			return
		case *keyButton:
			out = append(out, w.Text)
			return
		}
		switch w := o.(type) {
		case *fyne.Container:
			for _, c := range w.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(w).Objects() {
				walk(c)
			}
		}
	}
	walk(o)
	return out
}

// screenTexts is what the window shows, dialogs included.
func (h *harness) screenTexts() []string {
	out := visibleTexts(h.canvas().Content())
	for _, o := range h.canvas().Overlays().List() {
		out = append(out, visibleTexts(o)...)
	}
	return out
}

var (
	rawKey  = regexp.MustCompile(`\b(ui|app|scan|transfer|crypto|net|common)\.[a-zA-Z]+\.[a-zA-Z.-]+\b`)
	badVerb = regexp.MustCompile(`%!|%[dsvq]|\(MISSING\)|\(EXTRA`)
	// goError are fragments of Go's own error texts.
	goError = regexp.MustCompile(`(?i)no such file|connection refused|context deadline|unexpected EOF|dial tcp|: EOF|open /|exec: `)
)

// otherLanguageOnly are the catalog texts of other (their literal runs
// of at least three words) not in lang's text of the same key: seen in a
// window in lang they are untranslated text.
func otherLanguageOnly(lang, other i18n.Lang) []string {
	var out []string
	seen := map[string]bool{}
	verb := regexp.MustCompile(`%[-+#0-9.]*[a-zA-Z]`)
	for _, k := range i18n.Keys(other) {
		o, l := i18n.T(other, k), i18n.T(lang, k)
		if o == l {
			continue
		}
		for _, run := range verb.Split(o, -1) {
			run = strings.TrimSpace(run)
			if strings.Count(run, " ") >= 2 && len(run) >= 12 && !strings.Contains(l, run) && !seen[run] {
				seen[run] = true
				out = append(out, run)
			}
		}
	}
	return out
}

// assertComplete fails for a raw key, a broken format verb, Go error text
// or text of the other language among what the window shows; data are
// values shown as they are.
func (h *harness) assertComplete(t *testing.T, lang i18n.Lang, where string, data ...string) {
	t.Helper()
	other := i18n.DE
	if lang == i18n.DE {
		other = i18n.EN
	}
	foreign := otherLanguageOnly(lang, other)
	for _, s := range h.screenTexts() {
		for _, d := range data {
			if d != "" {
				s = strings.ReplaceAll(s, d, "")
			}
		}
		if strings.TrimSpace(s) == "" {
			continue
		}
		if rawKey.MatchString(s) {
			t.Errorf("%s/%s shows an untranslated key: %q", lang, where, s)
		}
		if badVerb.MatchString(s) {
			t.Errorf("%s/%s shows a broken format: %q", lang, where, s)
		}
		if goError.MatchString(s) {
			t.Errorf("%s/%s shows Go error text: %q", lang, where, s)
		}
		for _, e := range foreign {
			if strings.Contains(s, e) {
				t.Errorf("%s/%s shows %s text %q in %q", lang, where, other, e, s)
			}
		}
	}
}

// closedPortURL is a loopback address where nothing listens: connections
// are refused, as for a portal that is down.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// silentPortURL is a loopback address that accepts connections and never
// answers, as a proxy that swallows them.
func silentPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}
