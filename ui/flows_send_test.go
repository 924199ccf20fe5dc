package ui

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/portal"
)

// Send: drop the CD, see the tree, look the inbox up, see the clinic and
// its fingerprint, send, see the receipt; the portal holds the envelope.
func TestFlowSend(t *testing.T) {
	p := startDemoPortal(t)
	cd := demoCD(t)
	h := newFlowHarness(t, i18n.EN, p)
	s := h.u.send

	h.u.Dropped([]fyne.URI{storage.NewFileURI(cd.Dir)})
	h.waitFor("the scanned tree", func() bool { return s.result.Visible() })
	h.capture("send_scanned_en")
	if !h.shows(h.u.summaryText(len(cd.Patients), cd.Files, cd.Bytes)) {
		t.Errorf("summary not shown; screen:\n%s", strings.Join(h.texts(), "\n"))
	}
	if len(cd.Patients) > 1 && !s.warning.Visible() {
		t.Error("no warning for a medium with several patients")
	}
	if got := s.patientName.Text; got == "" {
		t.Error("patient name not pre-filled from DICOM")
	}
	// Send only the first patient's studies.
	s.tree.setChecked("1", false)
	want := len(cd.Patients[0].Studies)
	if got := len(s.tree.SelectedStudies()); got != want {
		t.Fatalf("selected studies = %d, want %d", got, want)
	}

	test.Type(s.inboxCode, p.inbox)
	s.inboxCode.OnSubmitted(s.inboxCode.Text)
	h.waitFor("the clinic's name", func() bool { return h.shows(p.name) })
	h.capture("send_recipient_en")
	if !s.fingerprint.Visible() || !strings.Contains(s.fingerprint.Text, s.community.Fingerprint) || s.community.Fingerprint == "" {
		t.Errorf("fingerprint not shown: %q", s.fingerprint.Text)
	}
	test.Type(s.senderName, "Praxis Dr. Weber")
	test.Type(s.senderMail, "0201 12345")
	if s.sendButton.Disabled() {
		t.Fatal("Send stays disabled with a medium and an inbox")
	}
	test.Tap(s.sendButton)
	if s.confirmation == nil {
		t.Fatal("no summary before sending")
	}
	test.Tap(s.confirmation.ok)
	h.waitFor("the send to finish", func() bool { return strings.HasPrefix(s.status.Text, i18n.T(i18n.EN, "ui.send.done", "")) })
	h.u.tabs.SelectIndex(2)
	if !h.shows(p.name) {
		t.Errorf("receipt does not name the clinic; screen:\n%s", strings.Join(h.texts(), "\n"))
	}
	items, err := h.core.InboxList(context.Background(), "", p.inbox, p.apiKey)
	if err != nil || len(items) != 1 {
		t.Fatalf("portal inbox after send: %v, %v", items, err)
	}
	if got := h.core.Settings().SenderName; got != "Praxis Dr. Weber" {
		t.Errorf("sender not remembered: %q", got)
	}
}

// Redeem: type the code into the three fields, answer the date of birth,
// see the items and the expiry, save all, get the folder.
func TestFlowRedeem(t *testing.T) {
	p := startDemoPortal(t)
	issued, staged, pat, expires := issueCode(t, p)
	h := newFlowHarness(t, i18n.DE, p)
	r := h.u.redeem
	h.u.tabs.SelectIndex(1)
	h.canvas().Focus(r.code.fields[0])
	for _, c := range strings.ToLower(issued.Code) { // typed as a person does
		test.Type(h.canvas().Focused(), string(c))
	}
	if got := r.code.Code(); got != issued.Code {
		t.Fatalf("typed %q, the fields hold %q", issued.Code, got)
	}
	test.Tap(r.next)
	h.waitFor("the questions", func() bool { return r.questionsBox.Visible() })
	born, _ := time.Parse("20060102", pat.BirthDate)
	h.canvas().Focus(r.answerFields[0])
	test.Type(r.answerFields[0], born.Format("02.01.2006")) // as printed for a German reader
	test.Tap(r.confirm)
	h.waitFor("the items", func() bool { return r.itemsBox.Visible() })
	// DLX does not say when a code expires; our portal does (an
	// extension): then it is read-only text, not a field to fill in.
	day := expires.Local().Format("02.01.2006")
	if !r.expiry.Visible() || !strings.Contains(r.expiry.Text, day) {
		t.Errorf("the portal's expiry not shown prominently: %q", r.expiry.Text)
	}
	if r.expiryAsk.Visible() {
		t.Error("the Valid until field is asked although the portal told the expiry")
	}
	if codes, _ := h.core.Codes(); len(codes) != 1 || !codes[0].Expires.Equal(expires) {
		t.Errorf("the portal's expiry %v not recorded: %+v", expires, codes)
	}
	h.capture("redeem_items_de")
	if len(r.itemChecks) != len(staged.Items) {
		t.Errorf("items shown = %d, want %d", len(r.itemChecks), len(staged.Items))
	}
	test.Tap(r.saveAll)
	h.waitFor("the saved studies", func() bool { return r.done.Visible() })
	if _, err := os.Stat(r.savedDir); err != nil {
		t.Fatalf("saved folder: %v", err)
	}
}

