package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/dicomscan"
)

// sendScreen: choose a medium, see what is on it, choose the inbox, send.
type sendScreen struct {
	u       *UI
	content fyne.CanvasObject

	drop        *DropZone
	disc        *widget.Select
	progress    *widget.ProgressBarInfinite
	progressMsg *widget.Label
	cancelScan  *widget.Button
	progressBox *fyne.Container

	summary *widget.Label
	warning *widget.Label
	tree    *studyTree
	skipped *widget.Accordion
	result  *fyne.Container
	source  *fyne.Container // drop zone or result, whichever shows
	index   *dicomscan.Index
	rescan  *widget.Button

	inboxCode   *keyEntry
	search      *keyEntry
	found       *widget.Select
	recipient   *widget.Label
	fingerprint *widget.Label
	pinNote     *widget.Label
	senderName  *keyEntry
	senderMail  *keyEntry
	referrer    *keyEntry
	patientName *keyEntry
	patientBorn *keyEntry
	message     *keyEntry
	password    *keyEntry
	deid        *deidForm // "Send de-identified" (send_deid.go)
	sendButton  *widget.Button
	status      *widget.Label

	passwordItem *fyne.Container
	formBody     *fyne.Container
	formScroll   *container.Scroll
	required     *widget.Label // "* required" under the sender fields
	sourcePath   *widget.Label // the medium being shown
	empty        *fyne.Container
	emptyTitle   *widget.Label
	// confirmation is the summary dialog before sending (nil: none open).
	confirmation *modal
	// autoName and autoBorn are what fillPatient last wrote.
	autoName, autoBorn string
	stopScan           context.CancelFunc
	community          *app.Community
	foundCodes         map[string]string
	sendJob            string
	paths              []string // what was opened last
	shown              []string // the paths of the medium on screen
}

func newSendScreen(u *UI) *sendScreen {
	s := &sendScreen{u: u}
	s.drop = NewDropZone(u.t("ui.send.drop"), u.t("ui.send.dropHint"), s.chooseFolder)
	folder := widget.NewButtonWithIcon(u.t("ui.send.chooseFolder"), theme.FolderOpenIcon(), s.chooseFolder)
	file := widget.NewButtonWithIcon(u.t("ui.send.chooseFile"), theme.FileIcon(), s.chooseFile)
	s.disc = widget.NewSelect(nil, func(string) {})
	s.disc.PlaceHolder = u.t("ui.send.disc")
	s.disc.OnChanged = s.discChosen
	refreshDiscs := widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), s.refreshDiscs)
	s.refreshDiscs()
	// Two rows, so that a narrow window does not draw the toolbar over
	// the form beside it.
	choosers := container.NewVBox(container.NewHBox(folder, file), container.NewBorder(nil, nil, nil, refreshDiscs, s.disc))

	s.progress = widget.NewProgressBarInfinite()
	s.progressMsg = widget.NewLabel("")
	s.cancelScan = widget.NewButtonWithIcon(u.t("ui.cancel"), theme.CancelIcon(), s.cancel)
	s.progressBox = container.NewBorder(nil, nil, nil, s.cancelScan, container.NewVBox(s.progressMsg, s.progress))
	s.progressBox.Hide()
	s.progress.Stop()

	s.summary = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.summary.Truncation = fyne.TextTruncateEllipsis
	s.sourcePath = widget.NewLabel("")
	s.sourcePath.Truncation = fyne.TextTruncateEllipsis
	s.sourcePath.Importance = widget.LowImportance
	s.warning = widget.NewLabel("")
	s.warning.Importance = widget.WarningImportance
	s.warning.Wrapping = fyne.TextWrapWord
	s.warning.Hide()
	s.tree = newStudyTree(u, s.selectionChanged)
	s.skipped = widget.NewAccordion()
	s.rescan = widget.NewButtonWithIcon(u.t("ui.send.other"), theme.ContentUndoIcon(), s.reset)
	top := container.NewVBox(container.NewBorder(nil, nil, nil, container.NewVBox(s.rescan), container.NewVBox(s.summary, s.sourcePath)), s.warning)
	// A medium without DICOM images: say so large, and where images
	// usually are on a patient CD.
	s.emptyTitle = heading("")
	s.emptyTitle.Wrapping = fyne.TextWrapBreak // a long path has no spaces to wrap at
	emptyHint := widget.NewLabel(u.t("ui.send.emptyHint"))
	emptyHint.Wrapping = fyne.TextWrapWord
	s.empty = container.NewVBox(widget.NewIcon(theme.WarningIcon()), s.emptyTitle, emptyHint)
	s.empty.Hide()
	s.result = container.NewBorder(top, s.skipped, nil, nil, container.NewStack(s.tree.tree, container.NewVScroll(s.empty)))
	s.result.Hide()
	s.source = container.NewStack(s.drop, s.result)

	left := container.NewBorder(container.NewVBox(choosers, s.progressBox), nil, nil, nil, s.source)
	s.content = container.NewHSplit(container.NewPadded(left), s.form())
	s.content.(*container.Split).Offset = 0.58
	s.prefill(u.core.Settings())
	return s
}

