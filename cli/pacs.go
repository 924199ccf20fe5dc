package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/bildbote/bildbote/transfer/dimse"
)

// bildbote-cli pacs test [--json] [--timeout D] dicom://CALLED@host:port[?calling=AE]
//
// A C-ECHO: is the PACS there, and does it take us? A failure is the
// diagnosis in the user's words (nobody listens, AE title refused, no
// answer in time) with its exit code (4 refused, 5 try later, 3 input).
func runPacs(e *env, args []string) int {
	if len(args) == 0 || args[0] != "test" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(e.stdout, tr(e, "cli.usage.pacs"))
			return ExitOK
		}
		return e.usageError("cli.pacs.missing-action")
	}
	fs := newFlags("pacs")
	jsonOut := fs.Bool("json", false, "")
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
	pr := e.printer(*jsonOut)
	cfg, err := dimse.ParseTarget(pos[0])
	if err != nil {
		return pr.Error(err)
	}
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
