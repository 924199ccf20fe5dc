package ui

import (
	"fmt"
	"image/png"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// ShotsEnv names the folder `make screenshots` writes the PNGs to.
const ShotsEnv = "BILDBOTE_SCREENSHOTS"

// screenSizes are the window sizes every screen must fit: a common
// laptop and a small netbook / remote-desktop window.
var screenSizes = []fyne.Size{fyne.NewSize(1280, 800), fyne.NewSize(1024, 600)}

// shot checks what the window shows at its size — nothing runs past the
// window's edge, nothing is drawn smaller than it needs without an
// ellipsis, the window needs no more room than it has — and writes a PNG
// to $BILDBOTE_SCREENSHOTS when set.
func (h *harness) shot(t *testing.T, name string) {
	t.Helper()
	h.drain()
	c := h.canvas()
	size := c.Size()
	if min := c.Content().MinSize(); min.Width > size.Width+0.5 || min.Height > size.Height+0.5 {
		t.Errorf("%s: the window needs %v, more than %v", name, min, size)
	}
	for _, o := range c.Overlays().List() {
		if min := o.MinSize(); min.Width > size.Width+0.5 || min.Height > size.Height+0.5 {
			t.Errorf("%s: a dialog needs %v, more than the window's %v", name, min, size)
		}
	}
	for _, p := range cutOff(c) {
		t.Errorf("%s: %s", name, p)
	}
	dir := os.Getenv(ShotsEnv)
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, c.Capture()); err != nil {
		t.Fatal(err)
	}
}

// cutOff walks the visible objects of the window and its dialogs and
// names each that runs past the window's edge, or a label, button or
// check drawn narrower than its text needs (without an ellipsis).
// Objects inside a scroll container are clipped on purpose and checked
// only against the scroll's own width.
func cutOff(c fyne.Canvas) []string {
	var out []string
	d := fyne.CurrentApp().Driver()
	// clip is the area an object must stay within: the window, or the
	// width of the vertical scroll it is in (its height scrolls).
	type clip struct {
		pos     fyne.Position
		size    fyne.Size
		scrollY bool
	}
	var walk func(o fyne.CanvasObject, in clip)
	walk = func(o fyne.CanvasObject, in clip) {
		if o == nil || !o.Visible() {
			return
		}
		pos := d.AbsolutePositionForObject(o)
		s := o.Size()
		if t, ok := o.(*canvas.Text); ok && t.Text != "" {
			// A text is drawn whole from its position, whatever its size.
			s = s.Max(t.MinSize())
		} else if s.IsZero() {
			return
		}
		name := describeObject(o)
		// What a person reads or presses must be inside (containers are
		// not drawn themselves; 2 px for rounding of padded layouts).
		right, bottom := in.pos.X+in.size.Width, in.pos.Y+in.size.Height
		readable := false
		switch o.(type) {
		case *widget.Label, *widget.Button, *widget.Check, *keyButton, *widget.Entry, *keyEntry, *widget.Select, *passwordField, *widget.RichText, *canvas.Text:
			readable = true
		}
		if readable && (pos.X+s.Width > right+2 || pos.X < in.pos.X-2 || (!in.scrollY && (pos.Y+s.Height > bottom+2 || pos.Y < in.pos.Y-2))) {
			out = append(out, fmt.Sprintf("%s at %v size %v runs past %v+%v", name, pos, s, in.pos, in.size))
		}
		switch w := o.(type) {
		case *widget.Label:
			if w.Truncation == fyne.TextTruncateOff && w.Wrapping == fyne.TextWrapOff && s.Width+1 < w.MinSize().Width {
				out = append(out, fmt.Sprintf("%s is cut: %v wide, needs %v", name, s.Width, w.MinSize().Width))
			}
			return
		case *widget.Button, *widget.Check, *keyButton:
			if s.Width+1 < o.MinSize().Width || s.Height+1 < o.MinSize().Height {
				out = append(out, fmt.Sprintf("%s is cut: %v, needs %v", name, s, o.MinSize()))
			}
			return
		case *widget.Entry, *keyEntry, *widget.Select, *passwordField:
			return
		}
		next := in
		var kids []fyne.CanvasObject
		switch w := o.(type) {
		case *fyne.Container:
			kids = w.Objects
		case *container.Scroll:
			if w.Direction != container.ScrollVerticalOnly {
				return // scrolls sideways: nothing is cut, it is out of view
			}
			next = clip{pos: pos, size: s, scrollY: true}
			kids = []fyne.CanvasObject{w.Content}
		case *widget.List, *widget.Tree:
			next = clip{pos: pos, size: s, scrollY: true}
			kids = test.WidgetRenderer(w.(fyne.Widget)).Objects()
		case fyne.Widget:
			kids = test.WidgetRenderer(w).Objects()
		}
		for _, k := range kids {
			walk(k, next)
		}
	}
	window := clip{size: c.Size()}
	walk(c.Content(), window)
	for _, o := range c.Overlays().List() {
		if pop, ok := o.(*widget.PopUp); ok {
			o = pop.Content // the pop-up itself is the dimmed window
		}
		walk(o, window)
	}
	return out
}

