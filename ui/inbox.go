package ui

import (
	"context"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/dicomscan"
)

// inboxScreen (clinic mode): the envelopes waiting in the clinic's inbox
// and their import to a folder and/or the PACS, with a result per study.
type inboxScreen struct {
	u       *UI
	content fyne.CanvasObject

	code     *keyEntry
	apiKey   *keyEntry
	refresh  *widget.Button
	list     *fyne.Container
	toFolder *widget.Check
	toPACS   *widget.Check
	noPACS   *widget.Label // where to set a PACS, while none is
	intro    *widget.Label // what to do, before the first listing
	importB  *widget.Button
	status   *widget.Label
	results  *widget.Label
	bar      *widget.ProgressBar // the import's bytes
	bytes    *widget.Label
	// pidBox asks for the clinic's patient ID the instances get in the
	// PACS: usable when exactly one envelope of one patient is checked
	// and it goes into the PACS, else greyed out with pidNote saying why;
	// pidErr says what is wrong with a typed one.
	pidBox  *fyne.Container
	pid     *keyEntry
	pidErr  *widget.Label
	pidNote *widget.Label
	items   map[string]app.InboxItem

	checks    map[string]*widget.Check
	order     []string
	importJob string
	importing bool // an import is being started or runs
	listed    bool // listed at least once

	quarantine *quarantineView // envelopes that could not be opened
}

func newInboxScreen(u *UI) *inboxScreen {
	s := &inboxScreen{u: u, checks: map[string]*widget.Check{}}
	st := u.core.Settings()
	s.code = u.newEntry()
	s.code.SetText(st.DefaultInbox)
	s.code.SetPlaceHolder(u.t("ui.send.inboxCodePlaceholder"))
	s.apiKey = u.newPasswordEntry()
	s.apiKey.SetPlaceHolder(u.t("ui.inbox.apiKeyPlaceholder"))
	s.apiKey.OnSubmitted = func(string) { s.load() }
	s.refresh = widget.NewButtonWithIcon(u.t("ui.inbox.refresh"), theme.ViewRefreshIcon(), s.load)
	s.refresh.Importance = widget.HighImportance
	s.list = container.NewVBox()
	s.toFolder = widget.NewCheck("", nil)
	s.toFolder.SetChecked(true)
	s.toPACS = widget.NewCheck(u.t("ui.inbox.toPACS"), func(bool) { s.refreshPatientID() })
	s.toPACS.Disable()
	s.noPACS = widget.NewLabel(u.t("ui.inbox.noPACS"))
	s.noPACS.Importance = widget.LowImportance
	s.noPACS.Wrapping = fyne.TextWrapWord
	s.newPatientIDRow()
	s.settingsChanged()
	// Before the first listing: what to do here.
	s.intro = widget.NewLabel(u.t("ui.inbox.intro"))
	s.intro.Wrapping = fyne.TextWrapWord
	s.list.Add(s.intro)
	s.importB = widget.NewButtonWithIcon(u.t("ui.inbox.import"), theme.DownloadIcon(), s.importSelected)
	s.importB.Importance = widget.HighImportance
	s.importB.Disable()
	s.status = widget.NewLabel("")
	s.status.Wrapping = fyne.TextWrapWord
	s.bar = widget.NewProgressBar()
	s.bar.Hide()
	s.bytes = widget.NewLabel("")
	s.bytes.Hide()
	s.results = widget.NewLabel("")
	s.results.Wrapping = fyne.TextWrapWord
	login := widget.NewForm(
		widget.NewFormItem(u.t("ui.inbox.code"), s.code),
		widget.NewFormItem(u.t("ui.inbox.apiKey"), container.NewBorder(nil, nil, nil, s.refresh, s.apiKey)),
	)
	top := container.NewVBox(heading(u.t("ui.inbox.title")), login, widget.NewSeparator())
	bottom := container.NewVBox(widget.NewSeparator(), container.NewHBox(s.importB, s.toFolder, s.toPACS), s.noPACS, s.pidBox, s.bar, s.bytes, s.status)
	s.quarantine = newQuarantineView(u)
	s.quarantine.reload()
	middle := container.NewVScroll(container.NewVBox(s.list, s.results, s.quarantine.content))
	s.content = container.NewPadded(container.NewBorder(top, bottom, nil, nil, middle))
	return s
}

