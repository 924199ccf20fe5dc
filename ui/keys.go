package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
)

// Keyboard use of the window: Ctrl+Tab / Ctrl+Shift+Tab and
// Ctrl+PageDown / Ctrl+PageUp switch the main tabs, Alt+1 … Alt+5 choose
// one, Ctrl+Enter sends on Send (none of them while one of our dialogs is
// open: it has Enter and Escape). Every focusable widget of the screens
// lets them through: buttons, checks, selects, trees and lists take no
// shortcuts (the window gets them); entries, the code fields included,
// pass these window shortcuts on (Fyne's Entry swallows every shortcut it
// does not know), and the message field leaves Tab to move the focus.
// Fyne's AppTabs bar takes no focus, so Tab cannot reach it: Settings
// lists the shortcuts instead (ui.settings.keysList).

// installShortcuts registers the window's shortcuts.
func (u *UI) installShortcuts() {
	u.keymap = map[string]func(){}
	add := func(key fyne.KeyName, mod fyne.KeyModifier, do func()) {
		sc := &desktop.CustomShortcut{KeyName: key, Modifier: mod}
		f := func() {
			if len(u.modals) == 0 { // not behind one of our dialogs
				do()
			}
		}
		u.keymap[sc.ShortcutName()] = f
		u.win.Canvas().AddShortcut(sc, func(fyne.Shortcut) { f() })
	}
	add(fyne.KeyTab, fyne.KeyModifierControl, func() { u.stepTab(1) })
	add(fyne.KeyTab, fyne.KeyModifierControl|fyne.KeyModifierShift, func() { u.stepTab(-1) })
	add(fyne.KeyPageDown, fyne.KeyModifierControl, func() { u.stepTab(1) })
	add(fyne.KeyPageUp, fyne.KeyModifierControl, func() { u.stepTab(-1) })
	for i, k := range []fyne.KeyName{fyne.Key1, fyne.Key2, fyne.Key3, fyne.Key4, fyne.Key5} {
		add(k, fyne.KeyModifierAlt, func() { u.selectTab(i) })
	}
	send := func() {
		if u.tabs.SelectedIndex() == 0 && !u.send.sendButton.Disabled() {
			u.send.sendNow()
		}
	}
	add(fyne.KeyReturn, fyne.KeyModifierControl, send)
	add(fyne.KeyEnter, fyne.KeyModifierControl, send)
	u.win.Canvas().SetOnTypedKey(u.typedKey)
}

// windowShortcut runs s when it is one of the window's shortcuts.
func (u *UI) windowShortcut(s fyne.Shortcut) bool {
	if f := u.keymap[s.ShortcutName()]; f != nil {
		f()
		return true
	}
	return false
}

// typedKey gets the keys no focused widget took: Escape and Enter go to
// the dialog on top.
func (u *UI) typedKey(ev *fyne.KeyEvent) {
	if len(u.modals) == 0 {
		return
	}
	top := u.modals[len(u.modals)-1]
	switch ev.Name {
	case fyne.KeyEscape:
		top.dismiss()
	case fyne.KeyReturn, fyne.KeyEnter:
		top.confirm()
	}
}

func (u *UI) stepTab(d int) {
	n := len(u.tabs.Items)
	u.selectTab(((u.tabs.SelectedIndex()+d)%n + n) % n)
}

// selectTab shows tab i and puts the focus on its first field, so Tab
// goes on from there.
func (u *UI) selectTab(i int) {
	if i < 0 || i >= len(u.tabs.Items) {
		return
	}
	u.tabs.SelectIndex(i)
	if f := firstFocusable(u.tabs.Items[i].Content); f != nil {
		u.win.Canvas().Focus(f)
	}
}

// firstFocusable is the first visible, enabled focusable object under o.
func firstFocusable(o fyne.CanvasObject) fyne.Focusable {
	if o == nil || !o.Visible() {
		return nil
	}
	if f, ok := o.(fyne.Focusable); ok {
		if d, ok := o.(fyne.Disableable); !ok || !d.Disabled() {
			return f
		}
	}
	switch w := o.(type) {
	case *fyne.Container:
		for _, c := range w.Objects {
			if f := firstFocusable(c); f != nil {
				return f
			}
		}
	case *container.Split:
		if f := firstFocusable(w.Leading); f != nil {
			return f
		}
		return firstFocusable(w.Trailing)
	case *container.Scroll:
		return firstFocusable(w.Content)
	case *widget.Form:
		for _, it := range w.Items {
			if f := firstFocusable(it.Widget); f != nil {
				return f
			}
		}
	}
	return nil
}

