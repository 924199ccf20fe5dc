package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// apiKeyFrom returns the flag's key or BILDBOTE_API_KEY.
func apiKeyFrom(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("BILDBOTE_API_KEY")
}

// bildbote-cli receive --portal URL --inbox CODE --api-key KEY [--to DIR]
// [--pacs TARGET]... [--patient-id ID] [--pacs-ca FILE] [--pacs-cert FILE
// --pacs-key FILE] [--watch [--interval D]] [--list]
//
// TARGET is dicom://CALLED@host:port[?calling=AE][&tls=1] (C-STORE; tls=1
// over DICOM TLS with the --pacs-* files, see app.Core.PACSTLS) or
// http(s)://…/dicom-web (STOW-RS); --pacs may be repeated, --stow is the
// older name of the same flag. --patient-id gives every instance sent to
// the PACS the clinic's patient ID (the original kept in Other Patient IDs
// Sequence); only for an import of one patient, not with --watch.
func runReceive(e *env, args []string) int {
	var cf coreFlags
	fs := newFlags("receive")
	cf.register(fs, true)
	inbox := fs.String("inbox", "", "")
	apiKeyFlag := fs.String("api-key", "", "")
	to := fs.String("to", "", "")
	var pacs stringList
	fs.Var(&pacs, "pacs", "")
	fs.Var(&pacs, "stow", "")
	watch := fs.Bool("watch", false, "")
	interval := fs.Duration("interval", time.Minute, "")
	listOnly := fs.Bool("list", false, "")
	patientID := fs.String("patient-id", "", "")
	var tf pacsTLSFlags
	tf.register(fs)
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	}
	pr := e.printer(cf.json)
	for _, t := range pacs {
		if _, err := app.ParsePACSTarget(t); err != nil {
			return pr.Error(err)
		}
	}
	if *patientID != "" {
		switch {
		case len(pacs) == 0:
			return e.usageError("cli.patient-id-needs-pacs")
		case *watch:
			// Every round would give the next patient's envelope this ID.
			return e.usageError("cli.receive.patient-id-watch")
		}
		if _, err := app.CheckPatientID(*patientID); err != nil {
			return pr.Error(err)
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
	if *inbox == "" {
		*inbox = core.Settings().DefaultInbox
	}
	apiKey := apiKeyFrom(*apiKeyFlag)
	if *inbox == "" || apiKey == "" {
		return e.usageError("cli.receive.need-inbox")
	}
	if *listOnly {
		items, err := core.InboxList(e.ctx, cf.portal, *inbox, apiKey)
		if err != nil {
			return pr.Error(err)
		}
		if items == nil {
			items = []app.InboxItem{}
		}
		pr.Result(items, func(w io.Writer) {
			for _, it := range items {
				fmt.Fprintf(w, "%s\t%s\t%s\n", it.ID, humanBytes(e, it.Size), i18n.FormatDateTime(e.lang, it.ReceivedAt))
			}
		})
		return ExitOK
	}
	// refused remembers envelopes that failed for good (tampered, not for
	// us, refused by the PACS): --watch does not fetch them every round.
	refused := map[string]bool{}
	for {
		req := app.ImportRequest{Portal: cf.portal, Inbox: *inbox, APIKey: apiKey, ToDir: *to, PACS: pacs, PatientID: *patientID}
		if *watch && len(refused) > 0 {
			items, err := core.InboxList(e.ctx, cf.portal, *inbox, apiKey)
			if err != nil {
				pr.Error(err)
			}
			for _, it := range items {
				if !refused[it.ID] {
					req.ItemIDs = append(req.ItemIDs, it.ID)
				}
			}
			if err != nil || len(req.ItemIDs) == 0 {
				goto wait
			}
		}
		{
			code, j := receiveOnce(e, core, pr, req)
			if !*watch || code == ExitInput || code == ExitUsage {
				return code
			}
			if code == ExitRefused && j != nil {
				markRefused(e, core, j, refused)
			}
		}
	wait:
		select {
		case <-e.ctx.Done():
			return ExitOK
		case <-time.After(*interval):
		}
	}
}

func receiveOnce(e *env, core *app.Core, pr printer, req app.ImportRequest) (int, *app.Job) {
	sub := core.Subscribe()
	job, err := core.StartImport(req)
	if err != nil {
		sub.Close()
		return pr.Error(err), nil
	}
	if job == nil {
		sub.Close()
		pr.Info("cli.receive.empty")
		return ExitOK, nil
	}
	j, code := follow(e, core, pr, sub, job.ID)
	if j != nil && j.Receipt != nil {
		printJobResult(e, pr, j)
	}
	return code, j
}

// markRefused records the envelopes a failed import did not import.
func markRefused(e *env, core *app.Core, j *app.Job, refused map[string]bool) {
	done := map[string]bool{}
	if j.Receipt != nil {
		for _, r := range j.Receipt.Imported {
			done[r.ItemID] = true
		}
	}
	for _, id := range app.ImportItems(j) {
		if !done[id] {
			refused[id] = true
		}
	}
}
