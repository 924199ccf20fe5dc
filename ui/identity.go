package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
)

// createIdentity loads the clinic's key, creating it the first time, and
// shows its fingerprint. Where no OS keyring exists the key lives in a
// passphrase-protected file and AskPassphrase asks for it.
func (s *settingsScreen) createIdentity() {
	s.createID.Disable()
	go func() {
		info, err := s.u.core.InitClinicKey()
		s.u.do(func() {
			s.createID.Enable()
			if err != nil {
				s.u.showError(err)
				return
			}
			s.showKey(info)
		})
	}()
}

func (s *settingsScreen) showKey(info *app.KeyInfo) {
	s.key = info
	msg := s.u.t("ui.settings.keyReady")
	if info.Created {
		msg = s.u.t("ui.settings.keyCreated")
	}
	s.identity.SetText(msg)
	s.fingerprint.SetText(s.u.t("ui.send.fingerprint", info.Fingerprint))
	s.fingerprint.Show()
	s.createID.Hide()
	s.exportKey.Show()
}

// exportPublicKey writes the public key (age1…) to a file the clinic
// hands to the portal operator, and puts it on the clipboard.
func (s *settingsScreen) exportPublicKey() {
	if s.key == nil {
		return
	}
	recipient := s.key.Recipient
	s.u.win.Clipboard().SetContent(recipient)
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		defer w.Close()
		if _, err := w.Write([]byte(recipient + "\n")); err != nil {
			s.u.showError(err)
			return
		}
		s.status.SetText(s.u.t("ui.settings.keyExported", w.URI().Path()))
	}, s.u.win)
	d.SetFileName("bildbote-clinic-key.txt")
	d.Resize(fyne.NewSize(900, 600))
	d.Show()
}

// AskPassphrase asks for the passphrase of the clinic's key file. It
// blocks its (background) caller until the user answers; "" when the user
// cancels. Hand it to app.Config.Passphrase.Prompt.
func (u *UI) AskPassphrase() (string, error) {
	answer := make(chan string, 1)
	u.do(func() {
		e := widget.NewPasswordEntry()
		items := []*widget.FormItem{widget.NewFormItem(u.t("ui.passphrase.label"), e)}
		d := dialog.NewForm(u.t("ui.passphrase.title"), u.t("ui.ok"), u.t("ui.cancel"), items, func(ok bool) {
			if ok {
				answer <- e.Text
			} else {
				answer <- ""
			}
		}, u.win)
		d.Resize(fyne.NewSize(480, 180))
		d.Show()
		u.win.Canvas().Focus(e)
	})
	return <-answer, nil
}
