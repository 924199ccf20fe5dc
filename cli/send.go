package cli

import (
	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// bildbote-cli send --portal URL --to INBOX [--study UID…] [--sender …]
// [--referrer …] [--message …] [--accept-new-key] PATH…
func runSend(e *env, args []string) int {
	var cf coreFlags
	fs := newFlags("send")
	cf.register(fs, true)
	to := fs.String("to", "", "")
	var studies stringList
	fs.Var(&studies, "study", "")
	sender := fs.String("sender", "", "")
	contact := fs.String("contact", "", "")
	referrer := fs.String("referrer", "", "")
	message := fs.String("message", "", "")
	patientNote := fs.String("patient-note", "", "")
	password := fs.String("password", "", "")
	passwordFile := fs.String("password-file", "", "")
	accept := fs.Bool("accept-new-key", false, "")
	var df deidFlags
	df.register(fs, true)
	paths, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(paths) == 0 {
		return e.usageError("cli.missing-path")
	}
	core, pr, code := e.openCore(&cf)
	if core == nil {
		return code
	}
	defer core.Close()
	s := core.Settings()
	inbox := *to
	if inbox == "" {
		inbox = s.DefaultInbox
	}
	if inbox == "" {
		return e.usageError("cli.send.need-inbox")
	}
	// The sender fields default to what was used last time.
	if *sender == "" {
		*sender = s.SenderName
	}
	if *contact == "" {
		*contact = s.SenderContact
	}
	if *referrer == "" {
		*referrer = s.Referrer
	}
	pw, err := e.secret(*password, "--password", *passwordFile, EnvInboxPassword, "cli.secret.password-instead")
	if err != nil {
		return pr.Error(i18n.NewError(i18n.KindInput, "cli.secret.bad-file", *passwordFile, err))
	}
	*password = pw
	cm, err := core.LookupCommunity(e.ctx, cf.portal, inbox)
	if err != nil {
		return pr.Error(err)
	}
	if cm.PasswordRequired && *password == "" {
		if p, ok, err := e.readHidden(tr(e, "cli.secret.password-prompt")); ok && err == nil {
			*password = p
		}
	}
	switch cm.Pin {
	case app.PinNew:
		pr.Info("cli.send.first-use", cm.Name, cm.Code, cm.Fingerprint)
	case app.PinChanged:
		if !*accept {
			pr.Info("cli.send.key-changed", cm.Name, cm.PinnedFingerprint, cm.Fingerprint)
		}
	default:
		pr.Info("cli.send.to", cm.Name, cm.Code, cm.Fingerprint)
	}
	ix, err := core.Scan(e.ctx, paths, pr.Scan)
	pr.Done()
	if err != nil {
		return pr.Error(err)
	}
	if ix.Files == 0 {
		return pr.Error(i18n.NewError(i18n.KindInput, "cli.send.no-studies").WithHint("cli.send.no-studies.hint"))
	}
	dreq, code, ok := df.sendDeid(e, pr, len(ix.Documents))
	if !ok {
		return code
	}
	sub := core.Subscribe()
	job, err := core.StartSend(e.ctx, app.SendRequest{
		Portal: cf.portal, Inbox: inbox, Index: ix, Studies: studies,
		Sender: app.Sender{Name: *sender, Contact: *contact}, Referrer: *referrer,
		Message: *message, Patient: *patientNote, Password: *password, AcceptNewKey: *accept, Deidentify: dreq,
	})
	if err != nil {
		sub.Close()
		return pr.Error(err)
	}
	pr.Info("cli.send.started", job.ID)
	j, code := follow(e, core, pr, sub, job.ID)
	if code != ExitOK {
		return code
	}
	printJobResult(e, pr, j)
	return ExitOK
}
