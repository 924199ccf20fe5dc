package admin

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/portal"
)

func (e *env) communityAdd(args []string) error {
	f := e.newFlags("community add")
	data := f.dataDir()
	code := f.String("code", "", "short inbox code, e.g. bM1X")
	name := f.String("name", "", "the clinic's name as senders see it")
	var recipients multi
	f.Var(&recipients, "recipient", "age public key (age1...) of the clinic; repeatable")
	maxSize := f.Int64("max-size", portal.DefaultMaxUploadBytes, "largest upload in bytes")
	password := f.String("password", "", "optional upload password senders must give")
	if _, err := f.parseData(args, data); err != nil {
		return err
	}
	for _, req := range [][2]string{{"code", *code}, {"name", *name}} {
		if err := f.require(req[0], req[1]); err != nil {
			return err
		}
	}
	s, err := portal.OpenAdmin(*data)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.AddCommunity(context.Background(), portal.AddCommunityRequest{
		Code: *code, Name: *name, Recipients: recipients, MaxUploadBytes: *maxSize, Password: *password,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, res.APIKey)
	fmt.Fprintln(e.stderr, i18n.T(e.lang, "portal.community.added", res.Code, res.Fingerprint))
	return nil
}

func (e *env) communityList(args []string) error {
	f := e.newFlags("community list")
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
	list, err := s.ListCommunities(context.Background())
	if err != nil {
		return err
	}
	if *asJSON {
		return e.printJSON(list)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, i18n.T(e.lang, "portal.community.list_header"))
	for _, c := range list {
		for i, r := range c.Recipients {
			if i == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", c.Code, c.Name, c.Pending, r.Fingerprint)
			} else {
				fmt.Fprintf(tw, "\t\t\t%s\n", r.Fingerprint)
			}
		}
	}
	return tw.Flush()
}
