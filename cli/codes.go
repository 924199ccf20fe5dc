package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// bildbote-cli codes [--json]: redeemed codes and when they expire.
func runCodes(e *env, args []string) int {
	var cf coreFlags
	fs := newFlags("codes")
	cf.register(fs, false)
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	core, pr, code := e.openCore(&cf)
	if core == nil {
		return code
	}
	defer core.Close()
	codes, err := core.Codes()
	if err != nil {
		return pr.Error(err)
	}
	notes, err := core.Notifications(time.Now())
	if err != nil {
		return pr.Error(err)
	}
	if codes == nil {
		codes = []app.RedeemedCode{}
	}
	pr.Result(map[string]any{"codes": codes, "notifications": notes}, func(w io.Writer) {
		if len(codes) == 0 {
			fmt.Fprintln(w, tr(e, "cli.codes.none"))
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, tr(e, "cli.codes.header"))
		for _, c := range codes {
			exp := tr(e, "cli.codes.unknown-expiry")
			if !c.Expires.IsZero() {
				exp = i18n.FormatDate(e.lang, c.Expires)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", c.Masked, c.Portal, i18n.FormatDate(e.lang, c.RedeemedAt), exp, len(c.Saved))
		}
		tw.Flush()
		for _, n := range notes {
			fmt.Fprintln(w, "! "+n.Text(e.lang))
		}
	})
	return ExitOK
}
