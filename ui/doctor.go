package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
)

// doctorView is the "Verbindung prüfen" dialog: a summary line, then one
// row per step of app.Core.Doctor as it ends — a status icon, the step,
// what was found, details and what to do — in a scroll that fits the
// window. Closing it (Enter, Escape, the button) stops a running check.
type doctorView struct {
	u       *UI
	summary *widget.Label
	rows    *fyne.Container
	scroll  *container.Scroll
	modal   *modal
	cancel  context.CancelFunc
	steps   []app.DoctorStep
	done    bool
	width   float32
}

// checkConnection runs the doctor for the portal in the field with the
// saved proxy, off the UI goroutine; steps arrive through u.do.
func (s *settingsScreen) checkConnection() {
	if s.network.unsaved() {
		s.status.SetText(s.u.t("ui.settings.checkSaveFirst"))
		return
	}
	portal := strings.TrimSpace(s.portal.Text)
	ctx, cancel := context.WithCancel(context.Background())
	v := s.u.showDoctor(portal, cancel)
	s.doctor = v
	s.network.check.Disable()
	opts := app.DoctorOptions{Timeout: s.doctorTimeout, StepTimeout: s.doctorStepTimeout,
		Progress: func(st app.DoctorStep) { s.u.do(func() { v.add(st) }) }}
	go func() {
		defer cancel()
		rep := s.u.core.Doctor(ctx, portal, opts)
		s.u.do(func() {
			v.finish(rep)
			s.network.check.Enable()
			// The proxy wants a login: asked as everywhere (the login
			// dialog on top), then the check runs again.
			if st := rep.Step(app.DoctorStepProxy); st != nil && st.Status == app.DoctorFail && st.Err != nil && !v.modal.closed {
				s.u.proxyLoginFor(st.Err, func() {
					v.modal.dismiss()
					s.checkConnection()
				})
			}
		})
	}()
}

func (u *UI) showDoctor(portal string, cancel context.CancelFunc) *doctorView {
	v := &doctorView{u: u, cancel: cancel}
	shown := portal
	if shown == "" {
		shown = u.core.Settings().PortalURL
	}
	v.summary = widget.NewLabel(u.t("ui.doctor.running", shown))
	if shown == "" {
		v.summary.SetText(u.t("ui.doctor.runningNoPortal"))
	}
	v.summary.Wrapping = fyne.TextWrapWord
	v.rows = container.NewVBox()
	v.scroll = container.NewVScroll(v.rows)
	size := u.win.Canvas().Size()
	w := min(size.Width-40, 880)
	h := max(min(size.Height-250, 520), 160)
	v.scroll.SetMinSize(fyne.NewSize(w-40, h))
	body := container.NewBorder(v.summary, nil, nil, nil, v.scroll)
	v.modal = u.showModal(u.t("ui.doctor.title"), body, "", u.t("ui.doctor.close"), nil, cancel)
	v.width = w
	v.modal.d.Resize(fyne.NewSize(w, 0))
	return v
}

// add shows one finished step: its name in bold, what was found, the
// details in a quieter colour and what to do, as one wrapped text.
func (v *doctorView) add(st app.DoctorStep) {
	v.steps = append(v.steps, st)
	u := v.u
	para := func(text string, style widget.RichTextStyle) *widget.TextSegment {
		style.Inline = false
		return &widget.TextSegment{Text: text, Style: style}
	}
	segs := []widget.RichTextSegment{
		para(u.t("ui.doctor.step."+st.Name), widget.RichTextStyleStrong),
		para(st.Found.Text(u.lang), widget.RichTextStyleParagraph),
	}
	quiet := widget.RichTextStyleParagraph
	quiet.ColorName = theme.ColorNamePlaceHolder
	for _, d := range st.Details {
		segs = append(segs, para(d.Text(u.lang), quiet))
	}
	for _, h := range st.Hints {
		if t := h.Text(u.lang); t != "" {
			segs = append(segs, para(u.t("ui.doctor.todo", t), widget.RichTextStyleParagraph))
		}
	}
	text := widget.NewRichText(segs...)
	text.Wrapping = fyne.TextWrapWord
	icon := widget.NewIcon(statusIcon(st.Status))
	v.rows.Add(container.NewBorder(nil, nil, container.NewVBox(icon), nil, text))
	v.rows.Add(widget.NewSeparator())
	v.scroll.Refresh()
}

// finish says the outcome at the top.
func (v *doctorView) finish(rep app.DoctorReport) {
	v.done = true
	u := v.u
	warned := false
	for _, st := range rep.Steps {
		warned = warned || st.Status == app.DoctorWarn
	}
	switch f := rep.Failed(); {
	case f != nil:
		v.summary.SetText(u.t("ui.doctor.failed", u.t("ui.doctor.step."+f.Name)))
		v.summary.Importance = widget.DangerImportance
	case warned:
		v.summary.SetText(u.t("ui.doctor.warned"))
		v.summary.Importance = widget.WarningImportance
	default:
		v.summary.SetText(u.t("ui.doctor.passed"))
		v.summary.Importance = widget.SuccessImportance
	}
	v.summary.Refresh()
	if !v.modal.closed {
		v.modal.d.Resize(fyne.NewSize(v.width, 0)) // the summary may wrap now
	}
}

func statusIcon(s app.DoctorStatus) fyne.Resource {
	switch s {
	case app.DoctorOK:
		return theme.NewSuccessThemedResource(theme.ConfirmIcon())
	case app.DoctorWarn:
		return theme.NewWarningThemedResource(theme.WarningIcon())
	case app.DoctorFail:
		return theme.NewErrorThemedResource(theme.ErrorIcon())
	}
	return theme.NewDisabledResource(theme.MediaSkipNextIcon())
}
