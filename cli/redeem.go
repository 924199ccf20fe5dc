package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// bildbote-cli redeem [--portal URL] [--dob DATE | --dob-file FILE |
// --answer ID=VALUE… | --answer-file FILE] [--item ID…] [--out DIR]
// [--pacs TARGET… [--copy]] [--expires DATE] [--list] [--code-file FILE]
// [CODE|URL|IMAGE]
//
// With --pacs the studies are imported into each PACS target (dicom:// or
// http(s)://, as receive; tls=1 with --pacs-ca/--pacs-cert/--pacs-key); a
// copy is kept only with --out DIR or --copy (into the library).
//
// The code, the date of birth and the answers are secrets: from a file,
// the environment (BILDBOTE_CODE, BILDBOTE_DOB) or a prompt; given on the
// command line they work but a warning says that every user can see them.
func runRedeem(e *env, args []string) int {
	var cf coreFlags
	fs := newFlags("redeem")
	cf.register(fs, true)
	dob := fs.String("dob", "", "")
	dobFile := fs.String("dob-file", "", "")
	answerFile := fs.String("answer-file", "", "")
	codeFile := fs.String("code-file", "", "")
	var answers, items stringList
	fs.Var(&answers, "answer", "")
	fs.Var(&items, "item", "")
	out := fs.String("out", "", "")
	var pacs stringList
	fs.Var(&pacs, "pacs", "")
	keepCopy := fs.Bool("copy", false, "")
	patientID := fs.String("patient-id", "", "")
	expires := fs.String("expires", "", "")
	listOnly := fs.Bool("list", false, "")
	var tf pacsTLSFlags
	tf.register(fs)
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		return e.usageError("cli.redeem.need-code")
	}
	pr := e.printer(cf.json)
	if *keepCopy && len(pacs) == 0 {
		return e.usageError("cli.redeem.copy-needs-pacs")
	}
	for _, t := range pacs {
		if _, err := app.ParsePACSTarget(t); err != nil {
			return pr.Error(err)
		}
	}
	if *patientID != "" {
		if len(pacs) == 0 {
			return e.usageError("cli.patient-id-needs-pacs")
		}
		if _, err := app.CheckPatientID(*patientID); err != nil {
			return pr.Error(err)
		}
	}
	codeArg := ""
	if len(pos) == 1 {
		codeArg = pos[0]
		if !looksLikeFile(codeArg) {
			e.warnArgv(tr(e, "cli.secret.code-arg"), "cli.secret.code-instead")
		}
	} else {
		c, err := e.secret("", "", *codeFile, EnvCode, "")
		if err != nil {
			return pr.Error(i18n.NewError(i18n.KindInput, "cli.secret.bad-file", *codeFile, err))
		}
		if c == "" {
			p, ok, err := e.readHidden(tr(e, "cli.secret.code-prompt"))
			if !ok || err != nil {
				return e.usageError("cli.redeem.need-code")
			}
			c = p
		}
		codeArg = c
	}
	dobValue, err := e.secret(*dob, "--dob", *dobFile, EnvDOB, "cli.secret.dob-instead")
	if err != nil {
		return pr.Error(i18n.NewError(i18n.KindInput, "cli.secret.bad-file", *dobFile, err))
	}
	*dob = dobValue
	if len(answers) > 0 {
		e.warnArgv("--answer", "cli.secret.answer-instead")
	}
	if *answerFile != "" {
		data, err := os.ReadFile(*answerFile)
		if err != nil {
			return pr.Error(i18n.NewError(i18n.KindInput, "cli.secret.bad-file", *answerFile, err))
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				answers = append(answers, line)
			}
		}
	}
	core, err := e.open(&cf)
	if err != nil {
		return pr.Error(err)
	}
	defer core.Close()
	if err := tf.apply(core); err != nil {
		return pr.Error(err)
	}
	s, err := core.RedeemStart(e.ctx, cf.portal, codeArg)
	if err != nil {
		return pr.Error(err)
	}
	given := map[string]string{}
	for _, a := range answers {
		id, v, ok := strings.Cut(a, "=")
		if !ok {
			return e.usageError("cli.redeem.bad-answer", a)
		}
		given[id] = v
	}
	for _, q := range s.Questions {
		if _, ok := given[q.ID]; ok {
			continue
		}
		if q.AsksBirthDate() && *dob != "" {
			given[q.ID] = *dob
			continue
		}
		if !e.isTTY() {
			return pr.Error(i18n.NewError(i18n.KindInput, "cli.redeem.unanswered", q.Text, q.ID).WithHint("cli.redeem.unanswered.hint"))
		}
		v, err := e.readLine(q.Text + ": ")
		if err != nil {
			return pr.Error(err)
		}
		given[q.ID] = v
	}
	list, err := s.Answer(e.ctx, given)
	if err != nil {
		return pr.Error(err)
	}
	if *expires != "" {
		t, err := parseDay(*expires)
		if err != nil {
			return e.usageError("cli.redeem.bad-expires", *expires)
		}
		s.SetExpiry(t)
	}
	if *listOnly {
		pr.Result(list, func(w io.Writer) { printItems(e, w, list) })
		return ExitOK
	}
	sub := core.Subscribe()
	job, err := core.StartSaveWith(s, items, *out, app.SaveOptions{PACS: pacs, NoCopy: len(pacs) > 0 && *out == "" && !*keepCopy, PatientID: *patientID})
	if err != nil {
		sub.Close()
		return pr.Error(err)
	}
	j, code := follow(e, core, pr, sub, job.ID)
	if code != ExitOK {
		return code
	}
	printJobResult(e, pr, j)
	return ExitOK
}

func printItems(e *env, w io.Writer, items []app.Item) {
	for _, it := range items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", it.ID, it.Date, it.Description, it.MIMEType)
	}
}

func parseDay(s string) (time.Time, error) {
	d, ok := app.NormalizeDate(s)
	if !ok {
		return time.Time{}, fmt.Errorf("not a date: %q", s)
	}
	return time.ParseInLocation("20060102", d, time.Local)
}