// form is the right side: recipient, sender, patient, message, Send.
func (s *sendScreen) form() fyne.CanvasObject {
	u := s.u
	s.inboxCode = u.newEntry()
	s.inboxCode.SetPlaceHolder(u.t("ui.send.inboxCodePlaceholder"))
	s.inboxCode.OnSubmitted = func(string) { s.lookupInbox() }
	check := widget.NewButtonWithIcon(u.t("ui.send.lookup"), theme.SearchIcon(), s.lookupInbox)
	s.search = u.newEntry()
	s.search.SetPlaceHolder(u.t("ui.send.searchPlaceholder"))
	s.search.OnSubmitted = func(string) { s.searchClinics() }
	s.found = widget.NewSelect(nil, s.clinicChosen)
	s.found.PlaceHolder = u.t("ui.send.searchResults")
	s.found.Hide()
	s.recipient = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.recipient.Wrapping = fyne.TextWrapWord
	s.fingerprint = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	s.pinNote = widget.NewLabel("")
	s.pinNote.Wrapping = fyne.TextWrapWord
	s.recipient.Hide()
	s.fingerprint.Hide()
	s.pinNote.Hide()

	s.senderName = u.newEntry()
	s.senderMail = u.newEntry()
	s.referrer = u.newEntry()
	s.patientName = u.newEntry()
	s.patientBorn = u.newEntry()
	s.patientBorn.SetPlaceHolder(u.dateLayoutHint())
	s.message = u.newMultiLineEntry() // Tab moves on, Ctrl+Enter sends
	s.message.SetMinRowsVisible(3)

	s.password = u.newPasswordEntry()
	s.password.SetPlaceHolder(u.t("ui.send.password"))
	s.passwordItem = container.NewVBox(s.password)
	s.passwordItem.Hide()

	s.sendButton = widget.NewButtonWithIcon(u.t("ui.send.send"), theme.MailSendIcon(), s.sendNow)
	s.sendButton.Importance = widget.HighImportance
	s.sendButton.Disable()
	s.status = widget.NewLabel("")
	s.status.Wrapping = fyne.TextWrapWord

	to := widget.NewForm(
		widget.NewFormItem(u.t("ui.send.inboxCode"), container.NewBorder(nil, nil, nil, check, s.inboxCode)),
		widget.NewFormItem(u.t("ui.send.search"), container.NewVBox(s.search, s.found)),
	)
	req := u.core.Settings().RequiredSender()
	label := func(key, field string) string {
		if slices.Contains(req, field) {
			return u.t(key) + " *"
		}
		return u.t(key)
	}
	s.required = widget.NewLabel(u.t("ui.send.requiredNote"))
	s.required.Importance = widget.LowImportance
	showIf(s.required, len(req) > 0)
	from := widget.NewForm(
		widget.NewFormItem(label("ui.send.senderName", app.SenderFieldName), s.senderName),
		widget.NewFormItem(label("ui.send.senderContact", app.SenderFieldContact), s.senderMail),
		widget.NewFormItem(label("ui.send.referrer", app.SenderFieldReferrer), s.referrer),
		widget.NewFormItem(u.t("ui.send.patientName"), s.patientName),
		widget.NewFormItem(u.t("ui.send.patientBorn"), s.patientBorn),
		widget.NewFormItem(u.t("ui.send.message"), s.message),
	)
	s.deid = newDeidForm(s)
	s.formBody = container.NewVBox(
		heading(u.t("ui.send.to")), to, s.recipient, s.fingerprint, s.pinNote, s.passwordItem,
		widget.NewSeparator(),
		heading(u.t("ui.send.from")), from, s.required,
		widget.NewSeparator(), s.deid.content(),
	)
	// Send stays in sight below the scrolling form, also on small screens.
	actions := container.NewPadded(container.NewVBox(s.sendButton, s.status))
	s.formScroll = container.NewVScroll(container.NewPadded(s.formBody))
	return container.NewBorder(nil, actions, nil, nil, s.formScroll)
}

