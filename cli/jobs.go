package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// bildbote-cli jobs [--json]            list
// bildbote-cli jobs resume [ID…]        resume (all interrupted when no ID) and follow
// bildbote-cli jobs cancel ID…
// bildbote-cli jobs pause ID…
func runJobs(e *env, args []string) int {
	var cf coreFlags
	fs := newFlags("jobs")
	cf.register(fs, false)
	cf.registerProxy(fs)
	apiKey := fs.String("api-key", "", "")
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
		return listJobs(e, core, pr)
	}
	ids := pos[1:]
	switch pos[0] {
	case "resume":
		return resumeJobs(e, core, pr, ids, apiKeyFrom(*apiKey))
	case "cancel", "pause":
		if len(ids) == 0 {
			return e.usageError("cli.jobs.need-id")
		}
		for _, id := range ids {
			var err error
			if pos[0] == "cancel" {
				err = core.Cancel(id)
			} else {
				err = core.Pause(id)
			}
			if err != nil {
				return pr.Error(err)
			}
			if pos[0] == "cancel" {
				pr.Info("cli.jobs.cancelled", id)
			} else {
				pr.Info("cli.jobs.paused", id)
			}
		}
		return ExitOK
	}
	return e.usageError("cli.jobs.which", pos[0])
}

func listJobs(e *env, core *app.Core, pr printer) int {
	jobs, err := core.Jobs()
	if err != nil {
		return pr.Error(err)
	}
	if jobs == nil {
		jobs = []*app.Job{}
	}
	pr.Result(jobs, func(w io.Writer) {
		if len(jobs) == 0 {
			fmt.Fprintln(w, tr(e, "cli.jobs.none"))
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, tr(e, "cli.jobs.header"))
		for _, j := range jobs {
			state := tr(e, "cli.job.state."+string(j.State))
			if j.Interrupted {
				state += " " + tr(e, "cli.jobs.interrupted")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, tr(e, "cli.job.kind."+string(j.Kind)), state,
				progressCell(e, j), i18n.FormatDateTime(e.lang, j.Created), j.LocalTitle(e.lang)+deidNote(e, j))
			if j.Error != nil && (j.State == app.StateFailed || j.State == app.StateWaiting) {
				fmt.Fprintf(tw, "\t\t%s\n", j.Error.Message(e.lang))
			}
		}
		tw.Flush()
	})
	return ExitOK
}

func progressCell(e *env, j *app.Job) string {
	if j.BytesTotal > 0 {
		return fmt.Sprintf("%s/%s", humanBytes(e, j.BytesDone), humanBytes(e, j.BytesTotal))
	}
	return humanBytes(e, j.BytesDone)
}

func resumeJobs(e *env, core *app.Core, pr printer, ids []string, apiKey string) int {
	if len(ids) == 0 {
		unfinished, err := core.Unfinished()
		if err != nil {
			return pr.Error(err)
		}
		for _, j := range unfinished {
			if j.Interrupted || j.State == app.StatePaused {
				ids = append(ids, j.ID)
			}
		}
		if len(ids) == 0 {
			pr.Info("cli.jobs.nothing-to-resume")
			return ExitOK
		}
	}
	if apiKey != "" {
		for _, id := range ids {
			if j, err := core.Job(id); err == nil && j.Kind == app.KindImport {
				if inbox := app.ImportInbox(j); inbox != "" {
					core.SetInboxKey(inbox, apiKey)
				}
			}
		}
	}
	worst := ExitOK
	for _, id := range ids {
		sub := core.Subscribe()
		if err := core.Resume(id); err != nil {
			sub.Close()
			return pr.Error(err)
		}
		j, code := follow(e, core, pr, sub, id)
		if code != ExitOK {
			worst = code
			continue
		}
		printJobResult(e, pr, j)
	}
	return worst
}

