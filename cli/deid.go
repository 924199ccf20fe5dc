package cli

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
)

func init() {
	commands["deid"] = command{runDeid}
}

// deidFlags are the de-identification flags of send and deid preview:
// --deidentify [--keep-dates|--shift-dates] [--keep-patient-chars]
// [--keep-device] [--clean-descriptors] [--keep-uids] [--pseudonym NAME]
// [--accept-burned-in].
type deidFlags struct {
	on, keepDates, shiftDates, keepChars, keepDevice, clean, keepUIDs, acceptBurnedIn *bool
	pseudonym                                                                         *string
}

func (f *deidFlags) register(fs *flag.FlagSet, withSwitch bool) {
	if withSwitch {
		f.on = fs.Bool("deidentify", false, "")
		f.acceptBurnedIn = fs.Bool("accept-burned-in", false, "")
	}
	f.keepDates = fs.Bool("keep-dates", false, "")
	f.shiftDates = fs.Bool("shift-dates", false, "")
	f.keepChars = fs.Bool("keep-patient-chars", false, "")
	f.keepDevice = fs.Bool("keep-device", false, "")
	f.clean = fs.Bool("clean-descriptors", false, "")
	f.keepUIDs = fs.Bool("keep-uids", false, "")
	f.pseudonym = fs.String("pseudonym", "", "")
}

// profileSet: a profile flag was given (without --deidentify it would be
// silently ignored, so send refuses that).
func (f *deidFlags) profileSet() bool {
	return *f.keepDates || *f.shiftDates || *f.keepChars || *f.keepDevice || *f.clean || *f.keepUIDs ||
		*f.pseudonym != "" || (f.acceptBurnedIn != nil && *f.acceptBurnedIn)
}

// request is the app's Deidentify for the flags; ok is false after a
// usage error was printed (code).
func (f *deidFlags) request(e *env) (d app.Deidentify, code int, ok bool) {
	if *f.keepDates && *f.shiftDates {
		return d, e.usageError("cli.deid.dates-both"), false
	}
	d = app.Deidentify{Pseudonym: *f.pseudonym, KeepPatientCharacteristics: *f.keepChars,
		KeepDeviceIdentity: *f.keepDevice, CleanDescriptors: *f.clean, KeepUIDs: *f.keepUIDs}
	switch {
	case *f.keepDates:
		d.Dates = app.DatesKeep
	case *f.shiftDates:
		d.Dates = app.DatesShift
	}
	if f.acceptBurnedIn != nil {
		d.AcceptBurnedIn = *f.acceptBurnedIn
	}
	return d, 0, true
}

// sendDeid is send's de-identification: nil for a plain send. Without
// --deidentify a send to an inbox the policy forces is refused by the
// core (app.deid.required): turning it on silently would send under a
// pseudonym nobody chose and leave the sender without knowing that a
// mapping file now holds who it was.
func (f *deidFlags) sendDeid(e *env, pr printer, documents int) (*app.Deidentify, int, bool) {
	if !*f.on {
		if f.profileSet() {
			return nil, e.usageError("cli.deid.needs-switch"), false
		}
		return nil, 0, true
	}
	d, code, ok := f.request(e)
	if !ok {
		return nil, code, false
	}
	if d.Pseudonym == "" {
		d.Pseudonym = app.NewPseudonym()
		pr.Info("cli.deid.pseudonym-made", d.Pseudonym)
	}
	if documents > 0 {
		pr.Info("cli.deid.documents-left-out", documents)
	}
	return &d, 0, true
}

// bildbote-cli deid preview [profile flags] [--json] FILE
// bildbote-cli deid lookup [--json] [PSEUDONYM]
func runDeid(e *env, args []string) int {
	if len(args) == 0 {
		return e.usageError("cli.deid.which", "")
	}
	switch args[0] {
	case "preview":
		return runDeidPreview(e, args[1:])
	case "lookup":
		return runDeidLookup(e, args[1:])
	}
	return e.usageError("cli.deid.which", args[0])
}

func runDeidPreview(e *env, args []string) int {
	fs := newFlags("deid")
	var df deidFlags
	df.register(fs, false)
	jsonOut := fs.Bool("json", false, "")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageError("cli.missing-path")
	}
	d, code, ok := df.request(e)
	if !ok {
		return code
	}
	pr := e.printer(*jsonOut)
	pv, err := app.PreviewDeidentifyFile(pos[0], d)
	if err != nil {
		return pr.Error(err)
	}
	pr.Result(pv, func(w io.Writer) { printPreview(e, w, pv) })
	return ExitOK
}

// printPreview: one line per changed attribute, then the burned-in
// warnings.
func printPreview(e *env, w io.Writer, pv *app.DeidPreview) {
	fmt.Fprintln(w, tr(e, "cli.deid.preview-head", pv.Path, len(pv.Changes)))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range pv.Changes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t→ %s\n", c.Tag, c.Keyword, actionWord(e, c.Action), quoteOrDash(c.Old), quoteOrDash(c.New))
	}
	tw.Flush()
	for _, code := range pv.BurnedIn {
		fmt.Fprintln(w, tr(e, "cli.deid.preview-burned-in", app.ReasonWord(e.lang, code)))
	}
}

// actionWord names the profile's action code (PS3.15 Table E.1-1: D, Z,
// X, K, C, U), or shows the code as it is.
func actionWord(e *env, code string) string {
	switch code {
	case "D", "Z", "X", "K", "C", "U":
		return tr(e, "cli.deid.action."+code)
	}
	return code
}

func quoteOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return fmt.Sprintf("%q", s)
}

func runDeidLookup(e *env, args []string) int {
	var cf coreFlags
	fs := newFlags("deid")
	cf.register(fs, false)
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		return e.usageError("cli.deid.which", pos[1])
	}
	name := ""
	if len(pos) == 1 {
		name = pos[0]
	}
	core, pr, code := e.openCore(&cf)
	if core == nil {
		return code
	}
	defer core.Close()
	recs, err := core.DeidLookup(name)
	if err != nil {
		return pr.Error(err)
	}
	if len(recs) == 0 && name != "" {
		return pr.Error(i18n.NewError(i18n.KindInput, "cli.deid.unknown", name).WithHint("cli.deid.unknown.hint"))
	}
	if recs == nil {
		recs = []app.DeidRecord{}
	}
	pr.Result(recs, func(w io.Writer) {
		if len(recs) == 0 {
			fmt.Fprintln(w, tr(e, "cli.deid.none"))
			return
		}
		for _, r := range recs {
			fmt.Fprintln(w, tr(e, "cli.deid.record", r.Pseudonym, r.Job, i18n.FormatDateTime(e.lang, r.Written), r.Path))
			for _, p := range r.Mapping.Patients {
				born := ""
				if p.OrigBirthDate != "" {
					born = dicomscan.FormatDate(e.lang, p.OrigBirthDate)
				}
				fmt.Fprintln(w, "  "+tr(e, "cli.deid.patient", p.NewPatientName, dicomscan.FormatName(p.OrigPatientName), p.OrigPatientID, born))
			}
			fmt.Fprintln(w, "  "+tr(e, "cli.deid.uids", len(r.Mapping.UIDs)))
		}
	})
	return ExitOK
}

// deidNote is the job list's and the result's note on a de-identified
// send ("" for others).
func deidNote(e *env, j *app.Job) string {
	if j.Detail == nil || j.Detail.Send == nil || j.Detail.Send.Pseudonym == "" {
		return ""
	}
	return tr(e, "cli.deid.as", j.Detail.Send.Pseudonym)
}
