package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
)

// redeemScreen: type (or paste, or photograph) the access code, answer the
// portal's questions, choose what to save and where, save, open.
//
// Each code starts a new round: the question form is built anew (never
// reused), and the answers — a person's date of birth — are cleared after
// every success, failure or new code, so the next person at a shared PC
// sees none of them.
type redeemScreen struct {
	u       *UI
	content fyne.CanvasObject
	body    *fyne.Container

	// reminder shows the expiry reminders in the window too (a desktop
	// without a notification service shows nothing else).
	reminder *widget.Label

	// portalBox asks for the portal address when none is set (a fresh
	// install); it is remembered after the first success.
	portalBox *fyne.Container
	portal    *keyEntry

	code      *CodeEntry
	next      *widget.Button
	fromImage *widget.Button

	status *widget.Label
	// busy shows while the portal is asked, with a cancel.
	busy      *fyne.Container
	busyText  *widget.Label
	cancelAsk *widget.Button
	askCancel context.CancelFunc
	round     int // counts look-ups; a late answer of an older one is dropped
	// problem says what went wrong and what to do, with a retry when
	// trying again can help.
	problemBox  *fyne.Container
	problem     *widget.Label
	problemHint *widget.Label
	retry       *widget.Button
	retryFn     func()

	questionsBox  *fyne.Container
	questionsSlot *fyne.Container // the current round's form
	questions     *widget.Form
	answerFields  []*keyEntry
	answers       map[string]func() string
	dateFields    map[string]*keyEntry
	confirm       *widget.Button

	itemsBox      *fyne.Container
	expiry        *widget.Label
	expiryAsk     *fyne.Container
	expiryEntry   *keyEntry
	expiryKnown   bool // the portal told the expiry: shown, not asked
	items         *fyne.Container
	itemChecks    map[string]*widget.Check
	itemOrder     []string
	target        *widget.Label
	changeTarget  *widget.Button
	saveAll       *widget.Button
	saveSelection *widget.Button
	progress      *widget.ProgressBar
	// waiting shows a save job waiting for the network, with "try now".
	waiting  *fyne.Container
	waitText *widget.Label
	retryNow *widget.Button
	waitStop chan struct{}
	waitWhy  string // why an import into the PACS waits, translated
	done     *fyne.Container
	// folderRow opens what was saved (hidden after an import into the
	// PACS without a copy: nothing is in a folder).
	folderRow *fyne.Container
	another   *widget.Button
	// toPACS imports the checked studies into the PACS set in Settings
	// (clinic mode only); pacsNote says why it is greyed out, pacsResult
	// what each PACS said.
	toPACS     *widget.Button
	pacsNote   *widget.Label
	pacsResult *widget.Label
	// pidBox asks for the clinic's patient ID the instances get in the
	// PACS (optional; clinic mode with a PACS): pidErr says why what was
	// typed cannot be used, pidNote why the field is greyed out (the
	// code holds several patients).
	pidBox   *fyne.Container
	keepCopy *widget.Check // also keep a copy in the folder (off by default)
	pid      *keyEntry
	pidErr   *widget.Label
	pidNote  *widget.Label
	patients int  // distinct patients among the code's studies
	intoPACS bool // the running or last job goes into the PACS
	// docs are the items that are documents (a PDF report), not DICOM
	// studies: they do not go into the PACS; pacsSkipped counts those
	// checked for the running import.
	docs        map[string]bool
	pacsSkipped int
	savedDir    string
	savedAll    bool
	saving      []string
	session     *app.RedeemSession
	saveJob     string
}