func describeObject(o fyne.CanvasObject) string {
	switch w := o.(type) {
	case *widget.Label:
		return fmt.Sprintf("label %q", w.Text)
	case *widget.Button:
		return fmt.Sprintf("button %q", w.Text)
	case *keyButton:
		return fmt.Sprintf("button %q", w.Text)
	case *widget.Check:
		return fmt.Sprintf("check %q", w.Text)
	}
	return fmt.Sprintf("%T", o)
}

// longPortal is a portal address longer than a 1024 px window is wide.
const longPortal = "https://bildportal.radiologie-gemeinschaftspraxis-am-stadtpark-und-klinikum-nord.example.org:8443/dlx/v1/portal"

// screenshotJobs are transfers in every state a person meets, offline
// included.
func screenshotJobs() []*app.Job {
	at := time.Date(2026, 3, 4, 10, 30, 0, 0, time.Local)
	return []*app.Job{
		{ID: "a1", Kind: app.KindSend, State: app.StateRunning, Title: "bM1X · 2 studies",
			TitleKey: "app.job.title.send", TitleArgs: []string{"bM1X", "Radiologie Am Dom", "2"}, Created: at, Updated: at,
			BytesDone: 40_000_000, BytesTotal: 160_000_000, Speed: 2_000_000, ETA: 60 * time.Second},
		{ID: "e5", Kind: app.KindSend, State: app.StateRunning, Phase: "waiting-network", RetryAt: time.Now().Add(20 * time.Second),
			Title: "bM1X · 1 study", TitleKey: "app.job.title.send", TitleArgs: []string{"bM1X", "Radiologie Am Dom", "1"},
			Created: at, Updated: at, BytesDone: 2_000_000, BytesTotal: 9_000_000},
		{ID: "b2", Kind: app.KindSave, State: app.StateFailed, Title: "XXXX-XXXX-7K2M",
			TitleKey: "app.job.title.save", TitleArgs: []string{"XXXX-XXXX-7K2M", "3"}, Created: at, Updated: at,
			BytesDone: 1_000_000, BytesTotal: 9_000_000,
			Error: &app.JobError{Kind: i18n.KindTransient, Key: "transfer.dlx.expired", HintKey: "transfer.dlx.expired.hint"}},
		{ID: "c3", Kind: app.KindSend, State: app.StateDone, Title: "bM1X · 1 study",
			TitleKey: "app.job.title.send", TitleArgs: []string{"bM1X", "Radiologie Am Dom", "1"}, Created: at, Updated: at,
			BytesDone: 5_000_000, BytesTotal: 5_000_000,
			Receipt: &app.Receipt{Upload: &app.UploadReceipt{ID: "u1", Community: "bM1X", CommunityName: "Radiologie Am Dom",
				Size: 5_000_000, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", ReceivedAt: at}}},
		{ID: "d4", Kind: app.KindImport, State: app.StatePaused, Interrupted: true, Title: "bM1X · envelopes: 3",
			TitleKey: "app.job.title.import", TitleArgs: []string{"bM1X", "3"}, Created: at, Updated: at,
			BytesDone: 3_000_000, BytesTotal: 9_000_000},
	}
}

// TestScreenshots renders every screen and its error states in both
// languages at both sizes (`make screenshots` keeps the PNGs) and fails
// when something is cut off or runs past the window's edge.
func TestScreenshots(t *testing.T) {
	keyring.MockInit() // empty: no proxy login another test saved shows up
	p := startDemoPortal(t)
	cd := demoCD(t)
	target, err := url.Parse(p.url)
	if err != nil {
		t.Fatal(err)
	}
	tlsFront := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target)) // its certificate is trusted nowhere
	defer tlsFront.Close()
	empty := t.TempDir()
	broken := filepath.Join(t.TempDir(), "cd.iso")
	if err := os.WriteFile(broken, make([]byte, 40000), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Langs {
		for _, size := range screenSizes {
			h := newFlowHarness(t, lang, p)
			h.u.app.Settings().SetTheme(NewTheme())
			h.u.win.Resize(size)
			h.u.showInboxTab(true)
			at := func(name string) string {
				return fmt.Sprintf("%s_%s_%dx%d", name, lang, int(size.Width), int(size.Height))
			}
			for i, name := range []string{"send", "redeem", "inbox", "transfers", "settings"} {
				h.u.tabs.SelectIndex(i)
				h.shot(t, at(name))
			}
			s := h.u.send
			h.u.tabs.SelectIndex(0)
			h.sendReady(p, cd.Dir, "", "")
			h.shot(t, at("send_scanned"))
			test.Tap(s.sendButton)
			h.shot(t, at("send_sender_missing"))
			s.senderName.SetText("Praxis Dr. Weber")
			s.senderMail.SetText("0201 12345")
			test.Tap(s.sendButton)
			h.shot(t, at("send_summary"))
			s.confirmation.dismiss()
			h.u.Dropped([]fyne.URI{storage.NewFileURI(empty)})
			h.waitFor("the empty folder", func() bool { return s.result.Visible() && s.stopScan == nil })
			h.shot(t, at("send_empty_folder"))
			h.u.Dropped([]fyne.URI{storage.NewFileURI(broken)})
			h.waitShown("the broken archive", func() bool { return s.stopScan == nil && h.u.lastErr != nil })
			h.u.lastErr = nil
			h.shot(t, at("send_broken_archive"))
			h.press(fyne.KeyEscape)
			for _, j := range screenshotJobs() {
				h.u.transfers.show(j)
			}
			h.u.tabs.SelectIndex(3)
			h.shot(t, at("transfers_states"))
			h.u.transfers.rows["a1"].askCancel()
			h.shot(t, at("transfers_cancel_question"))
			h.press(fyne.KeyEscape)
			h.u.passphraseDialog(true, func(string) {})
			h.shot(t, at("settings_new_key_passphrase"))
			h.press(fyne.KeyEscape)

			// An inbox code the portal does not know.
			h.u.selectTab(0)
			s.inboxCode.SetText("zZ9q")
			s.lookupInbox()
			h.waitShown("the unknown inbox", func() bool { return h.u.lastErr != nil })
			h.u.lastErr = nil
			h.mustShow(i18n.T(lang, "ui.send.unknownInbox", "zZ9q"), i18n.T(lang, "transfer.inbox.unknown_community.hint"))
			h.shot(t, at("send_unknown_inbox"))
			h.press(fyne.KeyEscape)
			// The clinic inbox with a wrong API key.
			h.u.selectTab(2)
			h.u.inbox.code.SetText(p.inbox)
			h.u.inbox.apiKey.SetText("wrong-key")
			h.u.inbox.load()
			h.waitShown("the refused key", func() bool { return h.u.lastErr != nil })
			h.u.lastErr = nil
			h.shot(t, at("inbox_wrong_key"))
			h.press(fyne.KeyEscape)

			// The language changed while a code is being redeemed: asked
			// first, in both languages.
			issued, _, _, _ := issueCode(t, p)
			h.u.selectTab(1)
			h.canvas().Focus(h.u.redeem.code.Field(0))
			h.askWith(issued.Code)
			h.waitShown("the question", func() bool { return h.u.redeem.questionsBox.Visible() })
			h.shot(t, at("redeem_question"))
			h.u.selectTab(len(h.u.tabs.Items) - 1) // Settings
			other := map[i18n.Lang]int{i18n.DE: 2, i18n.EN: 1}[lang]
			h.u.settings.language.SetSelectedIndex(other)
			test.Tap(h.u.settings.save)
			h.shot(t, at("settings_language_question"))
			h.press(fyne.KeyEscape)

			// Redeem into the PACS with the clinic's patient ID: an
			// invalid one refused under the field, a valid one ready,
			// and a code of two patients greying the field out.
			hp := newFlowHarness(t, lang, p)
			hp.u.app.Settings().SetTheme(NewTheme())
			hp.u.win.Resize(size)
			if err := hp.core.UpdateSettings(func(st *app.Settings) {
				st.ClinicMode, st.PACSStowURL = true, "dicom://PACS@pacs.local:104?calling=BILDBOTE"
			}); err != nil {
				t.Fatal(err)
			}
			rp := hp.u.redeem
			issued, staged, pat, _ := issueCode(t, p)
			hp.u.selectTab(1)
			hp.askWith(issued.Code)
			hp.answerWith(birthDate(t, lang, pat))
			hp.itemsShown(lang, staged)
			rp.pid.SetText(strings.Repeat("K", 65))
			hp.mustShow(i18n.T(lang, "app.patient-id-too-long", 65, 64))
			rp.content.(*container.Scroll).ScrollToBottom()
			hp.shot(t, at("redeem_patient_id_invalid"))
			rp.pid.SetText("KH-0815")
			hp.shot(t, at("redeem_patient_id_ready"))
			test.Tap(rp.another)
			issued, staged, cd2 := issueCodeTwoPatients(t, p)
			hp.askWith(issued.Code)
			hp.answerWith(birthDate(t, lang, cd2.Patients[0]))
			hp.itemsShown(lang, staged)
			hp.mustShow(i18n.T(lang, "ui.redeem.patientIDSeveral", 2))
			rp.content.(*container.Scroll).ScrollToBottom()
			hp.shot(t, at("redeem_patient_id_two_patients"))

			// Settings with a long portal address and folder given at
			// the start: their notes wrap inside the window.
			hl := newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), PortalURL: longPortal, LibraryDir: "/library/" + strings.Repeat("Unterordner/", 12)})
			hl.u.app.Settings().SetTheme(NewTheme())
			hl.u.win.Resize(size)
			hl.u.selectTab(3)
			hl.mustShow(i18n.T(lang, "ui.settings.overridden.portal_url", longPortal))
			hl.shot(t, at("settings_long_portal"))

			// Settings' network part: a proxy typed wrong, the check's
			// outcome direct (passed) and through a closed proxy port
			// (failed, what to do), a saved proxy in use, and a proxy
			// the policy fixes.
			hn := newFlowHarness(t, lang, p)
			hn.u.app.Settings().SetTheme(NewTheme())
			hn.u.win.Resize(size)
			hn.u.selectTab(len(hn.u.tabs.Items) - 1)
			ns := hn.u.settings
			ns.network.proxy.SetText("http://anna:geheim@proxy.klinik.example:3128")
			hn.mustShow(i18n.T(lang, "ui.settings.proxyBad", i18n.T(lang, "transfer.net.proxy.addr.credentials")))
			hn.shot(t, at("settings_proxy_invalid"))
			ns.network.proxy.SetText("")
			hn.runCheck()
			hn.mustShow(i18n.T(lang, "ui.doctor.passed"))
			hn.shot(t, at("settings_check_ok"))
			hn.press(fyne.KeyEscape)
			ns.network.proxy.SetText("http://" + closedAddr(t))
			test.Tap(ns.save)
			hn.shot(t, at("settings_proxy_in_use"))
			hn.runCheck()
			hn.mustShow(i18n.T(lang, "ui.doctor.failed", i18n.T(lang, "ui.doctor.step.proxy")))
			hn.shot(t, at("settings_check_failed"))
			hn.press(fyne.KeyEscape)
			// A PAC file that cannot be read: its problem under "in use".
			ns.network.proxy.SetText("")
			ns.network.pac.SetText("file://" + filepath.Join(t.TempDir(), "wpad.dat"))
			test.Tap(ns.save)
			hn.drain()
			if !ns.network.problem.Visible() {
				t.Errorf("%s: no problem shown for a missing PAC file", at("settings_pac_problem"))
			}
			hn.shot(t, at("settings_pac_problem"))
			// The portal behind TLS with a certificate this computer does
			// not trust (as behind an inspecting proxy): the long account
			// of the certificate wraps in the check's dialog.
			ht := newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), PortalURL: tlsFront.URL, LibraryDir: t.TempDir()})
			ht.u.app.Settings().SetTheme(NewTheme())
			ht.u.win.Resize(size)
			ht.u.selectTab(len(ht.u.tabs.Items) - 1)
			ht.runCheck()
			ht.mustShow(i18n.T(lang, "ui.doctor.failed", i18n.T(lang, "ui.doctor.step.tls")))
			ht.u.settings.doctor.scroll.ScrollToBottom()
			ht.shot(t, at("settings_check_tls"))
			ht.press(fyne.KeyEscape)
			policy := filepath.Join(t.TempDir(), "policy.toml")
			if err := os.WriteFile(policy, []byte("proxy = \"http://proxy.klinik.example:3128\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			hk := newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), PolicyPath: policy, PortalURL: p.url, LibraryDir: t.TempDir()})
			hk.u.app.Settings().SetTheme(NewTheme())
			hk.u.win.Resize(size)
			hk.u.selectTab(len(hk.u.tabs.Items) - 1)
			hk.shot(t, at("settings_proxy_locked"))
			if strings.Contains(t.Name(), "/") {
				return
			}
		}
	}
}

// The checker itself: a label pushed past the window's edge, and one
// squeezed narrower than its text without an ellipsis, are both found;
// the same label with an ellipsis is fine.
func TestCutOffFindsProblems(t *testing.T) {
	test.NewTempApp(t)
	long := widget.NewLabel("Eine recht lange Zeile, die nicht in das kleine Fenster passt")
	w := test.NewWindow(container.NewWithoutLayout(long))
	defer w.Close()
	w.Resize(fyne.NewSize(200, 100))
	long.Move(fyne.NewPos(10, 10))
	long.Resize(long.MinSize())
	if got := cutOff(w.Canvas()); len(got) == 0 {
		t.Error("a label past the window's edge is not found")
	}
	long.Resize(fyne.NewSize(150, long.MinSize().Height))
	if got := cutOff(w.Canvas()); len(got) != 1 || !strings.Contains(got[0], "is cut") {
		t.Errorf("a squeezed label: %v", got)
	}
	long.Truncation = fyne.TextTruncateEllipsis
	long.Refresh()
	long.Resize(fyne.NewSize(150, long.MinSize().Height))
	if got := cutOff(w.Canvas()); len(got) != 0 {
		t.Errorf("a label with an ellipsis: %v", got)
	}
}