// follow shows a job's progress until it stops, and maps its end to an
// exit code. A signal pauses the job (resumable) and exits ExitTransient.
func follow(e *env, core *app.Core, pr printer, sub *app.Subscription, id string) (*app.Job, int) {
	defer sub.Close()
	if j, err := core.Job(id); err == nil {
		pr.Job(j)
	}
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				return nil, ExitFailure
			}
			if ev.Job == nil || ev.Job.ID != id {
				continue
			}
			pr.Job(ev.Job)
			if ev.Type != app.EventJobState {
				continue
			}
			switch ev.Job.State {
			case app.StateDone:
				pr.Done()
				return ev.Job, ExitOK
			case app.StateFailed:
				return ev.Job, pr.Error(ev.Job.Error.UserError())
			case app.StateCanceled:
				pr.Info("cli.jobs.cancelled", id)
				return ev.Job, ExitFailure
			case app.StatePaused:
				pr.Info("cli.jobs.paused", id)
				return ev.Job, ExitTransient
			}
		case <-e.ctx.Done():
			// Pause keeps everything done so far; jobs resume continues.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			core.Pause(id)
			core.Wait(ctx, id)
			pr.Info("cli.jobs.paused", id)
			return nil, ExitTransient
		}
	}
}

// printJobResult prints a finished job's receipt.
func printJobResult(e *env, pr printer, j *app.Job) {
	pr.Result(j, func(w io.Writer) {
		rc := j.Receipt
		if rc == nil {
			fmt.Fprintln(w, tr(e, "cli.jobs.done", j.ID))
			return
		}
		if u := rc.Upload; u != nil {
			fmt.Fprintln(w, tr(e, "cli.send.receipt", u.CommunityName, u.Community, humanBytes(e, u.Size),
				u.ReceivedAt.Local().Format("2006-01-02 15:04:05"), u.ID))
			fmt.Fprintln(w, tr(e, "cli.send.sha256", u.SHA256))
			if note := deidNote(e, j); note != "" {
				fmt.Fprintln(w, tr(e, "cli.deid.sent", j.Detail.Send.Pseudonym, j.Detail.Send.Pseudonym))
			}
		}
		for _, s := range rc.Saved {
			if s.Dir != "" {
				fmt.Fprintln(w, tr(e, "cli.redeem.saved", s.Dir, s.Files))
			} else {
				fmt.Fprintln(w, tr(e, "cli.redeem.into-pacs", s.ItemID, s.Files))
			}
			printPACSInstances(e, w, s.PACS)
		}
		for _, r := range rc.Imported {
			line := tr(e, "cli.receive.imported", r.ItemID, r.Files)
			if r.Dir != "" {
				line += " → " + r.Dir
			}
			if r.Stored+r.Failed > 0 {
				line += " " + tr(e, "cli.receive.stored", r.Stored, r.Failed)
			}
			fmt.Fprintln(w, line)
			printPACSInstances(e, w, r.PACS)
		}
		printPACSInstances(e, w, rc.PACSRefused)
		for _, q := range rc.Quarantined {
			fmt.Fprintln(w, tr(e, "cli.receive.quarantined", q.ItemID, q.ReasonText(e.lang), q.ID))
		}
	})
}

// printPACSInstances prints, per PACS target, how many instances it
// stored, and one line for each instance it did not simply store (a
// warning, a failure, not sent) with its status code and comment. The
// --json receipt has every instance.
func printPACSInstances(e *env, w io.Writer, insts []app.PACSInstance) {
	var order []string
	count := map[string]int{}
	for _, pi := range insts {
		if _, ok := count[pi.Target]; !ok {
			order = append(order, pi.Target)
			count[pi.Target] = 0
		}
		if pi.Confirmed() {
			count[pi.Target]++
		}
	}
	for _, t := range order {
		fmt.Fprintln(w, "  "+tr(e, "cli.receive.pacs-target", t, count[t]))
		for _, pi := range insts {
			if pi.Target == t && pi.PatientID != "" {
				fmt.Fprintln(w, "    "+tr(e, "cli.receive.pacs-patient-id", pi.PatientID))
				break
			}
		}
		for _, pi := range insts {
			if pi.Target != t || pi.Status == app.PACSSuccess {
				continue
			}
			line := "    " + tr(e, "cli.receive.pacs-"+pi.Status, pi.SOPInstanceUID)
			if pi.Code != "" {
				line += " [" + pi.Code + "]"
			}
			if pi.Comment != "" {
				line += " " + pi.Comment
			}
			switch {
			case pi.Status == app.PACSWarning:
			case pi.Reason != nil:
				line += " – " + pi.Reason.Message(e.lang)
			case pi.Error != "":
				line += " – " + pi.Error
			}
			fmt.Fprintln(w, line)
		}
	}
}
