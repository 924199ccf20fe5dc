package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/transfer/dimse"
)

// bildbote-cli pacs test [--json] [--timeout D] TARGET
//
// TARGET dicom://CALLED@host:port[?calling=AE]: a C-ECHO — is the PACS
// there, and does it take us? TARGET http(s)://…/dicom-web: a QIDO-RS
// search (app.Core.TestPACS; opens the state for the proxy and limits).
// A failure is the diagnosis in the user's words (nobody listens, AE
// title refused, login needed, no DICOMweb there, no answer in time) with
// its exit code (4 refused, 5 try later, 3 input).
func runPacs(e *env, args []string) int {
	if len(args) == 0 || args[0] != "test" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(e.stdout, tr(e, "cli.usage.pacs"))
			return ExitOK
		}
		return e.usageError("cli.pacs.missing-action")
	}
	fs := newFlags("pacs")
	var cf coreFlags
	cf.register(fs, false)
	cf.registerProxy(fs)
	timeout := fs.Duration("timeout", 10*time.Second, "")
	pos, code, ok := e.parse(fs, args[1:])
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageError("cli.pacs.missing-target")
	}
	if *timeout <= 0 {
		return e.usageError("cli.bad-flag", "--timeout")
	}
	pr := e.printer(cf.json)
	target, err := app.ParsePACSTarget(pos[0])
	if err != nil {
		return pr.Error(err)
	}
	if target.DIMSE == nil {
		core, err := e.open(&cf)
		if err != nil {
			return pr.Error(err)
		}
		defer core.Close()
		start := time.Now()
		if err := core.TestPACSTarget(e.ctx, target.Raw, *timeout); err != nil {
			return pr.Error(err)
		}
		ms := time.Since(start).Milliseconds()
		pr.Result(map[string]any{"target": target.String(), "qido": "ok", "milliseconds": ms}, func(w io.Writer) {
			fmt.Fprintln(w, tr(e, "cli.pacs.ok-web", target.String(), ms))
		})
		return ExitOK
	}
	cfg := *target.DIMSE
	cfg.ConnectTimeout, cfg.ARTIM, cfg.ReadTimeout, cfg.WriteTimeout = *timeout, *timeout, *timeout, *timeout
	start := time.Now()
	err = dimse.Echo(e.ctx, cfg)
	if err != nil {
		return pr.Error(err)
	}
	ms := time.Since(start).Milliseconds()
	pr.Result(map[string]any{
		"target": pos[0], "address": cfg.Addr, "calledAE": cfg.Called, "callingAE": cfg.Calling,
		"echo": "ok", "milliseconds": ms,
	}, func(w io.Writer) {
		fmt.Fprintln(w, tr(e, "cli.pacs.ok", cfg.Called, cfg.Addr, cfg.Calling, ms))
	})
	return ExitOK
}
