package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// bildbote-cli doctor [--portal URL] [--timeout D] [--json] and the proxy
// flags: app.Core.Doctor's steps (portal address, proxy, DNS, TLS, the
// portal's answers, clock skew), one line each as it ends, with what was
// found and what to do indented under it. Exit code 0 when no step
// failed (warnings included), else the code of the first failure's kind:
// 3 an address or login to fix, or the clock; 4 a certificate or the
// policy; 5 the network or the server.
func runDoctor(e *env, args []string) int {
	var cf coreFlags
	fs := newFlags("doctor")
	cf.register(fs, true)
	timeout := fs.Duration("timeout", app.DefaultDoctorTimeout, "")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageError("cli.bad-flag", pos[0])
	}
	if *timeout <= 0 {
		return e.usageError("cli.doctor.bad-timeout", timeout.String())
	}
	core, pr, code := e.openCore(&cf)
	if core == nil {
		return code
	}
	defer core.Close()
	opts := app.DoctorOptions{Timeout: *timeout}
	if jp, ok := pr.(*jsonPrinter); ok {
		// progress: one JSON line per step on stderr, the report at the end
		opts.Progress = func(st app.DoctorStep) {
			jp.line(map[string]any{"type": "doctor", "step": st.Name, "status": st.Status, "found": st.Found.Text(e.lang)})
		}
	} else {
		opts.Progress = func(st app.DoctorStep) { printDoctorStep(e, e.stdout, st) }
	}
	rep := core.Doctor(e.ctx, cf.portal, opts)
	exit := doctorExit(rep)
	if e.ctx.Err() != nil {
		exit = ExitTransient // interrupted: not checked
	}
	out := doctorJSON{Portal: rep.Portal, Started: rep.Started, Millis: rep.Millis, OK: exit == ExitOK, ExitCode: exit}
	for _, st := range rep.Steps {
		out.Steps = append(out.Steps, doctorStepJSON(e.lang, st))
	}
	pr.Result(out, func(w io.Writer) {
		if f := rep.Failed(); f != nil {
			fmt.Fprintln(w, tr(e, "cli.doctor.failed", tr(e, "cli.doctor.step."+f.Name)))
			return
		}
		fmt.Fprintln(w, tr(e, "cli.doctor.passed"))
	})
	return exit
}

// doctorExit is ExitOK without a failed step, else the exit code of the
// first failure's kind.
func doctorExit(rep app.DoctorReport) int {
	f := rep.Failed()
	if f == nil {
		return ExitOK
	}
	switch f.Kind {
	case i18n.KindInput:
		return ExitInput
	case i18n.KindRefused:
		return ExitRefused
	}
	return ExitTransient
}

// printDoctorStep writes "STATUS Step: found", then the details and the
// hints indented.
func printDoctorStep(e *env, w io.Writer, st app.DoctorStep) {
	fmt.Fprintf(w, "%-*s %s: %s\n", statusWidth(e.lang), tr(e, "cli.doctor.status."+string(st.Status)),
		tr(e, "cli.doctor.step."+st.Name), st.Found.Text(e.lang))
	for _, d := range st.Details {
		fmt.Fprintln(w, "    "+d.Text(e.lang))
	}
	for _, h := range st.Hints {
		if t := h.Text(e.lang); t != "" {
			fmt.Fprintln(w, "    "+tr(e, "cli.doctor.todo", t))
		}
	}
}

// statusWidth pads the status column to its longest word in lang.
func statusWidth(lang i18n.Lang) int {
	n := 0
	for _, s := range []app.DoctorStatus{app.DoctorOK, app.DoctorWarn, app.DoctorFail, app.DoctorSkipped} {
		n = max(n, len([]rune(i18n.T(lang, "cli.doctor.status."+string(s)))))
	}
	return n
}

// doctorJSON is --json's document: the report with every text rendered.
type doctorJSON struct {
	Portal   string          `json:"portal"`
	Started  time.Time       `json:"started"`
	Millis   int64           `json:"ms"`
	OK       bool            `json:"ok"`
	ExitCode int             `json:"exitCode"`
	Steps    []doctorStepOut `json:"steps"`
}

type doctorStepOut struct {
	app.DoctorStep
	Title   string   `json:"title"`
	Found   string   `json:"found"`
	Details []string `json:"details,omitempty"`
	Hints   []string `json:"hints,omitempty"`
}

func doctorStepJSON(lang i18n.Lang, st app.DoctorStep) doctorStepOut {
	o := doctorStepOut{DoctorStep: st, Title: i18n.T(lang, "cli.doctor.step."+st.Name), Found: st.Found.Text(lang)}
	for _, d := range st.Details {
		o.Details = append(o.Details, d.Text(lang))
	}
	for _, h := range st.Hints {
		if t := h.Text(lang); t != "" {
			o.Hints = append(o.Hints, t)
		}
	}
	return o
}
