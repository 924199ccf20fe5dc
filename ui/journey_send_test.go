package ui

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/wire"
)

// sendReady drops cd, looks the demo inbox up and fills in the sender.
func (h *harness) sendReady(p *demoPortal, cd string, sender, contact string) {
	h.t.Helper()
	s := h.u.send
	h.u.Dropped([]fyne.URI{storage.NewFileURI(cd)})
	h.waitFor("the scanned tree", func() bool { return s.result.Visible() })
	s.inboxCode.SetText(p.inbox)
	h.canvas().Focus(s.inboxCode)
	h.press(fyne.KeyReturn)
	h.waitFor("the clinic", func() bool { return s.community != nil })
	s.senderName.SetText(sender)
	s.senderMail.SetText(contact)
}

func (h *harness) portalItems(p *demoPortal) int {
	h.t.Helper()
	items, err := h.core.InboxList(context.Background(), "", p.inbox, p.apiKey)
	if err != nil {
		h.t.Fatal(err)
	}
	return len(items)
}

// Send shows what leaves the PC before it does: the clinic and its key,
// every patient with birth date, studies, images and size; Back sends
// nothing, Send sends.
func TestJourneySendConfirmSummary(t *testing.T) {
	cd := demoCD(t)
	for _, lang := range i18n.Langs {
		p := startDemoPortal(t)
		h := newFlowHarness(t, lang, p)
		s := h.u.send
		h.sendReady(p, cd.Dir, "Praxis Dr. Weber", "0201 12345")
		s.referrer.SetText("Dr. Özdemir")
		test.Tap(s.sendButton)
		if s.confirmation == nil {
			t.Fatalf("%s: Send sent without a summary", lang)
		}
		files := 0
		for _, pa := range cd.Patients {
			for _, st := range pa.Studies {
				files += st.Files
			}
		}
		summary := strings.Join(h.topDialogTexts(), "\n")
		for _, want := range []string{
			p.name, s.community.Fingerprint, i18n.T(lang, "ui.send.confirmTitle"),
			dicomscan.FormatName(cd.Patients[0].Name), dicomscan.FormatDate(lang, cd.Patients[0].BirthDate),
			dicomscan.FormatName(cd.Patients[1].Name), dicomscan.FormatDate(lang, cd.Patients[1].BirthDate),
			i18n.T(lang, "ui.send.confirmImages", files), h.u.bytes(cd.Bytes),
			"Praxis Dr. Weber", "0201 12345", "Dr. Özdemir",
			i18n.T(lang, "ui.send.send"), i18n.T(lang, "ui.send.back"),
		} {
			if !strings.Contains(summary, want) {
				t.Errorf("%s: the summary lacks %q:\n%s", lang, want, summary)
			}
		}
		h.capture("journey_send_summary_" + string(lang))
		// Back: nothing is sent.
		test.Tap(s.confirmation.back)
		h.drain()
		if s.confirmation != nil || len(h.canvas().Overlays().List()) != 0 {
			t.Fatalf("%s: Back does not close the summary", lang)
		}
		time.Sleep(200 * time.Millisecond)
		if n := h.portalItems(p); n != 0 {
			t.Fatalf("%s: %d envelope(s) on the portal after Back", lang, n)
		}
		// Send: one envelope, the receipt under Transfers.
		test.Tap(s.sendButton)
		test.Tap(s.confirmation.ok)
		h.waitFor("the send to finish", func() bool { return strings.HasPrefix(s.status.Text, i18n.T(lang, "ui.send.done", "")) })
		if n := h.portalItems(p); n != 1 {
			t.Errorf("%s: %d envelope(s) on the portal after Send", lang, n)
		}
	}
}

