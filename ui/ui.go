// Package ui is the Fyne desktop interface over package app. It holds no
// business logic and never imports fyne.io/fyne/v2/app: cmd/bildbote
// creates the fyne.App and hands it in, so the views test without cgo.
//
// Guarantees: every string a person reads goes through internal/i18n; no
// work runs on the UI goroutine (flows run in goroutines and report back
// through fyne.Do, coalesced to about ten updates a second); files dropped
// on the window and paths given on the command line take the same path
// (UI.Open).
package ui

import (
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// WindowSize is the size the main window opens with (and the size the
// golden tests render at).
var WindowSize = fyne.NewSize(1280, 800)

// Options configure the UI.
type Options struct {
	// Core is the application core the UI drives. Required.
	Core *app.Core
	// Lang is the interface language; "" means the Language setting, else
	// i18n.Detect().
	Lang i18n.Lang

	// InboxKey is the clinic inbox's API key to pre-fill (memory only).
	InboxKey string

	// ScreenSize is the usable area of the screen the window opens on
	// (Fyne units); nil or zero: unknown. The window opens at its last
	// size, else WindowSize, and never larger than this.
	ScreenSize func() fyne.Size

	// do replaces fyne.Do (tests queue updates for the test goroutine).
	do func(func())
	// discs replaces mountedDiscs (tests: stable screens on any machine).
	discs func() []string
	// volumePoll replaces volumePoll (tests: polls without waiting 2 s).
	volumePoll time.Duration
}

// UI is the main window and its screens.
type UI struct {
	core *app.Core
	app  fyne.App
	win  fyne.Window
	lang i18n.Lang
	// startLang is Options.Lang (the start's language, "" for none).
	startLang i18n.Lang
	// do runs a function on the UI goroutine: fyne.Do in the product, a
	// queue drained by the test goroutine in tests (race-free asserts).
	do    func(func())
	discs func() []string
	// volumePoll is how often the mounted media are listed.
	volumePoll time.Duration
	// volumePolls counts the listings shown (UI goroutine; tests wait on
	// it instead of sleeping).
	volumePolls int

	tabs      *container.AppTabs
	send      *sendScreen
	redeem    *redeemScreen
	inbox     *inboxScreen
	transfers *transfersScreen
	settings  *settingsScreen
	inboxTab  *container.TabItem

	keymap map[string]func() // the window's shortcuts by name
	modals []*modal          // our dialogs, the top one last
	newKey atomic.Bool       // the passphrase asked next is for a new key
	// volumesKnown are the media mounted at the last poll (UI goroutine).
	volumesKnown map[string]bool
	stop         chan struct{} // closed when the window closes

	lastErr  error             // the last error shown (tests)
	jobSeq   map[string]uint64 // per job, the event Seq last shown
	notified []string          // notifications sent (tests)

	// the proxy login dialog: proxylogin.go
	proxyLoginState
}

// New builds the main window of a. It does not show it.
func New(a fyne.App, opts Options) *UI {
	u := &UI{core: opts.Core, app: a, lang: opts.Lang, startLang: opts.Lang, do: opts.do, jobSeq: map[string]uint64{}}
	if u.do == nil {
		u.do = fyne.Do
	}
	u.discs = opts.discs
	if u.discs == nil {
		u.discs = mountedDiscs
	}
	u.volumePoll = opts.volumePoll
	if u.volumePoll <= 0 {
		u.volumePoll = volumePoll
	}
	if u.lang == "" {
		u.lang = i18n.Detect()
		if l, ok := i18n.Parse(u.core.Settings().Language); ok {
			u.lang = l
		}
	}
	u.win = a.NewWindow(u.t("ui.title"))
	u.build()
	u.inbox.apiKey.SetText(opts.InboxKey)
	u.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) { u.Dropped(uris) })
	u.win.Resize(u.openSize(opts.ScreenSize))
	u.stop = make(chan struct{})
	u.win.SetOnClosed(func() {
		u.rememberSize()
		close(u.stop)
	})
	u.showInboxTab(u.core.Settings().ClinicMode)
	return u
}

// openSize is the size the window opens with: the size it had when it
// was closed, else WindowSize, fitted to the screen (a 1024x600 netbook
// gets a window it can show whole, with room for the title bar).
func (u *UI) openSize(screen func() fyne.Size) fyne.Size {
	size := WindowSize
	if st := u.core.Settings(); st.WindowWidth > 0 && st.WindowHeight > 0 {
		size = fyne.NewSize(float32(st.WindowWidth), float32(st.WindowHeight))
	}
	if screen == nil {
		return size
	}
	return fitScreen(size, screen())
}

// titleBar is the room a window manager's decorations take.
const titleBar = 40

func fitScreen(size, screen fyne.Size) fyne.Size {
	if screen.Width <= 0 || screen.Height <= 0 {
		return size
	}
	return fyne.NewSize(min(size.Width, screen.Width), min(size.Height, screen.Height-titleBar))
}

// rememberSize keeps the window's size for the next start.
func (u *UI) rememberSize() {
	s := u.win.Canvas().Size()
	if s.Width < 100 || s.Height < 100 {
		return
	}
	_ = u.core.UpdateSettings(func(st *app.Settings) {
		st.WindowWidth, st.WindowHeight = int(s.Width), int(s.Height)
	})
}

// Window is the main window.
func (u *UI) Window() fyne.Window { return u.win }

