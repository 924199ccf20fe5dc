package ui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
)

// scan reads paths in the background; progress shows live, Cancel stops it.
func (s *sendScreen) scan(paths []string) {
	if s.stopScan != nil {
		s.stopScan()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopScan = cancel
	s.paths = paths
	s.sourcePath.SetText(s.u.t("ui.send.source", strings.Join(paths, ", ")))
	s.clearPatient()
	s.drop.SetBusy(true)
	s.progressMsg.SetText(s.u.t("ui.send.scanning", strings.Join(paths, ", ")))
	s.progressBox.Show()
	s.progress.Start()
	go func() {
		ix, err := s.u.core.Scan(ctx, paths, nil) // progress arrives as events
		s.u.do(func() { s.scanDone(ctx, ix, err) })
	}()
}

func (s *sendScreen) scanProgress(p app.ScanProgress) {
	if s.stopScan == nil || p.Done {
		return
	}
	s.progressMsg.SetText(s.u.t("ui.send.scanProgress", p.Files, s.u.bytes(p.Bytes)))
}

func (s *sendScreen) scanDone(ctx context.Context, ix *dicomscan.Index, err error) {
	s.drop.SetBusy(false)
	s.progress.Stop()
	s.progressBox.Hide()
	s.stopScan = nil
	if ctx.Err() != nil || err != nil {
		s.showPrevious()
	}
	switch {
	case ctx.Err() != nil:
		s.status.SetText(s.u.t("ui.send.scanCancelled"))
	case err != nil:
		s.u.showError(err)
	case len(ix.Patients) == 0:
		s.showIndex(ix)
	default:
		s.status.SetText("")
		s.showIndex(ix)
		if s.community == nil && s.inboxCode.Text != "" {
			s.lookupInbox() // the remembered or default inbox: show who gets it
		}
	}
}

// showPrevious goes back to the medium shown before a scan that failed
// or was cancelled: its source line named the new path over the old
// medium's tree ("Quelle: …/cd.iso" above "Keine DICOM-Bilder in …/003",
// seen in the screenshots), and its patient fields were cleared.
func (s *sendScreen) showPrevious() {
	s.paths = s.shown
	if s.index == nil {
		return
	}
	s.sourcePath.SetText(s.u.t("ui.send.source", strings.Join(s.shown, ", ")))
	s.fillPatient()
}

func (s *sendScreen) cancel() {
	if s.stopScan != nil {
		s.stopScan()
	}
}

// lookupInbox asks the portal who owns the inbox code and shows the
// clinic's name and key fingerprint before anything is sent.
func (s *sendScreen) lookupInbox() {
	code := strings.TrimSpace(s.inboxCode.Text)
	if code == "" {
		return
	}
	s.community = nil
	s.recipient.SetText(s.u.t("ui.send.lookingUp"))
	s.recipient.Show()
	s.fingerprint.Hide()
	s.pinNote.Hide()
	s.relayoutForm()
	s.updateSendable()
	go func() {
		c, err := s.u.core.LookupCommunity(context.Background(), "", code)
		if ue, ok := i18n.AsUserError(err); ok && ue.Key == "transfer.inbox.unknown_community" {
			// Say which code: a typo is easier to see.
			err = i18n.NewError(ue.Kind, "ui.send.unknownInbox", code).WithHint(ue.HintKey).Wrap(err)
		}
		s.u.do(func() { s.showCommunity(c, err) })
	}()
}

func (s *sendScreen) showCommunity(c *app.Community, err error) {
	if err != nil {
		s.recipient.Hide()
		s.relayoutForm()
		if !s.u.proxyLoginFor(err, s.lookupInbox) { // a 407: login, look up again
			s.u.showError(err)
		}
		return
	}
	s.community = c
	s.recipient.SetText(s.u.t("ui.send.recipient", c.Name, c.Code))
	s.fingerprint.SetText(s.u.t("ui.send.fingerprint", c.Fingerprint))
	s.fingerprint.Show()
	s.pinNote.Importance = widget.MediumImportance
	switch c.Pin {
	case app.PinNew:
		s.pinNote.SetText(s.u.t("ui.send.pinNew"))
	case app.PinChanged:
		s.pinNote.Importance = widget.DangerImportance
		s.pinNote.SetText(s.u.t("ui.send.pinChanged", c.PinnedFingerprint))
	default:
		s.pinNote.SetText("")
	}
	showIf(s.pinNote, s.pinNote.Text != "")
	showIf(s.passwordItem, c.PasswordRequired)
	s.relayoutForm()
	s.updateSendable()
}

func (s *sendScreen) searchClinics() {
	q := strings.TrimSpace(s.search.Text)
	if q == "" {
		return
	}
	go func() {
		found, err := s.u.core.SearchCommunities(context.Background(), "", q)
		s.u.do(func() {
			if err != nil {
				s.u.showError(err)
				return
			}
			s.foundCodes = map[string]string{}
			opts := make([]string, 0, len(found))
			for _, c := range found {
				label := fmt.Sprintf("%s (%s)", c.Name, c.Code)
				s.foundCodes[label] = c.Code
				opts = append(opts, label)
			}
			s.found.Options = opts
			s.found.ClearSelected()
			if len(opts) == 0 {
				s.found.PlaceHolder = s.u.t("ui.send.noMatch")
			} else {
				s.found.PlaceHolder = s.u.t("ui.send.searchResults")
			}
			s.found.Show()
			s.found.Refresh()
		})
	}()
}

func (s *sendScreen) clinicChosen(label string) {
	if code, ok := s.foundCodes[label]; ok {
		s.inboxCode.SetText(code)
		s.lookupInbox()
	}
}

// sendNow remembers the sender fields and starts the send job; a changed
// clinic key needs the user's explicit confirmation first.
func (s *sendScreen) sendNow() {
	if s.community == nil || s.index == nil {
		return
	}
	if missing := s.missingSender(); len(missing) > 0 {
		s.status.Importance = widget.DangerImportance
		names := make([]string, len(missing))
		for i, e := range missing {
			names[i] = s.fieldName(e)
		}
		s.status.SetText(s.u.t("ui.send.fillIn", strings.Join(names, ", ")))
		s.u.win.Canvas().Focus(missing[0])
		return
	}
	s.status.Importance = widget.MediumImportance
	s.status.SetText("")
	if s.community.Pin == app.PinChanged {
		s.u.confirm(s.u.t("ui.send.keyChangedTitle"), s.u.t("ui.send.keyChangedQuestion", s.community.Name),
			s.u.t("ui.send.acceptKey"), s.u.t("ui.send.back"), func() {
				s.deid.beforeConfirm(func(burnedIn bool) { s.confirmSend(true, burnedIn) })
			})
		return
	}
	s.deid.beforeConfirm(func(burnedIn bool) { s.confirmSend(false, burnedIn) })
}

// missingSender lists the required sender fields still empty (which are
// required: the policy's required_sender_fields, else name and contact).
func (s *sendScreen) missingSender() []*keyEntry {
	var out []*keyEntry
	for _, f := range s.u.core.Settings().RequiredSender() {
		e := s.senderField(f)
		if e != nil && strings.TrimSpace(e.Text) == "" {
			out = append(out, e)
		}
	}
	return out
}

func (s *sendScreen) senderField(name string) *keyEntry {
	switch name {
	case app.SenderFieldName:
		return s.senderName
	case app.SenderFieldContact:
		return s.senderMail
	case app.SenderFieldReferrer:
		return s.referrer
	}
	return nil
}

func (s *sendScreen) fieldName(e *keyEntry) string {
	switch e {
	case s.senderName:
		return s.u.t("ui.send.senderName")
	case s.senderMail:
		return s.u.t("ui.send.senderContact")
	default:
		return s.u.t("ui.send.referrer")
	}
}

// confirmSend shows what is about to leave the PC — the clinic and its
// key, each patient with birth date, the studies, images and size — with
// Send and Back. Nothing goes out before Send.
func (s *sendScreen) confirmSend(acceptNewKey, acceptBurnedIn bool) {
	u := s.u
	selected := map[string]bool{}
	for _, uid := range s.tree.SelectedStudies() {
		selected[uid] = true
	}
	var lines []string
	studies, files, bytes := 0, 0, int64(0)
	for _, p := range s.index.Patients {
		ps, pf := 0, 0
		for _, st := range p.Studies {
			if selected[st.InstanceUID] {
				ps++
				pf += st.Files
				bytes += st.Bytes
			}
		}
		if ps == 0 {
			continue
		}
		studies += ps
		files += pf
		name := dicomscan.FormatName(p.Name)
		if p.BirthDate != "" {
			name = u.t("ui.inbox.patientBorn", name, u.dicomDate(p.BirthDate))
		}
		lines = append(lines, "• "+name+": "+u.n("ui.send.confirmStudies", ps, ps)+", "+u.n("ui.send.confirmImages", pf, pf))
	}
	to := widget.NewLabelWithStyle(u.t("ui.send.recipient", s.community.Name, s.community.Code), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	to.Wrapping = fyne.TextWrapWord
	key := widget.NewLabelWithStyle(u.t("ui.send.fingerprint", s.community.Fingerprint), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	key.Wrapping = fyne.TextWrapBreak
	who := widget.NewLabel(strings.Join(lines, "\n"))
	who.Wrapping = fyne.TextWrapWord
	total := widget.NewLabelWithStyle(u.t("ui.send.confirmTotal", u.n("ui.send.confirmStudies", studies, studies), u.n("ui.send.confirmImages", files, files), u.bytes(bytes)),
		fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	total.Wrapping = fyne.TextWrapWord
	from := widget.NewLabel(u.t("ui.send.confirmFrom", s.senderText()))
	from.Wrapping = fyne.TextWrapWord
	body := container.NewVBox(to, key, widget.NewSeparator(), who, total, from)
	if d := s.deid.request(acceptBurnedIn); d != nil {
		as := widget.NewLabelWithStyle(u.t("ui.deid.confirmAs", d.Pseudonym), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		as.Wrapping = fyne.TextWrapWord
		body.Add(as)
		s.deid.confirmNotes(body)
	}
	s.confirmation = u.showModal(u.t("ui.send.confirmTitle"), body, u.t("ui.send.send"), u.t("ui.send.back"),
		func() { s.confirmation = nil; s.startSend(acceptNewKey, acceptBurnedIn) },
		func() { s.confirmation = nil })
}

// senderText is who sends, as the summary shows it.
func (s *sendScreen) senderText() string {
	var parts []string
	for _, e := range []*keyEntry{s.senderName, s.senderMail} {
		if t := strings.TrimSpace(e.Text); t != "" {
			parts = append(parts, t)
		}
	}
	if r := strings.TrimSpace(s.referrer.Text); r != "" {
		parts = append(parts, s.u.t("ui.send.confirmReferrer", r))
	}
	if len(parts) == 0 {
		return s.u.t("ui.inbox.unknownSender")
	}
	return strings.Join(parts, ", ")
}

func (s *sendScreen) startSend(acceptNewKey, acceptBurnedIn bool) {
	req := app.SendRequest{
		Inbox:        s.community.Code,
		Index:        s.index,
		Studies:      s.tree.SelectedStudies(),
		Sender:       app.Sender{Name: strings.TrimSpace(s.senderName.Text), Contact: strings.TrimSpace(s.senderMail.Text)},
		Patient:      s.patientNote(),
		Referrer:     strings.TrimSpace(s.referrer.Text),
		Message:      strings.TrimSpace(s.message.Text),
		Password:     s.password.Text,
		AcceptNewKey: acceptNewKey,
		Deidentify:   s.deid.request(acceptBurnedIn),
	}
	s.sendButton.Disable()
	s.status.SetText(s.u.t("ui.send.starting"))
	go func() {
		_ = s.u.core.UpdateSettings(func(st *app.Settings) {
			st.SenderName, st.SenderContact, st.Referrer = req.Sender.Name, req.Sender.Contact, req.Referrer
		})
		job, err := s.u.core.StartSend(context.Background(), req)
		s.u.do(func() {
			s.updateSendable()
			if err != nil {
				s.status.SetText("")
				if !s.u.proxyLoginFor(err, func() { s.startSend(acceptNewKey, acceptBurnedIn) }) { // a 407: login, send again
					s.u.showError(err)
				}
				return
			}
			s.sendJob = job.ID
			s.u.transfers.show(job)
			s.status.SetText(s.u.t("ui.send.started", s.community.Name))
		})
	}()
}

func (s *sendScreen) patientNote() string {
	name, born := strings.TrimSpace(s.patientName.Text), strings.TrimSpace(s.patientBorn.Text)
	if born == "" {
		return name
	}
	return fmt.Sprintf("%s (%s %s)", name, s.u.t("ui.send.born"), born)
}

// jobChanged shows the end of this screen's send job in its status line.
func (s *sendScreen) jobChanged(j *app.Job) {
	if j.ID != s.sendJob {
		return
	}
	switch j.State {
	case app.StateDone:
		s.status.SetText(s.u.t("ui.send.done", j.LocalTitle(s.u.lang)))
	case app.StateFailed:
		msg := j.LocalTitle(s.u.lang)
		if j.Error != nil {
			msg = j.Error.Message(s.u.lang)
		}
		s.status.SetText(msg)
	default:
		s.status.SetText(s.u.t("ui.send.progress", s.u.bytes(j.BytesDone), s.u.bytes(j.BytesTotal)))
	}
}

// prefill fills the remembered fields from the settings.
func (s *sendScreen) prefill(st app.Settings) {
	s.senderName.SetText(st.SenderName)
	s.senderMail.SetText(st.SenderContact)
	s.referrer.SetText(st.Referrer)
	if st.DefaultInbox != "" && s.inboxCode.Text == "" {
		s.inboxCode.SetText(st.DefaultInbox)
	}
}