// Sender and contact are required by default (marked, and named when
// missing, with the focus on the first); the policy can require the
// referrer too.
func TestJourneySendRequiredSenderFields(t *testing.T) {
	p := startDemoPortal(t)
	cd := demoCD(t)
	for _, lang := range i18n.Langs {
		h := newFlowHarness(t, lang, p)
		s := h.u.send
		h.sendReady(p, cd.Dir, "", "")
		h.mustShow(i18n.T(lang, "ui.send.senderName")+" *", i18n.T(lang, "ui.send.senderContact")+" *", i18n.T(lang, "ui.send.requiredNote"))
		test.Tap(s.sendButton)
		if s.confirmation != nil {
			t.Fatalf("%s: the summary opened with no sender", lang)
		}
		h.mustShow(i18n.T(lang, "ui.send.fillIn", i18n.T(lang, "ui.send.senderName")+", "+i18n.T(lang, "ui.send.senderContact")))
		if h.focused() != s.senderName {
			t.Errorf("%s: the focus is not on the first missing field", lang)
		}
		h.typeKeys("Praxis Dr. Weber")
		test.Tap(s.sendButton)
		h.mustShow(i18n.T(lang, "ui.send.fillIn", i18n.T(lang, "ui.send.senderContact")))
		if s.confirmation != nil || h.focused() != s.senderMail {
			t.Errorf("%s: the contact is not asked for", lang)
		}
		h.typeKeys("0201 12345")
		test.Tap(s.sendButton)
		if s.confirmation == nil {
			t.Fatalf("%s: no summary with name and contact", lang)
		}
		s.confirmation.dismiss()
		h.mustNotShow(i18n.T(lang, "ui.send.fillIn", ""))
	}

	// A policy that asks for the referrer, not for the contact.
	policy := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policy, []byte("required_sender_fields = [\"sender_name\", \"referrer\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, i18n.DE, app.Config{StateDir: t.TempDir(), PortalURL: p.url, LibraryDir: t.TempDir(), PolicyPath: policy})
	s := h.u.send
	h.sendReady(p, cd.Dir, "Praxis", "")
	h.mustShow(i18n.T(i18n.DE, "ui.send.referrer") + " *")
	h.mustNotShow(i18n.T(i18n.DE, "ui.send.senderContact") + " *")
	test.Tap(s.sendButton)
	h.mustShow(i18n.T(i18n.DE, "ui.send.fillIn", i18n.T(i18n.DE, "ui.send.referrer")))
	if s.confirmation != nil {
		t.Error("the summary opened without the referrer the policy requires")
	}
}

// restartablePortal is the demo portal behind a listener the test can
// stop and start again on the same port (an outage of the portal).
type restartablePortal struct {
	*demoPortal
	addr    string
	handler http.Handler
	mu      sync.Mutex
	srv     *http.Server
}

func (r *restartablePortal) start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r.handler}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

func (r *restartablePortal) stop() {
	r.mu.Lock()
	srv := r.srv
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// startRestartablePortal serves the demo portal's data on a fixed
// loopback port; the first upload request stops the portal (it goes down
// just as the upload begins).
func startRestartablePortal(t *testing.T) *restartablePortal {
	t.Helper()
	return startProxyPortal(t, startDemoPortal(t), true, false)
}

// startProxyPortal puts base behind a listener of its own: cutUpload
// stops it at the first upload, slowInbox sends envelopes downloaded from
// an inbox slowly (about 40 kB/s), as over a thin line.
func startProxyPortal(t *testing.T, base *demoPortal, cutUpload, slowInbox bool) *restartablePortal {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// The demo portal's own handler, reached through our listener.
	target := strings.TrimPrefix(base.url, "http://")
	rp := &restartablePortal{demoPortal: base, addr: addr}
	var downOnce atomic.Bool
	proxy := &http.Transport{}
	rp.handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		slow := slowInbox && req.Method == http.MethodGet && strings.Count(strings.TrimPrefix(req.URL.Path, "/api/v1/inbox/"), "/") == 1 &&
			strings.HasPrefix(req.URL.Path, "/api/v1/inbox/")
		if cutUpload && req.Method == http.MethodPost && strings.HasPrefix(req.URL.Path, wire.UploadsPath) && downOnce.CompareAndSwap(false, true) {
			// The portal goes down: this connection is cut, the next
			// ones are refused.
			rp.mu.Lock()
			srv := rp.srv
			rp.mu.Unlock()
			srv.SetKeepAlivesEnabled(false)
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
				}
			}
			go rp.stop()
			return
		}
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host, out.RequestURI = "http", target, ""
		res, err := proxy.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		buf := make([]byte, 32<<10)
		if slow {
			buf = make([]byte, 2<<10)
		}
		for {
			n, err := res.Body.Read(buf)
			if n > 0 {
				w.Write(buf[:n])
				if slow {
					w.(http.Flusher).Flush()
					time.Sleep(50 * time.Millisecond)
				}
			}
			if err != nil {
				return
			}
		}
	})
	rp.url = "http://" + addr
	rp.start(t)
	t.Cleanup(rp.stop)
	return rp
}

