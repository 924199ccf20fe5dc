package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
)

// The proxy login dialog: when a look-up, a step of a flow or a job fails
// because the proxy wants a login (407), the window asks for the proxy
// user name and password ("Der Proxy … verlangt eine Anmeldung"), with
// "Im Schlüsselbund speichern"; Enter submits, Escape cancels. The login
// goes to the core (app.Core.SetProxyLogin: memory only unless saved),
// then the failed step runs again. One dialog at a time: a second 407
// while it is open waits for its answer.

// proxyLoginState is the UI's part for the dialog.
type proxyLoginState struct {
	proxyDialog  *modal
	proxyRetries []func()        // run after the login
	proxyAsked   map[string]bool // jobs already asked for, until they run again
	proxySave    *keyCheck       // the open dialog's "save" (tests)
}

// keyCheck is a check box that hands Enter and Escape to its dialog
// (Space toggles it).
type keyCheck struct {
	widget.Check
	enter, escape func()
}

// TypedKey: Enter submits, Escape cancels, Space toggles.
func (c *keyCheck) TypedKey(ev *fyne.KeyEvent) {
	switch {
	case (ev.Name == fyne.KeyReturn || ev.Name == fyne.KeyEnter) && c.enter != nil:
		c.enter()
	case ev.Name == fyne.KeyEscape && c.escape != nil:
		c.escape()
	default:
		c.Check.TypedKey(ev)
	}
}

// proxyLoginFor shows the dialog when err is a proxy's 407 and reports
// whether it did; retry (may be nil) runs after a login was given.
func (u *UI) proxyLoginFor(err error, retry func()) bool {
	proxy, refused, ok := app.ProxyAuthProblem(err)
	if !ok {
		return false
	}
	u.askProxyLogin(proxy, refused, retry)
	return true
}

// proxyLoginForJob asks once per failure of job j (called with every
// update of its row): after the login the job is resumed.
func (u *UI) proxyLoginForJob(j *app.Job) {
	if u.proxyAsked == nil {
		u.proxyAsked = map[string]bool{}
	}
	if j.State != app.StateFailed {
		delete(u.proxyAsked, j.ID)
		return
	}
	proxy, refused, ok := j.Error.ProxyAuth()
	if !ok || u.proxyAsked[j.ID] {
		return
	}
	u.proxyAsked[j.ID] = true
	id := j.ID
	u.askProxyLogin(proxy, refused, func() {
		if err := u.core.Resume(id); err != nil {
			u.showError(err)
		}
	})
}

// askProxyLogin shows the dialog (or queues retry behind the open one).
func (u *UI) askProxyLogin(proxy string, refused bool, retry func()) {
	if u.proxyDialog != nil && !u.proxyDialog.closed {
		if retry != nil {
			u.proxyRetries = append(u.proxyRetries, retry)
		}
		return
	}
	u.proxyRetries = nil
	if retry != nil {
		u.proxyRetries = append(u.proxyRetries, retry)
	}
	user, _ := u.core.ProxyLoginUser()
	text := widget.NewLabel(u.t("ui.proxylogin.asks", proxy))
	if refused {
		text.SetText(u.t("ui.proxylogin.refused", proxy))
	}
	text.Wrapping = fyne.TextWrapWord
	userField := u.newPasswordField()
	userField.Password = false
	userField.SetText(user)
	pwField := u.newPasswordField()
	save := &keyCheck{}
	save.Text = u.t("ui.proxylogin.save")
	save.ExtendBaseWidget(save)
	problem := widget.NewLabel("")
	problem.Importance = widget.DangerImportance
	problem.Wrapping = fyne.TextWrapWord
	problem.Hide()
	form := widget.NewForm(
		widget.NewFormItem(u.t("ui.proxylogin.user"), userField),
		widget.NewFormItem(u.t("ui.proxylogin.password"), pwField))
	note := widget.NewLabel(u.t("ui.proxylogin.note"))
	note.Wrapping = fyne.TextWrapWord
	body := container.NewVBox(text, form, save, note, problem)
	m := u.showModal(u.t("ui.proxylogin.title"), body, u.t("ui.proxylogin.login"), u.t("ui.cancel"), func() {
		err := u.core.SetProxyLogin(userField.Text, pwField.Text, save.Checked)
		retries := u.proxyRetries
		u.proxyRetries = nil
		if err != nil {
			// not saved (no keyring): the login holds for this session
			u.showError(err)
		}
		for _, f := range retries {
			f()
		}
	}, func() { u.proxyRetries = nil })
	m.check = func() bool {
		if userField.Text == "" || pwField.Text == "" {
			problem.SetText(u.t("ui.proxylogin.empty"))
			problem.Show()
			m.d.Resize(fyne.NewSize(m.d.MinSize().Width, body.MinSize().Height))
			return false
		}
		return true
	}
	userField.OnSubmitted = func(string) { u.win.Canvas().Focus(pwField) }
	pwField.OnSubmitted = func(string) { m.confirm() }
	userField.onEscape = m.dismiss
	pwField.onEscape = m.dismiss
	save.enter, save.escape = m.confirm, m.dismiss
	u.proxyDialog, u.proxySave = m, save
	if user == "" {
		u.win.Canvas().Focus(userField)
	} else {
		u.win.Canvas().Focus(pwField)
	}
}