// relayoutForm lays the form out again after a note under the inbox
// code changed: a wrapped label knows how many lines it needs only once
// it has its width, so a second pass keeps its last line from being drawn
// over the next row (seen at 1024x600: the "first time" note's second
// line under the separator).
func (s *sendScreen) relayoutForm() {
	s.formBody.Refresh()
	s.formScroll.Refresh()
}

func heading(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameSubHeadingText
	return l
}

func (u *UI) dateLayoutHint() string { return u.t("ui.dateFormat") }

func (s *sendScreen) chooseFolder() {
	d := dialog.NewFolderOpen(func(uri fyne.ListableURI, err error) {
		if err != nil || uri == nil {
			return
		}
		s.u.Open([]string{uri.Path()})
	}, s.u.win)
	s.u.showFileDialog(d, "ui.send.chooseFolderTitle", "ui.send.choose")
}

func (s *sendScreen) chooseFile() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		r.Close()
		s.u.Open([]string{r.URI().Path()})
	}, s.u.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".zip", ".iso", ".ZIP", ".ISO"}))
	s.u.showFileDialog(d, "ui.send.chooseFileTitle", "ui.send.choose")
}

func (s *sendScreen) refreshDiscs() {
	s.disc.Options = s.u.discs()
	if len(s.disc.Options) == 0 {
		s.disc.PlaceHolder = s.u.t("ui.send.noDisc")
	} else {
		s.disc.PlaceHolder = s.u.t("ui.send.disc")
	}
	s.disc.ClearSelected()
	s.disc.Refresh()
}

func (s *sendScreen) discChosen(p string) {
	if p != "" {
		s.u.Open([]string{p})
	}
}