// The portal goes down as the upload starts: the transfer says so, with
// the time of the next try and "Try now", no frozen speed or time left;
// once the portal is back, "Try now" finishes the send.
func TestJourneySendPortalDown(t *testing.T) {
	rp := startRestartablePortal(t)
	cd := demoCD(t)
	lang := i18n.DE
	h := newHarnessWith(t, lang, app.Config{StateDir: t.TempDir(), PortalURL: rp.url, LibraryDir: t.TempDir(), RetryInitial: 30 * time.Second})
	s := h.u.send
	h.sendReady(rp.demoPortal, cd.Dir, "Praxis Dr. Weber", "0201 12345")
	test.Tap(s.sendButton)
	test.Tap(s.confirmation.ok)
	h.waitFor("the job", func() bool { return s.sendJob != "" })
	h.u.selectTab(2)
	row := h.u.transfers.rows[s.sendJob]
	h.waitShown("the offline state", func() bool { return row.offline.Visible() && strings.Contains(row.offline.Text, "s") })
	t.Logf("offline: %q", row.offline.Text)
	h.capture("journey_send_offline_de")
	offlinePrefix, _, _ := strings.Cut(i18n.T(lang, "ui.transfers.offline", ""), "%")
	h.mustShow(offlinePrefix, i18n.T(lang, "ui.transfers.retryNow"))
	if !strings.Contains(row.offline.Text, " s") && !strings.Contains(row.offline.Text, "min") {
		t.Errorf("the offline line does not say when the next try is: %q", row.offline.Text)
	}
	h.mustNotShow("/s ·", i18n.T(lang, "ui.transfers.eta", ""))
	if row.pause.Visible() == false || !row.retry.Visible() {
		t.Error("no Pause and Try now while offline")
	}
	h.checkLanguage(lang, "transfers offline", rp.url, cd.Dir)

	// The portal comes back on the same port; Try now finishes the send.
	rp.start(t)
	test.Tap(row.retry)
	h.waitShown("the send to finish", func() bool { return strings.HasPrefix(s.status.Text, i18n.T(lang, "ui.send.done", "")) })
	h.mustNotShow(offlinePrefix)
	if row.retry.Visible() {
		t.Error("Try now still shown after the send finished")
	}
	if n := h.portalItems(rp.demoPortal); n != 1 {
		t.Errorf("%d envelope(s) on the portal after the outage", n)
	}
}

// A second CD starts with empty patient fields, no message and no status
// of the first send; sender and contact stay.
func TestJourneySendSecondCDClearsPatientFields(t *testing.T) {
	p := startDemoPortal(t)
	cd1 := demoCD(t)
	cd2, err := gencd.Generate(filepath.Join(t.TempDir(), "cd2"), gencd.Options{Files: gencd.MinFiles + 4, PixelSize: 16, Seed: 99})
	if err != nil {
		t.Fatal(err)
	}
	h := newFlowHarness(t, i18n.DE, p)
	s := h.u.send
	h.sendReady(p, cd1.Dir, "Praxis Dr. Weber", "0201 12345")
	s.message.SetText("Bitte Vergleich mit Voraufnahme, Herr Müller")
	test.Tap(s.sendButton)
	test.Tap(s.confirmation.ok)
	h.waitFor("the send to finish", func() bool { return strings.HasPrefix(s.status.Text, i18n.T(i18n.DE, "ui.send.done", "")) })

	h.u.selectTab(3)
	h.u.Dropped([]fyne.URI{storage.NewFileURI(cd2.Dir)}) // from another tab
	if h.u.tabs.SelectedIndex() != 0 {
		t.Error("a CD dropped on Transfers does not open Send")
	}
	h.waitFor("the second CD", func() bool { return s.result.Visible() && s.stopScan == nil })
	h.mustNotShow("Bitte Vergleich mit Voraufnahme", i18n.T(i18n.DE, "ui.send.done", ""))
	if s.message.Text != "" || s.status.Text != "" {
		t.Errorf("left over from the first CD: message %q, status %q", s.message.Text, s.status.Text)
	}
	if got, want := s.patientName.Text, dicomscan.FormatName(s.index.Patients[0].Name); got != want {
		t.Errorf("patient = %q, want the second CD's %q", got, want)
	}
	if s.senderName.Text != "Praxis Dr. Weber" || s.senderMail.Text != "0201 12345" {
		t.Errorf("the sender was cleared too: %q, %q", s.senderName.Text, s.senderMail.Text)
	}
	h.mustShow(i18n.T(i18n.DE, "ui.send.source", cd2.Dir))
}

