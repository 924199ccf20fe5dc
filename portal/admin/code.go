package admin

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/portal"
)

func (e *env) codeList(args []string) error {
	f := e.newFlags("code list")
	data := f.dataDir()
	asJSON := f.Bool("json", false, "print JSON")
	if _, err := f.parseData(args, data); err != nil {
		return err
	}
	s, err := portal.OpenAdmin(*data)
	if err != nil {
		return err
	}
	defer s.Close()
	list, err := s.ListCodes(context.Background())
	if err != nil {
		return err
	}
	if *asJSON {
		return e.printJSON(list)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, i18n.T(e.lang, "portal.code.list_header"))
	for _, c := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", c.RecordID, c.CreatedAt.Local().Format("2006-01-02"),
			c.ExpiresAt.Local().Format("2006-01-02"), c.Items, strings.Join(c.Questions, ","), c.Downloads, c.Failures, e.codeState(c, now))
	}
	return tw.Flush()
}

func (e *env) codeState(c portal.CodeInfo, now time.Time) string {
	switch {
	case c.Revoked:
		return i18n.T(e.lang, "portal.code.state_revoked")
	case !now.Before(c.ExpiresAt):
		return i18n.T(e.lang, "portal.code.state_expired")
	case now.Before(c.LockedUntil):
		return i18n.T(e.lang, "portal.code.state_locked", c.LockedUntil.Local().Format("2006-01-02 15:04"))
	}
	return i18n.T(e.lang, "portal.code.state_active")
}

func (e *env) codeExtend(args []string) error {
	f := e.newFlags("code extend")
	data := f.dataDir()
	expires := 30 * 24 * time.Hour
	f.Var(durationFlag{&expires}, "expires", "new validity from now (e.g. 30d)")
	unlock := f.Bool("unlock", false, "only lift the code's lock-outs (with --expires: and extend)")
	ref, err := f.parseOneRef(args, data)
	if err != nil {
		return err
	}
	expiresSet := false
	f.Visit(func(fl *flag.Flag) { expiresSet = expiresSet || fl.Name == "expires" })
	// Extending always lifts the lock-outs too; --unlock alone keeps the
	// expiry.
	req := portal.ExtendRequest{Ref: ref, Unlock: true}
	if !*unlock || expiresSet {
		req.ExpiresAt = time.Now().Add(expires)
	}
	s, err := portal.OpenAdmin(*data)
	if err != nil {
		return err
	}
	defer s.Close()
	info, err := s.ExtendCode(context.Background(), req)
	if err != nil {
		return err
	}
	if *unlock {
		fmt.Fprintln(e.stdout, i18n.T(e.lang, "portal.code.unlocked", info.RecordID))
	}
	fmt.Fprintln(e.stdout, i18n.T(e.lang, "portal.code.extended", info.RecordID, info.ExpiresAt.Local().Format("2006-01-02 15:04")))
	return nil
}

func (e *env) codeRevoke(args []string) error {
	f := e.newFlags("code revoke")
	data := f.dataDir()
	ref, err := f.parseOneRef(args, data)
	if err != nil {
		return err
	}
	s, err := portal.OpenAdmin(*data)
	if err != nil {
		return err
	}
	defer s.Close()
	info, err := s.RevokeCode(context.Background(), portal.RevokeRequest{Ref: ref})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, i18n.T(e.lang, "portal.code.revoked", info.RecordID))
	return nil
}