// mountedDiscs lists mounted media that may be a patient CD: optical
// file systems from /proc/self/mountinfo, the removable-media mount folders, and
// on Windows the drive letters.
func mountedDiscs() []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range opticalMounts() {
		add(p)
	}
	for _, pattern := range []string{"/media/*/*", "/run/media/*/*", "/Volumes/*"} {
		m, _ := filepath.Glob(pattern)
		for _, p := range m {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				add(p)
			}
		}
	}
	if runtime.GOOS == "windows" {
		for c := 'D'; c <= 'Z'; c++ {
			p := fmt.Sprintf("%c:\\", c)
			if _, err := os.Stat(p); err == nil {
				add(p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// reset goes back to the drop zone and lets go of the medium.
func (s *sendScreen) reset() {
	if s.index != nil {
		s.u.core.Release(s.index)
	}
	s.index = nil
	s.result.Hide()
	s.drop.Show()
	s.skipped.Items = nil
	s.skipped.Refresh()
	s.clearPatient()
	s.updateSendable()
}

// clearPatient empties what belongs to one patient's CD — name, birth
// date, message, the last send's status — so nothing of the previous
// patient goes out with the next one. Sender, contact and referrer stay.
func (s *sendScreen) clearPatient() {
	s.patientName.SetText("")
	s.patientBorn.SetText("")
	s.autoName, s.autoBorn = "", ""
	s.message.SetText("")
	s.status.SetText("")
	s.status.Importance = widget.MediumImportance
	s.sendJob = ""
}

// selectionChanged keeps the patient fields on the first patient still
// selected, unless the user typed something of their own there.
func (s *sendScreen) selectionChanged() {
	s.fillPatient()
	s.updateSendable()
}

func (s *sendScreen) fillPatient() {
	if s.index == nil || s.patientName.Text != s.autoName || s.patientBorn.Text != s.autoBorn {
		return
	}
	for pi, p := range s.index.Patients {
		if s.tree.checked(strconv.Itoa(pi)) {
			s.autoName, s.autoBorn = dicomscan.FormatName(p.Name), s.u.dicomDate(p.BirthDate)
			s.patientName.SetText(s.autoName)
			s.patientBorn.SetText(s.autoBorn)
			return
		}
	}
}

func (s *sendScreen) updateSendable() {
	s.deid.follow(s.community)
	if s.index != nil && len(s.tree.SelectedStudies()) > 0 && s.community != nil {
		s.sendButton.Enable()
	} else {
		s.sendButton.Disable()
	}
}

// showIndex shows a finished scan: the tree, the summary, the warning for
// several patients, the skipped files; the patient fields are pre-filled.
func (s *sendScreen) showIndex(ix *dicomscan.Index) {
	u := s.u
	if s.index != nil && s.index != ix {
		u.core.Release(s.index)
	}
	s.index = ix
	s.shown = s.paths
	s.summary.SetText(u.summaryText(len(ix.Patients), ix.Files, ix.Bytes))
	var warn []string
	for _, w := range ix.Warnings {
		warn = append(warn, ix.WarningText(u.lang, w))
	}
	if len(warn) > 0 {
		s.warning.SetText(strings.Join(warn, "\n"))
		s.warning.Show()
	} else {
		s.warning.Hide()
	}
	s.tree.SetIndex(ix)
	s.skipped.Items = nil
	if n := len(ix.Skipped) + len(ix.Documents); n > 0 {
		lines := make([]string, 0, n)
		for _, sk := range ix.Skipped {
			lines = append(lines, sk.Path+" — "+dicomscan.SkipText(u.lang, sk.Code))
		}
		for _, d := range ix.Documents {
			note := u.t("ui.send.document")
			if len(ix.Patients) == 0 {
				note = u.t("ui.send.documentAlone")
			}
			lines = append(lines, d.Path+" — "+note)
		}
		sort.Strings(lines)
		// A list of its own, tall enough to read several lines at once.
		list := widget.NewList(func() int { return len(lines) },
			func() fyne.CanvasObject {
				l := widget.NewLabel("")
				l.Truncation = fyne.TextTruncateEllipsis
				return l
			},
			func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(lines[i]) })
		rows := float32(min(len(lines), 5))
		box := container.New(minHeightLayout{h: rows * (list.MinSize().Height + theme.Padding())}, list)
		item := widget.NewAccordionItem(u.n("ui.send.notDICOM", n, n), box)
		s.skipped.Append(item)
		if len(ix.Patients) == 0 {
			s.skipped.Open(0)
		}
	}
	s.skipped.Refresh()
	s.clearPatient()
	s.fillPatient()
	showIf(s.summary, len(ix.Patients) > 0) // "0 patients, 0 images" says nothing
	if len(ix.Patients) == 0 {
		s.emptyTitle.SetText(u.t("ui.send.emptyTitle", strings.Join(s.paths, ", ")))
		s.tree.tree.Hide()
		s.empty.Show()
		s.status.SetText("")
	} else {
		s.empty.Hide()
		s.tree.tree.Show()
	}
	s.drop.Hide()
	s.result.Show()
	s.result.Refresh() // lay out again: the warning row may have appeared
	s.updateSendable()
}