// Only the keyboard: Alt+1 to Send, Tab through the form (Tab in the
// message moves on), Space unticks a study in the tree, Ctrl+Enter
// sends, Enter confirms the summary.
func TestJourneyKeyboardOnlySend(t *testing.T) {
	p := startDemoPortal(t)
	cd := demoCD(t)
	h := newFlowHarness(t, i18n.EN, p)
	s := h.u.send
	h.u.selectTab(2)
	h.u.Dropped([]fyne.URI{storage.NewFileURI(cd.Dir)})
	h.waitFor("the scanned tree", func() bool { return s.result.Visible() })

	// Switching tabs by keys, also from inside a field.
	h.canvas().Focus(s.senderName)
	h.shortcut(fyne.KeyTab, fyne.KeyModifierControl)
	if h.u.tabs.SelectedIndex() != 1 {
		t.Errorf("Ctrl+Tab: tab %d", h.u.tabs.SelectedIndex())
	}
	h.shortcut(fyne.KeyPageDown, fyne.KeyModifierControl)
	if h.u.tabs.SelectedIndex() != 2 {
		t.Errorf("Ctrl+PageDown: tab %d", h.u.tabs.SelectedIndex())
	}
	h.shortcut(fyne.Key1, fyne.KeyModifierAlt)
	if h.u.tabs.SelectedIndex() != 0 || h.focused() == nil {
		t.Fatalf("Alt+1: tab %d, focus %v", h.u.tabs.SelectedIndex(), h.focused())
	}

	// The tree: move down to the second patient's study, untick it with Space.
	h.canvas().Focus(s.tree.tree)
	all := len(s.tree.SelectedStudies())
	// Rows: patient 0, its studies and series…; walk to patient 1's row.
	rows := 1
	for _, st := range s.index.Patients[0].Studies {
		rows += 1 + len(st.Series)
	}
	for i := 0; i < rows; i++ {
		h.press(fyne.KeyDown)
	}
	h.press(fyne.KeySpace)
	if got := len(s.tree.SelectedStudies()); got != all-len(s.index.Patients[1].Studies) {
		t.Fatalf("Space on the second patient: %d of %d studies selected", got, all)
	}

	// Tab through the form, typing.
	h.canvas().Focus(s.inboxCode)
	h.typeKeys(p.inbox)
	h.press(fyne.KeyReturn)
	h.waitFor("the clinic", func() bool { return s.community != nil })
	h.canvas().Focus(s.senderName)
	h.typeKeys("Praxis Dr. Weber")
	h.tab()
	if h.focused() != s.senderMail {
		t.Fatalf("Tab from the sender goes to %T", h.focused())
	}
	h.typeKeys("0201 12345")
	h.canvas().Focus(s.message)
	h.typeKeys("Bitte mit Vorbefund vergleichen")
	h.tab()
	if strings.Contains(s.message.Text, "\t") || h.focused() == s.message {
		t.Errorf("Tab in the message types a tab or stays: %q", s.message.Text)
	}
	h.canvas().Focus(s.message)
	h.shortcut(fyne.KeyReturn, fyne.KeyModifierControl)
	if s.confirmation == nil {
		t.Fatal("Ctrl+Enter in the message does not send")
	}
	if h.focused() != s.confirmation.ok {
		t.Error("the summary's Send has not the focus")
	}
	h.press(fyne.KeyReturn)
	h.waitFor("the send to finish", func() bool { return strings.HasPrefix(s.status.Text, i18n.T(i18n.EN, "ui.send.done", "")) })
	if n := h.portalItems(p); n != 1 {
		t.Errorf("%d envelopes on the portal", n)
	}
}

