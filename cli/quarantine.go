package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// bildbote-cli quarantine [list] [--json]   envelopes that could not be opened
// bildbote-cli quarantine rm ID…            delete them
func runQuarantine(e *env, args []string) int {
	var cf coreFlags
	fs := newFlags("quarantine")
	cf.register(fs, false)
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	core, pr, code := e.openCore(&cf)
	if core == nil {
		return code
	}
	defer core.Close()
	if len(pos) == 0 || pos[0] == "list" {
		qs, err := core.Quarantine()
		if err != nil {
			return pr.Error(err)
		}
		pr.Result(qs, func(w io.Writer) { printQuarantine(e, w, qs) })
		return ExitOK
	}
	switch pos[0] {
	case "rm", "delete":
		if len(pos) < 2 {
			return e.usageError("cli.quarantine.need-id")
		}
		for _, id := range pos[1:] {
			if err := core.DeleteQuarantined(id); err != nil {
				return pr.Error(err)
			}
			pr.Info("cli.quarantine.deleted", id)
		}
		return ExitOK
	}
	return e.usageError("cli.quarantine.which", pos[0])
}

func printQuarantine(e *env, w io.Writer, qs []app.QuarantinedItem) {
	if len(qs) == 0 {
		fmt.Fprintln(w, tr(e, "cli.quarantine.none"))
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, tr(e, "cli.quarantine.header"))
	for _, q := range qs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", q.ID, q.Inbox, humanBytes(e, q.Size), i18n.FormatDateTime(e.lang, q.ReceivedAt), q.ReasonText(e.lang))
	}
	tw.Flush()
	fmt.Fprintln(w, tr(e, "cli.quarantine.hint"))
}
