package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// codeGroups and codeGroupLen give the shape of the three fields. The
// token itself is opaque (see docs/dlx.md): the fields are a typing aid,
// and what they hold is handed to the normaliser unchanged in meaning.
const (
	codeGroups   = 3
	codeGroupLen = 4
)

// CodeEntry is the access-code input: three fields of four characters that
// advance on their own, step back on backspace, and spread a pasted whole
// code over all three. What counts as a code character is decided by
// Normalize (the app layer's normaliser), never here.
type CodeEntry struct {
	widget.BaseWidget

	// Normalize maps what the user typed or pasted to code characters
	// (upper case, separators and spaces removed). Required.
	Normalize func(string) string
	// OnChanged is called after every change with the normalised code.
	OnChanged func(code string)
	// OnSubmit is called when the user presses Enter in any field.
	OnSubmit func(code string)
	// OnShortcut, when set, is offered every shortcut typed in a field
	// first (the window's own: switching tabs); true means it was taken.
	OnShortcut func(fyne.Shortcut) bool

	fields    [codeGroups]*codeField
	spreading bool
}

// NewCodeEntry returns an empty code entry using normalize.
func NewCodeEntry(normalize func(string) string) *CodeEntry {
	c := &CodeEntry{Normalize: normalize}
	for i := range c.fields {
		f := &codeField{owner: c, index: i}
		f.ExtendBaseWidget(f)
		f.SetPlaceHolder("XXXX")
		f.OnChanged = func(string) { c.changed(i) }
		f.OnSubmitted = func(string) {
			if c.OnSubmit != nil {
				c.OnSubmit(c.Code())
			}
		}
		c.fields[i] = f
	}
	c.ExtendBaseWidget(c)
	return c
}

// Code is the normalised code held by the three fields.
func (c *CodeEntry) Code() string {
	var b strings.Builder
	for _, f := range c.fields {
		b.WriteString(f.Text)
	}
	return c.Normalize(b.String())
}

// SetCode spreads code over the three fields, as a paste would.
func (c *CodeEntry) SetCode(code string) {
	c.spread(c.Normalize(code))
	c.notify()
}

// Field returns the i-th field (0..2), for focusing and for tests: the
// field itself (what the canvas focuses), not its embedded entry.
func (c *CodeEntry) Field(i int) *codeField { return c.fields[i] }

// CreateRenderer lays the three fields out with dashes between them.
func (c *CodeEntry) CreateRenderer() fyne.WidgetRenderer {
	row := container.NewHBox()
	for i, f := range c.fields {
		if i > 0 {
			row.Add(widget.NewLabel("–"))
		}
		row.Add(container.NewGridWrap(fyne.NewSize(110, f.MinSize().Height), f))
	}
	return widget.NewSimpleRenderer(row)
}

// changed runs after field i changed: normalise, spread overflow (typing
// past four characters or pasting a whole code) and move the focus on.
func (c *CodeEntry) changed(i int) {
	if c.spreading {
		return
	}
	f := c.fields[i]
	text := c.Normalize(f.Text)
	if len([]rune(text)) > codeGroupLen {
		// The code is what precedes, this field, and what follows: typing
		// into a full field shifts the rest on, a paste fills all three.
		var before, after strings.Builder
		for _, g := range c.fields[:i] {
			before.WriteString(g.Text)
		}
		for _, g := range c.fields[i+1:] {
			after.WriteString(g.Text)
		}
		c.spread(c.Normalize(before.String() + text + after.String()))
		c.focus(min(len([]rune(before.String()+text))/codeGroupLen, codeGroups-1))
		c.notify()
		return
	}
	if text != f.Text {
		c.spreading = true
		f.SetText(text)
		c.spreading = false
	}
	if len([]rune(text)) == codeGroupLen && i < codeGroups-1 {
		c.focus(i + 1)
	}
	c.notify()
}

// spread writes code into the fields, four characters each; characters
// beyond the last field stay in it so nothing the user pasted is lost
// silently (the app layer then says the code is too long).
func (c *CodeEntry) spread(code string) {
	r := []rune(code)
	c.spreading = true
	defer func() { c.spreading = false }()
	for i, f := range c.fields {
		start := min(i*codeGroupLen, len(r))
		end := min(start+codeGroupLen, len(r))
		if i == codeGroups-1 {
			end = len(r)
		}
		f.SetText(string(r[start:end]))
		f.CursorColumn = len([]rune(f.Text))
	}
}

func (c *CodeEntry) focus(i int) {
	if cv := fyne.CurrentApp().Driver().CanvasForObject(c); cv != nil {
		cv.Focus(c.fields[i])
	}
}

func (c *CodeEntry) notify() {
	if c.OnChanged != nil {
		c.OnChanged(c.Code())
	}
}

// codeField is one of the three fields; it steps back to the previous
// field on backspace when empty.
type codeField struct {
	widget.Entry
	owner *CodeEntry
	index int
}

func (f *codeField) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyBackspace && f.Text == "" && f.index > 0 {
		f.owner.focus(f.index - 1)
		return
	}
	f.Entry.TypedKey(k)
}

// TypedShortcut offers s to the owner's OnShortcut, then to the Entry.
func (f *codeField) TypedShortcut(s fyne.Shortcut) {
	if h := f.owner.OnShortcut; h != nil && h(s) {
		return
	}
	f.Entry.TypedShortcut(s)
}