// Every dialog closes with Enter (its main button) and Escape (back):
// errors, the send summary, the cancel question, the new key's passphrase.
func TestJourneyDialogsCloseWithEnterAndEscape(t *testing.T) {
	h := newHarness(t, i18n.DE)
	overlays := func() int { return len(h.canvas().Overlays().List()) }

	for _, k := range []fyne.KeyName{fyne.KeyReturn, fyne.KeyEscape} {
		h.u.showError(i18n.NewError(i18n.KindInput, "scan.error.not-found", "/media/cdrom").WithHint("scan.hint.not-found"))
		h.u.lastErr = nil
		h.mustShow("/media/cdrom", i18n.T(i18n.DE, "scan.hint.not-found"))
		h.press(k)
		if overlays() != 0 {
			t.Errorf("%s does not close an error", k)
		}
		// Also when the focus went elsewhere: the window passes the key on.
		h.u.showError(i18n.NewError(i18n.KindInput, "scan.error.not-found", "/x"))
		h.u.lastErr = nil
		h.canvas().Unfocus()
		h.press(k)
		if overlays() != 0 {
			t.Errorf("%s without focus does not close an error", k)
		}
	}

	// The cancel question: Escape keeps the transfer, Enter cancels.
	canceled := false
	h.u.confirm("t", "q", "yes", "no", func() { canceled = true })
	h.press(fyne.KeyEscape)
	if canceled || overlays() != 0 {
		t.Errorf("Escape: cancelled %v, open %d", canceled, overlays())
	}
	h.u.confirm("t", "q", "yes", "no", func() { canceled = true })
	h.press(fyne.KeyReturn)
	if !canceled || overlays() != 0 {
		t.Errorf("Enter: cancelled %v, open %d", canceled, overlays())
	}

	// A new key's passphrase: asked twice with a warning; Enter moves on,
	// a mismatch is said and kept open, Escape cancels.
	var got []string
	h.u.passphraseDialog(true, func(p string) { got = append(got, p) })
	h.mustShow(i18n.T(i18n.DE, "ui.passphrase.warning"), i18n.T(i18n.DE, "ui.passphrase.repeat"))
	h.typeKeys("geheim1")
	h.press(fyne.KeyReturn)
	h.typeKeys("geheim2")
	h.press(fyne.KeyReturn)
	h.mustShow(i18n.T(i18n.DE, "ui.passphrase.mismatch"))
	if len(got) != 0 || overlays() != 1 {
		t.Fatalf("a mismatch was accepted: %v", got)
	}
	h.canvas().Focus(h.canvas().Focused()) // still in the dialog
	h.press(fyne.KeyReturn)                // on to the repeat field
	h.typeKeys("geheim1")
	h.press(fyne.KeyReturn)
	if len(got) != 1 || got[0] != "geheim1" || overlays() != 0 {
		t.Fatalf("after the matching repeat: %v, open %d", got, overlays())
	}
	h.u.passphraseDialog(false, func(p string) { got = append(got, p) })
	h.mustNotShow(i18n.T(i18n.DE, "ui.passphrase.repeat"))
	h.press(fyne.KeyEscape)
	if len(got) != 2 || got[1] != "" || overlays() != 0 {
		t.Errorf("Escape in the passphrase: %v, open %d", got, overlays())
	}
}

// An empty folder, and one with only a picture: said large, with where
// images usually are on a patient CD, and every file read is listed.
func TestJourneyEmptyFolder(t *testing.T) {
	for _, lang := range i18n.Langs {
		h := newHarness(t, lang)
		s := h.u.send
		empty := t.TempDir()
		h.u.Dropped([]fyne.URI{storage.NewFileURI(empty)})
		h.waitFor("the result", func() bool { return s.result.Visible() && s.stopScan == nil })
		h.mustShow(i18n.T(lang, "ui.send.emptyTitle", empty), i18n.T(lang, "ui.send.emptyHint"))
		if s.tree.tree.Visible() || !s.sendButton.Disabled() {
			t.Errorf("%s: empty folder shows the tree or can be sent", lang)
		}
		h.checkLanguage(lang, "empty folder", empty)

		pics := t.TempDir()
		if err := os.WriteFile(filepath.Join(pics, "foto.jpg"), []byte("\xFF\xD8\xFF\xE0 not much of a picture"), 0o644); err != nil {
			t.Fatal(err)
		}
		h.u.Dropped([]fyne.URI{storage.NewFileURI(pics)})
		h.waitFor("the result", func() bool {
			return s.result.Visible() && s.stopScan == nil && strings.Contains(s.emptyTitle.Text, pics)
		})
		h.mustShow(i18n.T(lang, "ui.send.notDICOM.one", 1), "foto.jpg")
		h.mustNotShow("1 Dateien", "1 files")
		h.capture("journey_empty_folder_" + string(lang))
		h.checkLanguage(lang, "folder with a picture", pics)
	}
}

