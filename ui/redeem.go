package ui

import (
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
type redeemScreen struct {
	u       *UI
	content fyne.CanvasObject

	code      *CodeEntry
	next      *widget.Button
	fromImage *widget.Button

	questions     *widget.Form
	questionsBox  *fyne.Container
	answers       map[string]func() string
	confirm       *widget.Button
	body          *fyne.Container
	expiry        *widget.Label
	expiryDate    *widget.DateEntry
	expiryAsk     *fyne.Container
	items         *fyne.Container
	itemsBox      *fyne.Container
	itemChecks    map[string]*widget.Check
	itemOrder     []string
	target        *widget.Label
	changeTarget  *widget.Button
	saveAll       *widget.Button
	saveSelection *widget.Button
	progress      *widget.ProgressBar
	done          *fyne.Container
	status        *widget.Label
	savedDir      string
	session       *app.RedeemSession
	saveJob       string
}

func newRedeemScreen(u *UI) *redeemScreen {
	r := &redeemScreen{u: u}
	r.code = NewCodeEntry(u.normalizeCode)
	r.code.OnSubmit = func(string) { r.start() }
	r.next = widget.NewButtonWithIcon(u.t("ui.redeem.next"), theme.NavigateNextIcon(), r.start)
	r.next.Importance = widget.HighImportance
	r.fromImage = widget.NewButtonWithIcon(u.t("ui.redeem.fromImage"), theme.FileImageIcon(), r.chooseImage)
	imageHint := widget.NewLabel(u.t("ui.redeem.dropImage"))
	imageHint.Importance = widget.LowImportance

	r.questions = widget.NewForm()
	r.confirm = widget.NewButtonWithIcon(u.t("ui.redeem.confirm"), theme.ConfirmIcon(), r.answer)
	r.confirm.Importance = widget.HighImportance
	r.questionsBox = container.NewVBox(heading(u.t("ui.redeem.questions")), r.questions, container.NewHBox(r.confirm))
	r.questionsBox.Hide()

	r.expiry = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.expiry.SizeName = theme.SizeNameSubHeadingText
	r.expiry.Importance = widget.WarningImportance
	r.expiry.Wrapping = fyne.TextWrapWord
	r.expiryDate = widget.NewDateEntry()
	r.expiryDate.SetPlaceHolder(u.t("ui.redeem.datePlaceholder"))
	r.expiryDate.OnChanged = r.expiryChanged
	r.expiryAsk = container.NewBorder(nil, nil, widget.NewLabel(u.t("ui.redeem.expiryAsk")), nil,
		container.NewGridWrap(fyne.NewSize(320, r.expiryDate.MinSize().Height), r.expiryDate))
	r.items = container.NewVBox()
	r.target = widget.NewLabel("")
	r.changeTarget = widget.NewButtonWithIcon(u.t("ui.redeem.changeFolder"), theme.FolderOpenIcon(), r.chooseTarget)
	r.saveAll = widget.NewButtonWithIcon(u.t("ui.redeem.saveAll"), theme.DocumentSaveIcon(), func() { r.save(true) })
	r.saveAll.Importance = widget.HighImportance
	r.saveSelection = widget.NewButtonWithIcon(u.t("ui.redeem.saveSelection"), theme.DocumentSaveIcon(), func() { r.save(false) })
	r.progress = widget.NewProgressBar()
	r.progress.Hide()
	openFolder := widget.NewButtonWithIcon(u.t("ui.redeem.openFolder"), theme.FolderOpenIcon(), r.openFolder)
	openViewer := widget.NewButtonWithIcon(u.t("ui.redeem.openViewer"), theme.VisibilityIcon(), r.openViewer)
	r.done = container.NewHBox(openFolder, openViewer)
	r.done.Hide()
	r.itemsBox = container.NewVBox(
		r.expiry, r.expiryAsk,
		heading(u.t("ui.redeem.items")), r.items,
		container.NewBorder(nil, nil, widget.NewLabel(u.t("ui.redeem.folder")), r.changeTarget, r.target),
		container.NewHBox(r.saveAll, r.saveSelection),
		r.progress, r.done,
	)
	r.itemsBox.Hide()
	r.status = widget.NewLabel("")
	r.status.Wrapping = fyne.TextWrapWord

	intro := widget.NewLabel(u.t("ui.redeem.intro"))
	intro.Wrapping = fyne.TextWrapWord
	codeRow := container.NewHBox(r.code, r.next)
	r.body = container.NewVBox(
		heading(u.t("ui.redeem.title")), intro,
		codeRow,
		container.NewHBox(r.fromImage, imageHint),
		r.status,
		r.questionsBox,
		r.itemsBox,
	)
	r.content = container.NewVScroll(container.NewPadded(r.body))
	return r
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
	d.Resize(fyne.NewSize(900, 600))
	d.Show()
}

func (r *redeemScreen) chooseTarget() {
	d := dialog.NewFolderOpen(func(uri fyne.ListableURI, err error) {
		if err != nil || uri == nil {
			return
		}
		r.target.SetText(uri.Path())
	}, r.u.win)
	d.Resize(fyne.NewSize(900, 600))
	d.Show()
}
