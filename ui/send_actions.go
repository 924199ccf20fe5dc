package ui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/dicomscan"
)

// scan reads paths in the background; progress shows live, Cancel stops it.
func (s *sendScreen) scan(paths []string) {
	if s.stopScan != nil {
		s.stopScan()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopScan = cancel
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
	switch {
	case ctx.Err() != nil:
		s.status.SetText(s.u.t("ui.send.scanCancelled"))
	case err != nil:
		s.u.showError(err)
	case len(ix.Patients) == 0:
		s.status.SetText(s.u.t("ui.send.nothingFound", len(ix.Skipped)))
		s.showIndex(ix)
	default:
		s.status.SetText("")
		s.showIndex(ix)
		if s.community == nil && s.inboxCode.Text != "" {
			s.lookupInbox() // the remembered or default inbox: show who gets it
		}
	}
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
	s.formBody.Refresh()
	s.updateSendable()
	go func() {
		c, err := s.u.core.LookupCommunity(context.Background(), "", code)
		s.u.do(func() { s.showCommunity(c, err) })
	}()
}

func (s *sendScreen) showCommunity(c *app.Community, err error) {
	if err != nil {
		s.recipient.Hide()
		s.formBody.Refresh()
		s.u.showError(err)
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
	s.formBody.Refresh()
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
	if s.community.Pin == app.PinChanged {
		dialog.ShowConfirm(s.u.t("ui.send.keyChangedTitle"), s.u.t("ui.send.keyChangedQuestion", s.community.Name), func(ok bool) {
			if ok {
				s.startSend(true)
			}
		}, s.u.win)
		return
	}
	s.startSend(false)
}

func (s *sendScreen) startSend(acceptNewKey bool) {
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
				s.u.showError(err)
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