// A damaged ZIP and a file named .iso that is none: "damaged or not a
// ZIP / ISO", with what to do, never "not DICOM" or Go's error text.
func TestJourneyBrokenArchive(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{"cd.zip": []byte("PK\x03\x04 cut short"), "cd.iso": make([]byte, 50000)}
	for _, lang := range i18n.Langs {
		for name, data := range files {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, lang)
			s := h.u.send
			h.u.Dropped([]fyne.URI{storage.NewFileURI(p)})
			h.waitShown("the error", func() bool { return s.stopScan == nil && h.u.lastErr != nil })
			kind := "zip"
			if strings.HasSuffix(name, ".iso") {
				kind = "iso"
			}
			h.mustShow(i18n.T(lang, "scan.error.bad-"+kind, p), i18n.T(lang, "scan.hint.bad-archive"))
			h.mustNotShow(i18n.T(lang, "scan.skip.not-dicom"))
			h.checkLanguage(lang, "broken "+name, p)
			h.press(fyne.KeyEscape)
		}
	}
}

// A broken archive dropped over a medium already shown leaves that
// medium on screen as it was: its source line (it named the broken file
// over the old tree) and its patient fields.
func TestJourneyBrokenArchiveAfterCD(t *testing.T) {
	cd := demoCD(t)
	broken := filepath.Join(t.TempDir(), "cd.iso")
	if err := os.WriteFile(broken, make([]byte, 50000), 0o644); err != nil {
		t.Fatal(err)
	}
	lang := i18n.DE
	h := newHarness(t, lang)
	s := h.u.send
	h.u.Dropped([]fyne.URI{storage.NewFileURI(cd.Dir)})
	h.waitFor("the scan", func() bool { return s.result.Visible() && s.stopScan == nil })
	name, source := s.patientName.Text, s.sourcePath.Text
	if name == "" || !strings.Contains(source, cd.Dir) {
		t.Fatalf("after the scan: patient %q, source %q", name, source)
	}
	h.u.Dropped([]fyne.URI{storage.NewFileURI(broken)})
	h.waitShown("the error", func() bool { return s.stopScan == nil && h.u.lastErr != nil })
	h.press(fyne.KeyEscape)
	if s.sourcePath.Text != source || s.patientName.Text != name || !s.result.Visible() {
		t.Errorf("after the broken archive: source %q (want %q), patient %q (want %q)", s.sourcePath.Text, source, s.patientName.Text, name)
	}
	h.mustNotShow(i18n.T(lang, "ui.send.source", broken))
	if len(s.tree.SelectedStudies()) == 0 {
		t.Error("the CD's studies are no longer selected")
	}
}

// Send, inbox and transfers in each state a person meets are in the
// screen's language: no raw key, no Go error text, no other language.
func TestJourneyGermanAndEnglishCompleteSendInboxTransfers(t *testing.T) {
	cd := demoCD(t)
	for _, lang := range i18n.Langs {
		p := startDemoPortal(t)
		h := newFlowHarness(t, lang, p)
		h.u.showInboxTab(true)
		s := h.u.send
		data := []string{p.url, p.name, p.inbox, cd.Dir}
		for _, pa := range cd.Patients {
			data = append(data, dicomscan.FormatName(pa.Name), pa.ID)
			for _, st := range pa.Studies {
				data = append(data, st.Description)
				for _, se := range st.Series {
					data = append(data, se.Description)
				}
			}
		}
		for i := range h.u.tabs.Items {
			h.u.selectTab(i)
			h.checkLanguage(lang, "tab "+h.u.tabs.Items[i].Text, data...)
		}
		h.u.selectTab(0)
		h.sendReady(p, cd.Dir, "", "")
		h.checkLanguage(lang, "send, scanned", append(data, s.community.Fingerprint)...)
		test.Tap(s.sendButton)
		h.checkLanguage(lang, "send, sender missing", data...)
		s.senderName.SetText("Praxis")
		s.senderMail.SetText("0201")
		test.Tap(s.sendButton)
		h.checkLanguage(lang, "send, summary", append(data, s.community.Fingerprint, "Praxis", "0201")...)
		test.Tap(s.confirmation.ok)
		h.waitFor("the send to finish", func() bool { return strings.HasPrefix(s.status.Text, i18n.T(lang, "ui.send.done", "")) })
		h.checkLanguage(lang, "send, sent", data...)
		h.u.selectTab(3)
		job, _ := h.core.Job(s.sendJob)
		h.checkLanguage(lang, "transfers, done", append(data, job.Receipt.Upload.ID, job.Receipt.Upload.SHA256[:16])...)
		h.u.selectTab(2)
		h.u.inbox.code.SetText(p.inbox)
		h.u.inbox.apiKey.SetText(p.apiKey)
		test.Tap(h.u.inbox.refresh)
		h.waitFor("the inbox", func() bool { return h.u.inbox.listed })
		h.checkLanguage(lang, "inbox, listed", data...)
	}
}