func newRedeemScreen(u *UI) *redeemScreen {
	r := &redeemScreen{u: u}
	r.reminder = widget.NewLabel("")
	r.reminder.Wrapping = fyne.TextWrapWord
	r.reminder.Importance = widget.WarningImportance
	r.reminder.Hide()

	r.portal = u.newEntry()
	r.portal.SetPlaceHolder("https://…")
	r.portal.OnSubmitted = func(string) { r.u.win.Canvas().Focus(r.code.Field(0)) }
	portalHint := widget.NewLabel(u.t("ui.redeem.portalHint"))
	portalHint.Wrapping = fyne.TextWrapWord
	r.portalBox = container.NewVBox(
		container.NewBorder(nil, nil, widget.NewLabel(u.t("ui.redeem.portal")), nil, r.portal),
		portalHint,
	)

	r.code = NewCodeEntry(u.normalizeCode)
	r.code.OnSubmit = func(string) { r.start() }
	r.code.OnShortcut = u.windowShortcut
	r.code.OnChanged = func(string) {
		// A message about the code (or about none) goes once it is
		// being typed; one about the answers stays with its round.
		if r.session == nil && r.problemBox.Visible() && !r.busy.Visible() {
			r.problemBox.Hide()
			r.body.Refresh()
		}
	}
	r.next = widget.NewButtonWithIcon(u.t("ui.redeem.next"), theme.NavigateNextIcon(), r.start)
	r.next.Importance = widget.HighImportance
	r.fromImage = widget.NewButtonWithIcon(u.t("ui.redeem.fromImage"), theme.FileImageIcon(), r.chooseImage)
	imageHint := widget.NewLabel(u.t("ui.redeem.dropImage"))
	imageHint.Importance = widget.LowImportance
	imageHint.Wrapping = fyne.TextWrapWord

	r.status = widget.NewLabel("")
	r.status.Wrapping = fyne.TextWrapWord
	r.status.Hide()
	r.busyText = widget.NewLabel("")
	r.cancelAsk = widget.NewButtonWithIcon(u.t("ui.redeem.cancel"), theme.CancelIcon(), r.cancel)
	activity := widget.NewActivity()
	activity.Start()
	r.busy = container.NewHBox(activity, r.busyText, r.cancelAsk)
	r.busy.Hide()
	r.problem = widget.NewLabel("")
	r.problem.Wrapping = fyne.TextWrapWord
	r.problem.Importance = widget.DangerImportance
	r.problem.TextStyle = fyne.TextStyle{Bold: true}
	r.problemHint = widget.NewLabel("")
	r.problemHint.Wrapping = fyne.TextWrapWord
	r.retry = widget.NewButtonWithIcon(u.t("ui.redeem.retry"), theme.ViewRefreshIcon(), func() {
		if f := r.retryFn; f != nil {
			f()
		}
	})
	r.retry.Importance = widget.HighImportance
	r.problemBox = container.NewVBox(r.problem, r.problemHint, container.NewHBox(r.retry))
	r.problemBox.Hide()

	r.questions = widget.NewForm()
	r.questionsSlot = container.NewStack(r.questions)
	r.confirm = widget.NewButtonWithIcon(u.t("ui.redeem.confirm"), theme.ConfirmIcon(), r.answer)
	r.confirm.Importance = widget.HighImportance
	r.questionsBox = container.NewVBox(heading(u.t("ui.redeem.questions")), r.questionsSlot, container.NewHBox(r.confirm))
	r.questionsBox.Hide()

	r.expiry = widget.NewLabel("")
	r.expiry.TextStyle = fyne.TextStyle{Bold: true}
	r.expiry.Wrapping = fyne.TextWrapWord
	r.expiryEntry = u.newEntry()
	r.expiryEntry.SetPlaceHolder(u.t("ui.redeem.datePlaceholder"))
	r.expiryEntry.Validator = r.validateDate
	r.expiryEntry.OnSubmitted = func(string) { r.expiryTyped() }
	r.expiryEntry.OnChanged = func(string) { r.expiryTyped() }
	expiryHint := widget.NewLabel(u.t("ui.redeem.expiryAskHint"))
	expiryHint.Wrapping = fyne.TextWrapWord
	expiryHint.Importance = widget.LowImportance
	r.expiryAsk = container.NewVBox(
		container.NewBorder(nil, nil, widget.NewLabel(u.t("ui.redeem.expiryAsk")), nil,
			container.NewGridWrap(fyne.NewSize(240, r.expiryEntry.MinSize().Height), r.expiryEntry)),
		expiryHint,
	)
	r.items = container.NewVBox()
	r.target = widget.NewLabel("")
	r.target.Wrapping = fyne.TextWrapBreak
	r.changeTarget = widget.NewButtonWithIcon(u.t("ui.redeem.changeFolder"), theme.FolderOpenIcon(), r.chooseTarget)
	r.saveAll = widget.NewButtonWithIcon(u.t("ui.redeem.saveAll"), theme.DocumentSaveIcon(), func() { r.save(true) })
	r.saveAll.Importance = widget.HighImportance
	r.saveSelection = widget.NewButtonWithIcon(u.t("ui.redeem.saveSelection"), theme.DocumentSaveIcon(), func() { r.save(false) })
	r.progress = widget.NewProgressBar()
	r.progress.Hide()
	r.waitText = widget.NewLabel("")
	r.waitText.Importance = widget.WarningImportance
	r.waitText.Wrapping = fyne.TextWrapWord
	r.retryNow = widget.NewButtonWithIcon(u.t("ui.redeem.retryNow"), theme.ViewRefreshIcon(), r.tryNow)
	r.waiting = container.NewBorder(nil, nil, nil, r.retryNow, r.waitText)
	r.waiting.Hide()
	openFolder := widget.NewButtonWithIcon(u.t("ui.redeem.openFolder"), theme.FolderOpenIcon(), r.openFolder)
	openViewer := widget.NewButtonWithIcon(u.t("ui.redeem.openViewer"), theme.VisibilityIcon(), r.openViewer)
	copyPath := widget.NewButtonWithIcon(u.t("ui.redeem.copyPath"), theme.ContentCopyIcon(), r.copyPath)
	r.another = widget.NewButtonWithIcon(u.t("ui.redeem.another"), theme.ContentAddIcon(), r.anotherCode)
	r.folderRow = container.NewHBox(openFolder, openViewer, copyPath)
	r.done = container.NewVBox(r.folderRow, container.NewHBox(r.another))
	r.newPACSRow()
	r.done.Hide()
	r.itemsBox = container.NewVBox(
		r.expiry, r.expiryAsk,
		heading(u.t("ui.redeem.items")), r.items,
		container.NewBorder(nil, nil, widget.NewLabel(u.t("ui.redeem.folder")), r.changeTarget, r.target),
		container.NewHBox(r.saveAll, r.saveSelection, r.toPACS), r.pacsNote, r.pidBox,
		r.progress, r.waiting, r.pacsResult, r.done,
	)
	r.itemsBox.Hide()

	intro := widget.NewLabel(u.t("ui.redeem.intro"))
	intro.Wrapping = fyne.TextWrapWord
	codeRow := container.NewHBox(r.code, r.next)
	r.body = container.NewVBox(
		heading(u.t("ui.redeem.title")), r.reminder, intro,
		r.portalBox,
		codeRow,
		container.NewBorder(nil, nil, r.fromImage, nil, imageHint),
		r.status, r.busy, r.problemBox,
		r.questionsBox,
		r.itemsBox,
	)
	r.content = container.NewVScroll(container.NewPadded(r.body))
	r.refreshPortal()
	return r
}

// refreshPortal shows the portal field when no portal is set (and none
// was typed there yet): a typed code needs an address to go to.
func (r *redeemScreen) refreshPortal() {
	if r.u.core.Settings().PortalURL == "" {
		r.portalBox.Show()
	} else {
		r.portalBox.Hide()
	}
	r.body.Refresh()
}

func (r *redeemScreen) chooseImage() {
	d := dialog.NewFileOpen(func(f fyne.URIReadCloser, err error) {
		if err != nil || f == nil {
			return
		}
		f.Close()
		r.u.Open([]string{f.URI().Path()})
	}, r.u.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG"}))
	d.Resize(dialogSize(r.u.win))
	d.Show()
}

func (r *redeemScreen) chooseTarget() {
	d := dialog.NewFolderOpen(func(uri fyne.ListableURI, err error) {
		if err != nil || uri == nil {
			return
		}
		r.target.SetText(uri.Path())
	}, r.u.win)
	d.Resize(dialogSize(r.u.win))
	d.Show()
}

// dialogSize is a file dialog's size: 900x600, smaller in a small window.
func dialogSize(w fyne.Window) fyne.Size {
	s := w.Canvas().Size()
	return fyne.NewSize(min(900, s.Width-40), min(600, s.Height-40))
}