func (u *UI) build() {
	u.send = newSendScreen(u)
	u.redeem = newRedeemScreen(u)
	u.inbox = newInboxScreen(u)
	u.transfers = newTransfersScreen(u)
	u.settings = newSettingsScreen(u)
	u.inboxTab = container.NewTabItemWithIcon(u.t("ui.tab.inbox"), theme.MailComposeIcon(), u.inbox.content)
	u.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon(u.t("ui.tab.send"), theme.UploadIcon(), u.send.content),
		container.NewTabItemWithIcon(u.t("ui.tab.redeem"), theme.DownloadIcon(), u.redeem.content),
		container.NewTabItemWithIcon(u.t("ui.tab.transfers"), theme.ListIcon(), u.transfers.content),
		container.NewTabItemWithIcon(u.t("ui.tab.settings"), theme.SettingsIcon(), u.settings.content),
	)
	u.tabs.SetTabLocation(container.TabLocationTop)
	u.tabs.OnSelected = func(it *container.TabItem) {
		// Opening the inbox with its key at hand lists it at once.
		if it == u.inboxTab && !u.inbox.listed && u.inbox.apiKey.Text != "" && u.inbox.code.Text != "" {
			u.inbox.load()
		}
		if it.Content == u.redeem.content {
			u.redeem.focusStart() // typing starts at once
		}
	}
	u.win.SetContent(u.tabs)
	u.installShortcuts()
}

// showInboxTab adds or removes the clinic inbox tab (clinic mode only).
// The tab shown stays shown (removing the inbox tab from Settings
// jumped to Transfers).
func (u *UI) showInboxTab(show bool) {
	selected := u.tabs.Selected()
	defer func() {
		if selected != nil && selected != u.tabs.Selected() && (selected != u.inboxTab || show) {
			u.tabs.Select(selected)
		}
	}()
	for _, it := range u.tabs.Items {
		if it == u.inboxTab {
			if !show {
				u.tabs.Remove(u.inboxTab)
			}
			return
		}
	}
	if show {
		u.tabs.Items = append(u.tabs.Items[:2], append([]*container.TabItem{u.inboxTab}, u.tabs.Items[2:]...)...)
		u.tabs.Refresh()
	}
}

// t translates key into the UI language.
func (u *UI) t(key string, args ...any) string { return i18n.T(u.lang, key, args...) }

// Dropped handles items dropped on the window: the same path as Open.
func (u *UI) Dropped(uris []fyne.URI) {
	args := make([]string, 0, len(uris))
	for _, uri := range uris {
		if uri.Scheme() == "file" {
			args = append(args, uri.Path())
		} else {
			args = append(args, uri.String())
		}
	}
	u.Open(args)
}

// Open takes what the user gave on the command line or dropped on the
// window: an access-code link or a picture of a code sheet goes to
// Redeem; folders, ZIPs, ISOs and files are scanned for sending. The tab
// of the first item given is shown.
func (u *UI) Open(args []string) {
	var paths []string
	tab := -1
	for _, a := range args {
		switch {
		case isURL(a):
			u.redeem.openLink(a)
			tab = firstTab(tab, 1)
		case isImage(a):
			u.redeem.openImage(a)
			tab = firstTab(tab, 1)
		default:
			paths = append(paths, a)
			tab = firstTab(tab, 0)
		}
	}
	if len(paths) > 0 {
		u.send.scan(paths)
	}
	if tab >= 0 {
		u.tabs.SelectIndex(tab)
	}
}

func firstTab(cur, t int) int {
	if cur < 0 {
		return t
	}
	return cur
}

func isURL(s string) bool {
	p, err := url.Parse(s)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}

func isImage(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".png", ".jpg", ".jpeg", ".gif", ".bmp":
		return true
	}
	return false
}

// showError shows err as a person reads it: the translated message and
// the hint saying what to do next. The OK button has the focus: Enter and
// Escape close the dialog.
func (u *UI) showError(err error) {
	if u.proxyLoginFor(err, nil) { // a proxy's 407: ask for the login (proxylogin.go)
		return
	}
	u.lastErr = err
	msg, hint := u.describe(err) // never Go's own error text
	text := widget.NewLabel(msg)
	text.Wrapping = fyne.TextWrapWord
	body := container.NewVBox(text)
	if hint != "" {
		h := widget.NewLabel(hint)
		h.Wrapping = fyne.TextWrapWord // what to do next: as readable as the message
		body.Add(h)
	}
	u.showModal(u.t("ui.error.title"), body, "", u.t("ui.ok"), nil, nil)
}

// notify sends a desktop notification (from the UI goroutine).
func (u *UI) notify(title, body string) {
	u.do(func() {
		u.notified = append(u.notified, title+": "+body)
		u.app.SendNotification(fyne.NewNotification(title, body))
	})
}

// StartupError shows why the core could not open (a malformed policy
// file, a state dir in use) in a window of its own, translated, with what
// to do next. The window quits the app when closed.
func StartupError(a fyne.App, err error) fyne.Window {
	lang := i18n.Detect()
	msg, hint := i18n.Localize(lang, err)
	w := a.NewWindow(i18n.T(lang, "ui.startup.title"))
	text := widget.NewLabel(strings.TrimSpace(msg + "\n\n" + hint))
	text.Wrapping = fyne.TextWrapWord
	quit := widget.NewButton(i18n.T(lang, "ui.startup.quit"), a.Quit)
	w.SetContent(container.NewBorder(nil, container.NewHBox(layout.NewSpacer(), quit), nil, nil, text))
	w.Resize(fyne.NewSize(560, 240))
	return w
}