// Receive (clinic mode): the clinic's inbox lists the envelope a practice
// sent; importing it to the library decrypts it with the clinic's key and
// shows a result per study; the portal's inbox is empty afterwards.
func TestFlowReceive(t *testing.T) {
	keyring.MockInit() // headless: the clinic key in go-keyring's memory provider
	p := startDemoPortal(t)
	cd := demoCD(t)
	library := t.TempDir()
	h := newHarnessWith(t, i18n.EN, app.Config{StateDir: t.TempDir(), PortalURL: p.url, LibraryDir: library})
	key, err := h.core.InitClinicKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	added, err := p.admin.AddCommunity(ctx, portal.AddCommunityRequest{Code: "kL9Q", Name: "Klinik Nord", Recipients: []string{key.Recipient}})
	if err != nil {
		t.Fatal(err)
	}
	// A practice sends the CD to the clinic's inbox (its own core).
	sender, err := app.Open(app.Config{StateDir: t.TempDir(), PortalURL: p.url})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	ix, err := sender.Scan(ctx, []string{cd.Dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	job, err := sender.StartSend(ctx, app.SendRequest{Inbox: "kL9Q", Index: ix, Sender: app.Sender{Name: "Praxis Dr. Weber"}})
	if err != nil {
		t.Fatal(err)
	}
	if j, err := sender.Wait(ctx, job.ID); err != nil || j.State != app.StateDone {
		t.Fatalf("send: %+v, %v", j, err)
	}
	apiKey := added.APIKey

	if err := h.core.UpdateSettings(func(s *app.Settings) { s.ClinicMode = true }); err != nil {
		t.Fatal(err)
	}
	h.u.showInboxTab(true)
	h.u.tabs.SelectIndex(2)
	s := h.u.inbox
	s.code.SetText("kL9Q")
	test.Type(s.apiKey, apiKey)
	test.Tap(s.refresh)
	h.waitFor("the envelope in the list", func() bool { return len(s.checks) == 1 })
	h.capture("inbox_list_en")
	for _, c := range s.checks {
		pa := ix.Patients[0]
		for _, want := range []string{dicomscan.FormatName(pa.Name), dicomscan.FormatDate(i18n.EN, pa.BirthDate), "and 1 more patient", "from Praxis Dr. Weber"} {
			if !strings.Contains(c.Text, want) {
				t.Errorf("inbox line %q lacks %q", c.Text, want)
			}
		}
	}
	if s.toPACS.Checked || !s.toFolder.Checked {
		t.Error("without a PACS configured, import should go to the folder only")
	}
	test.Tap(s.importB)
	h.waitFor("the import results and the emptied inbox", func() bool { return s.results.Text != "" && len(s.checks) == 0 })
	h.capture("inbox_imported_en")
	if got := strings.Count(s.results.Text, "\n") + 1; got != len(ix.Patients[0].Studies)+len(ix.Patients[1].Studies) {
		t.Errorf("results show %d studies:\n%s", got, s.results.Text)
	}
	entries, err := os.ReadDir(library)
	if err != nil || len(entries) == 0 {
		t.Fatalf("library after import: %v, %v", entries, err)
	}
}

// issueCode stages the first patient of a generated CD on the portal and
// issues an access code guarded by the date of birth.
func issueCode(t *testing.T, p *demoPortal) (portal.IssueResult, *portal.Staged, *gencd.Patient, time.Time) {
	t.Helper()
	cd := demoCD(t)
	pat := cd.Patients[0]
	ctx := context.Background()
	record := portal.NewRecordID()
	staged, err := portal.StageItems(ctx, p.dir, record, []string{cd.Dir}, portal.StageOptions{PatientID: pat.ID})
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(5 * 24 * time.Hour).Truncate(time.Second)
	issued, err := p.admin.IssueCode(ctx, portal.IssueRequest{
		RecordID: record, Items: staged.Items, ExpiresAt: expires,
		Questions: []portal.QuestionSpec{{Type: "PAT_BIRTH_DATE", Answer: pat.BirthDate}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return issued, staged, pat, expires
}

// The code link (the QR payload) given on the command line, and a picture
// of the code sheet dropped on the window, both lead to the questions.
func TestFlowRedeemLinkAndPicture(t *testing.T) {
	p := startDemoPortal(t)
	issued, _, _, _ := issueCode(t, p)
	link := p.url + "/c?token=" + issued.Code
	h := newFlowHarness(t, i18n.EN, p)
	r := h.u.redeem

	h.u.Open([]string{link})
	if h.u.tabs.SelectedIndex() != 1 {
		t.Fatal("a code link does not open Redeem")
	}
	h.waitFor("the questions after the link", func() bool { return r.questionsBox.Visible() })

	picture := filepath.Join(t.TempDir(), "code-sheet.png")
	writeQR(t, picture, link)
	r.reset()
	h.u.tabs.SelectIndex(0)
	h.u.Dropped([]fyne.URI{storage.NewFileURI(picture)})
	if h.u.tabs.SelectedIndex() != 1 {
		t.Fatal("a dropped picture does not open Redeem")
	}
	h.waitFor("the questions after the picture", func() bool { return r.questionsBox.Visible() })
	if r.session == nil || !strings.HasSuffix(r.session.Masked, issued.Code[len(issued.Code)-4:]) {
		t.Errorf("session for the wrong code: %+v", r.session)
	}
}

// writeQR renders payload as a QR code PNG (the library the portal's code
// sheet uses).
func writeQR(t *testing.T, path, payload string) {
	t.Helper()
	m, err := qrcode.NewQRCodeWriter().Encode(payload, gozxing.BarcodeFormat_QR_CODE, 400, 400, nil)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, m.GetWidth(), m.GetHeight()))
	for y := 0; y < m.GetHeight(); y++ {
		for x := 0; x < m.GetWidth(); x++ {
			c := color.Gray{Y: 255}
			if m.Get(x, y) {
				c = color.Gray{}
			}
			img.SetGray(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// A code redeemed but not saved that runs out within a week is reminded
// of by a desktop notification when the app starts again.
func TestExpiringCodeReminderAtStart(t *testing.T) {
	p := startDemoPortal(t)
	issued, _, pat, _ := issueCode(t, p)
	state := t.TempDir()
	cfg := app.Config{StateDir: state, PortalURL: p.url, LibraryDir: t.TempDir()}
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
	expires := time.Now().Add(3 * 24 * time.Hour)
	if err := sess.SetExpiry(expires); err != nil {
		t.Fatal(err)
	}
	core.Close()

	h := newHarnessWith(t, i18n.DE, cfg) // the next start
	h.waitFor("the reminder", func() bool { return len(h.u.notified) > 0 })
	if !strings.Contains(h.u.notified[0], sess.Masked) {
		t.Errorf("reminder %q does not name the code %s", h.u.notified[0], sess.Masked)
	}
	if want := "am " + expires.Local().Format("02.01.2006") + " ab"; !strings.Contains(h.u.notified[0], want) {
		t.Errorf("reminder %q: the date is not German (%q)", h.u.notified[0], want)
	}
	t.Log(h.u.notified[0])
}

// Finding the clinic by name fills the inbox code and shows who it is.
func TestFlowFindClinic(t *testing.T) {
	p := startDemoPortal(t)
	h := newFlowHarness(t, i18n.DE, p)
	s := h.u.send
	test.Type(s.search, "am dom")
	s.search.OnSubmitted(s.search.Text)
	h.waitFor("the matches", func() bool { return len(s.found.Options) > 0 })
	s.found.SetSelected(s.found.Options[0])
	h.waitFor("the clinic", func() bool { return s.community != nil })
	if s.inboxCode.Text != p.inbox || !strings.Contains(s.recipient.Text, p.name) || !s.fingerprint.Visible() {
		t.Errorf("after choosing a match: code %q, recipient %q", s.inboxCode.Text, s.recipient.Text)
	}
}
