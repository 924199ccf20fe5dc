package admin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/portal"
	"github.com/bildbote/bildbote/portal/accesscode"
	"github.com/bildbote/bildbote/portal/codesheet"
)

// issueOptions are the inputs of `code issue`.
type issueOptions struct {
	data, dob, studyDate, password, questionDE, questionEN, answer string
	patient, publicURL, sheet, issuer                              string
	expires                                                        time.Duration
	paths                                                          []string
}

func (e *env) codeIssue(args []string) error {
	f := e.newFlags("code issue")
	var o issueOptions
	f.StringVar(&o.data, "data", "", "data directory")
	f.StringVar(&o.dob, "dob", "", "patient's date of birth (YYYY-MM-DD); default: from the DICOM files")
	f.StringVar(&o.studyDate, "study-date", "", "also ask for the study date (YYYY-MM-DD)")
	f.StringVar(&o.password, "password", "", "also ask for this password / one-time code")
	f.StringVar(&o.questionDE, "question-de", "", "also ask this custom question (German text)")
	f.StringVar(&o.questionEN, "question-en", "", "also ask this custom question (English text)")
	f.StringVar(&o.answer, "answer", "", "the answer to the custom question")
	f.StringVar(&o.patient, "patient", "", "only the studies of this Patient ID")
	f.StringVar(&o.publicURL, "public-url", "", "portal address for the sheet (default: the one serve uses)")
	f.StringVar(&o.sheet, "sheet", "", "write the code sheet PDF to this file (outside the data dir), or - for stdout; none by default")
	f.StringVar(&o.issuer, "issuer", "", "practice or clinic name printed on the sheet")
	o.expires = 90 * 24 * time.Hour
	f.Var(durationFlag{&o.expires}, "expires", "validity (e.g. 90d)")
	paths, err := f.parseData(args, &o.data)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		fmt.Fprintln(e.stderr, i18n.T(e.lang, "portal.usage.paths"))
		return errUsage
	}
	o.paths = paths
	if insideDir(o.data, o.sheet) {
		return i18n.NewError(i18n.KindInput, "portal.err.sheet_in_data", o.sheet)
	}
	if o.sheet != "" {
		// The sheet's address is settled before the code exists.
		u, err := publicURL(o.data, o.publicURL)
		if err != nil {
			return err
		}
		o.publicURL = u
	}
	return e.issue(context.Background(), o)
}

func (e *env) issue(ctx context.Context, o issueOptions) (err error) {
	rid := portal.NewRecordID()
	staged, err := portal.StageItems(ctx, o.data, rid, o.paths, portal.StageOptions{PatientID: o.patient})
	defer func() {
		if err != nil {
			os.RemoveAll(portal.RecordDir(o.data, rid))
		}
	}()
	if err != nil {
		return err
	}
	if n := len(staged.Patients); n > 1 {
		fmt.Fprintln(e.stderr, i18n.T(e.lang, "portal.issue.several_patients", n))
	}
	questions, err := e.questions(o, staged)
	if err != nil {
		return err
	}
	s, err := portal.OpenAdmin(o.data)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.IssueCode(ctx, portal.IssueRequest{
		RecordID: rid, Items: staged.Items, Questions: questions, ExpiresAt: time.Now().Add(o.expires),
	})
	if err != nil {
		return err
	}
	// The code exists in clear only here: on stdout (or, when the sheet
	// goes to stdout, on stderr) and in the sheet where the operator
	// wants it. The portal keeps neither.
	expires := res.ExpiresAt.Local().Format("2006-01-02")
	switch o.sheet {
	case "":
		fmt.Fprintln(e.stdout, accesscode.Format(res.Code))
		fmt.Fprintln(e.stderr, i18n.T(e.lang, "portal.issue.done_nosheet", res.RecordID, len(staged.Items), expires))
	case "-":
		if err := writeSheet(e.stdout, o, res, questions, staged, e.lang); err != nil {
			return err
		}
		fmt.Fprintln(e.stderr, accesscode.Format(res.Code))
		fmt.Fprintln(e.stderr, i18n.T(e.lang, "portal.issue.done", res.RecordID, len(staged.Items), expires, "-"))
	default:
		if err := writeSheetFile(o, res, questions, staged, e.lang); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, accesscode.Format(res.Code))
		fmt.Fprintln(e.stderr, i18n.T(e.lang, "portal.issue.done", res.RecordID, len(staged.Items), expires, o.sheet))
	}
	return nil
}

// insideDir reports whether path lies inside dir (after making both
// absolute and clean; an empty path or "-" never does).
func insideDir(dir, path string) bool {
	if path == "" || path == "-" {
		return false
	}
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return true
	}
	if r, err := filepath.EvalSymlinks(d); err == nil {
		d = r
	}
	if r, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		p = filepath.Join(r, filepath.Base(p))
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// questions turns the flags into second factors: the date of birth
// first (from --dob, else the one patient's DICOM birth date), then the
// optional ones.
func (e *env) questions(o issueOptions, staged *portal.Staged) ([]portal.QuestionSpec, error) {
	var qs []portal.QuestionSpec
	dob := o.dob
	if dob == "" && len(staged.Patients) == 1 {
		dob = staged.Patients[0].BirthDate
	}
	if dob != "" {
		qs = append(qs, portal.QuestionSpec{Type: portal.QuestionBirthDate, Answer: dob})
	}
	if o.studyDate != "" {
		qs = append(qs, portal.QuestionSpec{Type: portal.QuestionStudyDate, Answer: o.studyDate})
	}
	if o.password != "" {
		qs = append(qs, portal.QuestionSpec{Type: portal.QuestionPassword, Answer: o.password})
	}
	if o.questionDE != "" || o.questionEN != "" || o.answer != "" {
		texts := map[string]string{}
		if o.questionDE != "" {
			texts["de"] = o.questionDE
		}
		if o.questionEN != "" {
			texts["en"] = o.questionEN
		}
		qs = append(qs, portal.QuestionSpec{Type: portal.QuestionCustom, Answer: o.answer, Texts: texts})
	}
	if len(qs) == 0 {
		return nil, i18n.NewError(i18n.KindInput, "portal.err.no_question")
	}
	return qs, nil
}

// writeSheetFile writes the code sheet to o.sheet (mode 0600).
func writeSheetFile(o issueOptions, res portal.IssueResult, qs []portal.QuestionSpec, staged *portal.Staged, lang i18n.Lang) error {
	f, err := os.OpenFile(o.sheet, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("code sheet: %w", err)
	}
	err = writeSheet(f, o, res, qs, staged, lang)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("code sheet: %w", cerr)
	}
	return err
}

// writeSheet writes the code sheet PDF to w.
func writeSheet(w io.Writer, o issueOptions, res portal.IssueResult, qs []portal.QuestionSpec, staged *portal.Staged, lang i18n.Lang) error {
	var types []string
	for _, q := range qs {
		types = append(types, q.Type)
	}
	studies, reports := 0, 0
	for _, it := range staged.Items {
		if it.Kind == portal.KindStudy {
			studies++
		} else {
			reports++
		}
	}
	pub, err := publicURL(o.data, o.publicURL)
	if err != nil {
		return err
	}
	err = codesheet.Write(w, codesheet.Sheet{
		Code: res.Code, PublicURL: pub, ExpiresAt: res.ExpiresAt,
		Questions: types, Issuer: o.issuer, Contents: i18n.T(lang, "portal.issue.contents", studies, reports),
	})
	if err != nil {
		return fmt.Errorf("code sheet: %w", err)
	}
	return nil
}