// keyEntry is an Entry that hands the window's shortcuts on; a multi-line
// keyEntry leaves Tab to the focus (Ctrl+Enter sends, Enter breaks lines).
type keyEntry struct {
	widget.Entry
	u *UI
}

func (u *UI) newEntry() *keyEntry {
	e := &keyEntry{u: u}
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip) // as widget.NewEntry
	e.ExtendBaseWidget(e)
	return e
}

// newPasswordEntry is a hidden entry (with Fyne's reveal button) that
// hands the window's shortcuts on.
func (u *UI) newPasswordEntry() *keyEntry {
	e := u.newEntry()
	e.Password = true
	return e
}

func (u *UI) newMultiLineEntry() *keyEntry {
	e := u.newEntry()
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	return e
}

// AcceptsTab: never; Tab moves on to the next field.
func (e *keyEntry) AcceptsTab() bool { return false }

// TypedShortcut runs the window's shortcuts, the Entry's own otherwise.
func (e *keyEntry) TypedShortcut(s fyne.Shortcut) {
	if e.u.windowShortcut(s) {
		return
	}
	e.Entry.TypedShortcut(s)
}

// keyButton is a button that also answers Enter (as Space), and Escape
// with the dialog's dismiss action.
type keyButton struct {
	widget.Button
	escape func()
}

func newKeyButton(label string, tapped func()) *keyButton {
	b := &keyButton{}
	b.Text, b.OnTapped = label, tapped
	b.ExtendBaseWidget(b)
	return b
}

// TypedKey: Enter presses the button, Escape dismisses its dialog.
func (b *keyButton) TypedKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyReturn, fyne.KeyEnter:
		if !b.Disabled() && b.OnTapped != nil {
			b.OnTapped()
		}
	case fyne.KeyEscape:
		if b.escape != nil {
			b.escape()
		}
	default:
		b.Button.TypedKey(ev)
	}
}

// modal is one of our dialogs: Enter confirms (the focused button, or the
// default one), Escape dismisses.
type modal struct {
	u         *UI
	d         *dialog.CustomDialog
	ok        *keyButton // nil: a message with one button
	back      *keyButton
	onConfirm func()
	onDismiss func()
	// check, when set, runs before confirming; false keeps the dialog
	// open (it shows what is wrong itself).
	check  func() bool
	closed bool
}

// showModal shows body with a confirm button (okText; "" for none) and a
// dismiss button; the confirm button has the focus, else the dismiss one.
func (u *UI) showModal(title string, body fyne.CanvasObject, okText, backText string, onConfirm, onDismiss func()) *modal {
	m := &modal{u: u, onConfirm: onConfirm, onDismiss: onDismiss}
	m.back = newKeyButton(backText, m.dismiss)
	m.back.escape = m.dismiss
	buttons := []fyne.CanvasObject{m.back}
	if okText != "" {
		m.ok = newKeyButton(okText, m.confirm)
		m.ok.escape = m.dismiss
		m.ok.Importance = widget.HighImportance
		buttons = append(buttons, m.ok)
	} else {
		m.back.Importance = widget.HighImportance
	}
	m.d = dialog.NewCustomWithoutButtons(title, body, u.win)
	m.d.SetButtons(buttons)
	m.d.SetOnClosed(func() { m.closed = true; u.dropModal(m) })
	u.modals = append(u.modals, m)
	w := min(u.win.Canvas().Size().Width-40, 560)
	m.d.Resize(fyne.NewSize(w, body.MinSize().Height))
	m.d.Show()
	// Wrapped text is measured for its real width only once laid out:
	// fit the height again (a blank band sat above the buttons).
	m.d.Resize(fyne.NewSize(w, 0))
	if m.ok != nil {
		u.win.Canvas().Focus(m.ok)
	} else {
		u.win.Canvas().Focus(m.back)
	}
	return m
}

func (u *UI) dropModal(m *modal) {
	for i, x := range u.modals {
		if x == m {
			u.modals = append(u.modals[:i], u.modals[i+1:]...)
			return
		}
	}
}

func (m *modal) confirm() {
	if m.ok == nil {
		m.dismiss()
		return
	}
	if m.closed || (m.check != nil && !m.check()) {
		return
	}
	m.d.Hide()
	if m.onConfirm != nil {
		m.onConfirm()
	}
}

func (m *modal) dismiss() {
	if m.closed {
		return
	}
	m.d.Hide()
	if m.onDismiss != nil {
		m.onDismiss()
	}
}

// confirm asks a yes/no question; yes runs f.
func (u *UI) confirm(title, question, yes, no string, f func()) *modal {
	l := widget.NewLabel(question)
	l.Wrapping = fyne.TextWrapWord
	return u.showModal(title, container.NewVBox(l, layout.NewSpacer()), yes, no, f, nil)
}
