package ui

import (
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/bildbote/bildbote/dicomscan"
)

// studyTree shows a scan result as patient → study → series with a check
// box on every patient and study (app sends whole studies). Unchecking a
// patient unchecks its studies. Node IDs are index paths: "0", "0/1",
// "0/1/2".
type studyTree struct {
	u        *UI
	tree     *widget.Tree
	index    *dicomscan.Index
	excluded map[string]bool // study IDs ("p/s") the user unchecked
	onChange func()
}

func newStudyTree(u *UI, onChange func()) *studyTree {
	st := &studyTree{u: u, excluded: map[string]bool{}, onChange: onChange}
	st.tree = widget.NewTree(st.children, st.isBranch, st.create, st.update)
	// Space on the focused row (arrow keys move) ticks or unticks a
	// patient or study, as a click on its box does.
	st.tree.OnSelected = func(id widget.TreeNodeID) {
		st.tree.Unselect(id)
		if len(parseNodeID(id)) < 3 {
			st.setChecked(id, !st.checked(id))
		}
	}
	return st
}

// SetIndex shows ix with everything selected and every node open.
func (st *studyTree) SetIndex(ix *dicomscan.Index) {
	st.index = ix
	st.excluded = map[string]bool{}
	st.tree.Refresh()
	st.tree.OpenAllBranches()
}

// SelectedStudies returns the Study Instance UIDs still checked.
func (st *studyTree) SelectedStudies() []string {
	var uids []string
	if st.index == nil {
		return nil
	}
	for pi, p := range st.index.Patients {
		for si, s := range p.Studies {
			if !st.excluded[fmt.Sprintf("%d/%d", pi, si)] {
				uids = append(uids, s.InstanceUID)
			}
		}
	}
	return uids
}

func parseNodeID(id string) []int {
	if id == "" {
		return nil
	}
	parts := strings.Split(id, "/")
	out := make([]int, len(parts))
	for i, p := range parts {
		out[i], _ = strconv.Atoi(p)
	}
	return out
}

func (st *studyTree) children(id widget.TreeNodeID) []widget.TreeNodeID {
	if st.index == nil {
		return nil
	}
	path := parseNodeID(id)
	n := 0
	switch len(path) {
	case 0:
		n = len(st.index.Patients)
	case 1:
		n = len(st.index.Patients[path[0]].Studies)
	case 2:
		n = len(st.index.Patients[path[0]].Studies[path[1]].Series)
	}
	ids := make([]string, n)
	for i := range ids {
		if id == "" {
			ids[i] = strconv.Itoa(i)
		} else {
			ids[i] = id + "/" + strconv.Itoa(i)
		}
	}
	return ids
}

func (st *studyTree) isBranch(id widget.TreeNodeID) bool { return len(parseNodeID(id)) < 3 }

func (st *studyTree) create(bool) fyne.CanvasObject {
	check := widget.NewCheck("", nil)
	detail := widget.NewLabel("")
	detail.Importance = widget.LowImportance
	detail.Truncation = fyne.TextTruncateEllipsis
	return container.NewBorder(nil, nil, check, nil, detail)
}

func (st *studyTree) update(id widget.TreeNodeID, _ bool, o fyne.CanvasObject) {
	row := o.(*fyne.Container)
	detail := row.Objects[0].(*widget.Label)
	check := row.Objects[1].(*widget.Check)
	label, info := st.describe(id)
	if len(parseNodeID(id)) == 3 {
		check.Hide()
		detail.SetText(label + "   " + info)
		detail.Importance = widget.MediumImportance
		return
	}
	check.Show()
	detail.Importance = widget.LowImportance
	check.OnChanged = nil
	check.Text = label
	check.SetChecked(st.checked(id))
	check.OnChanged = func(on bool) { st.setChecked(id, on) }
	check.Refresh()
	detail.SetText(info)
}

// describe returns the row's title and its counts, dates and sizes.
func (st *studyTree) describe(id string) (string, string) {
	path := parseNodeID(id)
	p := st.index.Patients[path[0]]
	switch len(path) {
	case 1:
		files, bytes := 0, int64(0)
		for _, s := range p.Studies {
			files += s.Files
			bytes += s.Bytes
		}
		title := fmt.Sprintf("%s (%s)", dicomscan.FormatName(p.Name), p.ID)
		if p.BirthDate != "" {
			title = fmt.Sprintf("%s, %s %s", title, st.u.t("ui.send.born"), st.u.dicomDate(p.BirthDate))
		}
		return title, st.u.counts("ui.send.confirmStudies", len(p.Studies), files, bytes)
	case 2:
		s := p.Studies[path[1]]
		title := s.Description
		if title == "" {
			title = st.u.t("ui.send.study")
		}
		return fmt.Sprintf("%s  %s  %s", st.u.dicomDate(s.Date), strings.Join(s.Modalities, ", "), title),
			st.u.counts("ui.send.series", len(s.Series), s.Files, s.Bytes)
	default:
		r := p.Studies[path[1]].Series[path[2]]
		title := r.Description
		if title == "" {
			title = st.u.t("ui.send.seriesNumber", r.Number)
		}
		return fmt.Sprintf("%s  %s", r.Modality, title),
			st.u.n("ui.send.confirmImages", len(r.Instances), len(r.Instances)) + ", " + st.u.bytes(r.Bytes)
	}
}

// checked: a study is checked unless excluded; a patient is checked while
// any of its studies is.
func (st *studyTree) checked(id string) bool {
	if len(parseNodeID(id)) == 2 {
		return !st.excluded[id]
	}
	for _, c := range st.children(id) {
		if st.checked(c) {
			return true
		}
	}
	return false
}

func (st *studyTree) setChecked(id string, on bool) {
	if len(parseNodeID(id)) == 2 {
		if on {
			delete(st.excluded, id)
		} else {
			st.excluded[id] = true
		}
	} else {
		for _, c := range st.children(id) {
			st.setChecked(c, on)
		}
	}
	st.tree.Refresh()
	if st.onChange != nil {
		st.onChange()
	}
}

// counts is "2 studies, 10 images, 21.5 kB" with the right plural forms.
func (u *UI) counts(key string, n, files int, bytes int64) string {
	return u.t("ui.send.summaryLine", u.n(key, n, n), u.n("ui.send.confirmImages", files, files), u.bytes(bytes))
}