// settingsChanged shows the import targets as the settings now are (a
// PACS address saved in Settings could be chosen only after a restart):
// the folder, and the PACS when one is set, else where to set it.
func (s *inboxScreen) settingsChanged() {
	st := s.u.core.Settings()
	s.toFolder.SetText(s.u.t("ui.inbox.toFolder", st.LibraryDir))
	if st.PACSStowURL == "" {
		s.toPACS.SetChecked(false)
		s.toPACS.Disable()
		s.noPACS.Show()
		s.refreshPatientID()
		return
	}
	if s.toPACS.Disabled() {
		s.toPACS.Enable()
		s.toPACS.SetChecked(true)
	}
	s.noPACS.Hide()
	s.refreshPatientID()
}

// load lists the envelopes waiting in the inbox.
func (s *inboxScreen) load() {
	code, key := strings.TrimSpace(s.code.Text), strings.TrimSpace(s.apiKey.Text)
	if code == "" || key == "" {
		s.status.SetText(s.u.t("ui.inbox.needKey"))
		return
	}
	s.status.SetText(s.u.t("ui.inbox.loading"))
	s.quarantine.reload()
	go func() {
		items, err := s.u.core.InboxList(context.Background(), "", code, key)
		s.u.do(func() {
			if err != nil {
				s.status.SetText("")
				s.u.showError(err)
				return
			}
			s.u.core.SetInboxKey(code, key)
			s.show(items)
		})
	}()
}

func (s *inboxScreen) show(items []app.InboxItem) {
	s.listed = true
	s.list.Objects = nil
	s.checks = map[string]*widget.Check{}
	s.items = map[string]app.InboxItem{}
	s.order = s.order[:0]
	s.pid.SetText("") // a new listing: no envelope's ID carries over
	for _, it := range items {
		s.items[it.ID] = it
		title, detail := s.itemText(it)
		c := widget.NewCheck(title, func(bool) { s.refreshPatientID() })
		c.SetChecked(true)
		s.checks[it.ID] = c
		s.order = append(s.order, it.ID)
		s.list.Add(c)
		if detail != "" {
			// Under the check, wrapped: one line with the envelope's
			// number ran past a 1024 px window.
			l := widget.NewLabel(detail)
			l.Wrapping = fyne.TextWrapWord
			l.Importance = widget.LowImportance
			s.list.Add(container.NewBorder(nil, nil, widget.NewLabel(""), nil, l))
		}
	}
	s.list.Refresh()
	if len(items) == 0 {
		s.status.SetText(s.u.t("ui.inbox.waitingNone"))
	} else {
		s.status.SetText(s.u.n("ui.inbox.waiting", len(items), len(items)))
	}
	showEnabled(s.importB, len(items) > 0)
	s.refreshPatientID()
}

// itemText is one envelope's check text — who sent whom (from its sealed
// manifest, when the clinic key opened it) — and the line under it: when
// it came, its size and number (the check's own text when the key could
// not open it).
func (s *inboxScreen) itemText(it app.InboxItem) (title, detail string) {
	received := s.u.t("ui.inbox.item", s.u.formatTime(it.ReceivedAt), s.u.bytes(it.Size), it.ID)
	sum := it.Summary
	if sum == nil {
		return received, ""
	}
	patient := sum.Patient
	if sum.BirthDate != "" {
		patient = s.u.t("ui.inbox.patientBorn", patient, dicomscan.FormatDate(s.u.lang, sum.BirthDate))
	}
	if sum.Patients > 1 {
		patient = s.u.t("ui.inbox.morePatients", patient, sum.Patients-1)
	}
	sender := sum.Sender
	if sender == "" {
		sender = s.u.t("ui.inbox.unknownSender")
	}
	return s.u.t("ui.inbox.summary", patient, sum.Studies, sender), received
}

