package ui

import (
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/crypto"
)

// createIdentity loads the clinic's key, creating it the first time, and
// shows its fingerprint. Where no OS keyring exists the key lives in a
// passphrase-protected file and AskPassphrase asks for it.
func (s *settingsScreen) createIdentity() {
	s.createID.Disable()
	go func() {
		// No key yet: the passphrase asked next protects a new key file,
		// so it is asked twice, with a warning that it cannot be recovered.
		if _, err := s.u.core.ClinicKey(); errors.Is(err, crypto.ErrNoKey) {
			s.u.newKey.Store(true)
			defer s.u.newKey.Store(false)
		}
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
	s.u.app.Clipboard().SetContent(recipient)
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
// cancels. Hand it to app.Config.Passphrase.Prompt. For a new key it asks
// twice and warns that a lost passphrase cannot be recovered. Enter in a
// field goes on (to the next field, then OK), Escape cancels.
func (u *UI) AskPassphrase() (string, error) {
	answer := make(chan string, 1)
	fresh := u.newKey.Load()
	u.do(func() { u.passphraseDialog(fresh, func(p string) { answer <- p }) })
	return <-answer, nil
}

func (u *UI) passphraseDialog(fresh bool, done func(string)) *modal {
	first := u.newPasswordField()
	again := u.newPasswordField()
	problem := widget.NewLabel("")
	problem.Importance = widget.DangerImportance
	problem.Wrapping = fyne.TextWrapWord
	problem.Hide()
	title := u.t("ui.passphrase.title")
	form := widget.NewForm(widget.NewFormItem(u.t("ui.passphrase.label"), first))
	body := container.NewVBox()
	if fresh {
		title = u.t("ui.passphrase.newTitle")
		warn := widget.NewLabel(u.t("ui.passphrase.warning"))
		warn.Wrapping = fyne.TextWrapWord
		warn.Importance = widget.WarningImportance
		body.Add(warn)
		form.Append(u.t("ui.passphrase.repeat"), again)
	}
	body.Add(form)
	body.Add(problem)
	m := u.showModal(title, body, u.t("ui.ok"), u.t("ui.cancel"), func() { done(first.Text) }, func() { done("") })
	m.check = func() bool {
		switch {
		case first.Text == "":
			problem.SetText(u.t("ui.passphrase.empty"))
		case fresh && first.Text != again.Text:
			problem.SetText(u.t("ui.passphrase.mismatch"))
			again.SetText("")
		default:
			return true
		}
		problem.Show()
		m.d.Resize(fyne.NewSize(m.d.MinSize().Width, body.MinSize().Height))
		u.win.Canvas().Focus(first)
		return false
	}
	first.OnSubmitted = func(string) {
		if fresh {
			u.win.Canvas().Focus(again)
		} else {
			m.confirm()
		}
	}
	again.OnSubmitted = func(string) { m.confirm() }
	first.onEscape = func() { m.dismiss() }
	again.onEscape = func() { m.dismiss() }
	u.win.Canvas().Focus(first)
	return m
}

// passwordField is a password entry that hands Escape to its dialog.
type passwordField struct {
	widget.Entry
	onEscape func()
}

func (u *UI) newPasswordField() *passwordField {
	e := &passwordField{}
	e.Password = true
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey: Escape cancels the dialog, everything else edits.
func (e *passwordField) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape && e.onEscape != nil {
		e.onEscape()
		return
	}
	e.Entry.TypedKey(ev)
}