// importSelected starts one import job for the checked envelopes.
func (s *inboxScreen) importSelected() {
	var ids []string
	for _, id := range s.order {
		if s.checks[id].Checked {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	st := s.u.core.Settings()
	req := app.ImportRequest{
		Inbox:   strings.TrimSpace(s.code.Text),
		APIKey:  strings.TrimSpace(s.apiKey.Text),
		ItemIDs: ids,
	}
	if s.toFolder.Checked {
		req.ToDir = st.LibraryDir
	}
	if s.toPACS.Checked {
		req.StowURL = st.PACSStowURL
	}
	if s.pidBox.Visible() && !s.pid.Disabled() && strings.TrimSpace(s.pid.Text) != "" {
		id, err := app.CheckPatientID(s.pid.Text)
		if err != nil {
			return // shown under the field; the button is greyed out
		}
		req.PatientID = id
	}
	if req.ToDir == "" && req.StowURL == "" {
		s.status.SetText(s.u.t("ui.inbox.noDestination"))
		return
	}
	s.importing = true
	s.importB.Disable()
	go func() {
		job, err := s.u.core.StartImport(req)
		s.u.do(func() {
			if err != nil {
				s.importing = false
				s.importB.Enable()
				s.u.showError(err)
				return
			}
			s.importJob = job.ID
			s.jobChanged(job)
		})
	}()
}

// jobChanged follows this screen's import job and shows per-study results.
func (s *inboxScreen) jobChanged(j *app.Job) {
	if j.ID != s.importJob || s.importJob == "" {
		return
	}
	u := s.u
	switch j.State {
	case app.StateDone, app.StateFailed, app.StateCanceled:
		s.importing = false
		s.importB.Enable()
		s.refreshPatientID()
		s.quarantine.reload()
	}
	s.status.SetText(u.t("ui.inbox.importing", j.ItemsDone, j.ItemsTotal, u.t("ui.state."+string(j.State))))
	// Bytes move long before the first envelope is done: show them.
	if j.BytesTotal > 0 && !j.State.Final() {
		s.bar.SetValue(float64(j.BytesDone) / float64(j.BytesTotal))
		s.bytes.SetText(u.t("ui.inbox.bytes", u.bytes(j.BytesDone), u.bytes(j.BytesTotal)))
		if offline(j) {
			s.bytes.SetText(s.bytes.Text + " · " + offlineText(u, j))
		}
		s.bar.Show()
		s.bytes.Show()
	} else {
		s.bar.Hide()
		s.bytes.Hide()
	}
	if j.Error != nil {
		s.status.SetText(j.Error.Message(u.lang) + "\n" + j.Error.Hint(u.lang))
	}
	if j.Receipt == nil {
		return
	}
	var lines []string
	for _, im := range j.Receipt.Imported {
		// The folder's name says whose study it is (app names it after
		// patient and date); the UID only when there is no folder.
		name := im.StudyUID
		if im.Dir != "" {
			name = filepath.Base(im.Dir)
		}
		line := u.n("ui.inbox.resultFiles", im.Files, name, im.Files)
		if im.Dir != "" {
			line += " · " + u.t("ui.inbox.resultDir", filepath.Dir(im.Dir))
		}
		if im.Stored > 0 || im.Failed > 0 {
			line += " · " + u.t("ui.inbox.resultPACS", im.Stored, im.Failed)
		}
		if im.AlreadyImported {
			line += " · " + u.t("ui.inbox.alreadyImported")
		}
		if im.Acked {
			line += " · " + u.t("ui.inbox.acked")
		}
		lines = append(lines, line)
	}
	s.results.SetText(strings.Join(lines, "\n"))
	if j.State == app.StateDone {
		s.load()
	}
}

func showEnabled(w fyne.Disableable, on bool) {
	if on {
		w.Enable()
	} else {
		w.Disable()
	}
}
