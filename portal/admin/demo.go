package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/portal"
	"github.com/bildbote/bildbote/portal/accesscode"
)

// Demo data: the inbox code and the clinic identity file the desktop
// app's demo imports.
const (
	DemoInbox        = "DEMO"
	DemoIdentityFile = "demo-clinic-identity.txt"
	demoFile         = "demo.json"
)

// DemoInfo is what `demo` prints, kept in DIR/demo.json so a second run
// shows the same values. Demo secrets only: never use a demo data dir for
// real patients.
type DemoInfo struct {
	Inbox        string `json:"inbox"`
	APIKey       string `json:"apiKey"`
	IdentityFile string `json:"identityFile"`
	Recipient    string `json:"recipient"`
	AccessCode   string `json:"accessCode"`
	BirthDate    string `json:"birthDate"` // YYYY-MM-DD
}

func (e *env) demo(args []string) error {
	f := e.newFlags("demo")
	data := f.dataDir()
	asJSON := f.Bool("json", false, "print JSON")
	if _, err := f.parseData(args, data); err != nil {
		return err
	}
	info, err := readDemo(*data)
	if errors.Is(err, os.ErrNotExist) {
		info, err = e.seedDemo(context.Background(), *data)
	} else if err == nil {
		fmt.Fprintln(e.stderr, i18n.T(e.lang, "portal.demo.exists"))
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return e.printJSON(info)
	}
	fmt.Fprintln(e.stdout, i18n.T(e.lang, "portal.demo.done", *data))
	fmt.Fprintln(e.stdout, i18n.T(e.lang, "portal.demo.inbox", info.Inbox))
	fmt.Fprintln(e.stdout, i18n.T(e.lang, "portal.demo.apikey", info.APIKey))
	fmt.Fprintln(e.stdout, i18n.T(e.lang, "portal.demo.identity", info.IdentityFile))
	fmt.Fprintln(e.stdout, i18n.T(e.lang, "portal.demo.code", info.AccessCode, info.BirthDate))
	return nil
}

func readDemo(dataDir string) (*DemoInfo, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, demoFile))
	if err != nil {
		return nil, err
	}
	var info DemoInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", demoFile, err)
	}
	return &info, nil
}

// seedDemo adds the demo inbox (with a fresh clinic identity) and an
// access code for the first patient of a small synthetic CD.
func (e *env) seedDemo(ctx context.Context, dataDir string) (*DemoInfo, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	id, err := crypto.GenerateIdentity()
	if err != nil {
		return nil, err
	}
	idPath, err := filepath.Abs(filepath.Join(dataDir, DemoIdentityFile))
	if err != nil {
		return nil, err
	}
	identity := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if err := os.WriteFile(idPath, []byte(identity), 0o600); err != nil {
		return nil, err
	}
	s, err := portal.OpenAdmin(dataDir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	added, err := s.AddCommunity(ctx, portal.AddCommunityRequest{
		Code: DemoInbox, Name: "Bildbote Demo-Klinik (Radiologie)", Recipients: []string{id.Recipient().String()},
	})
	if err != nil {
		return nil, err
	}

	cd, err := os.MkdirTemp("", "bildbote-demo-cd-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(cd)
	gen, err := gencd.Generate(cd, gencd.Options{Files: 40, Seed: 19580214, Documents: true, PixelSize: 128})
	if err != nil {
		return nil, fmt.Errorf("demo CD: %w", err)
	}
	patient := gen.Patients[0]
	rid := portal.NewRecordID()
	staged, err := portal.StageItems(ctx, dataDir, rid, []string{cd}, portal.StageOptions{PatientID: patient.ID})
	if err != nil {
		return nil, err
	}
	dob, _ := time.Parse("20060102", patient.BirthDate)
	res, err := s.IssueCode(ctx, portal.IssueRequest{
		RecordID: rid, Items: staged.Items, ExpiresAt: time.Now().Add(365 * 24 * time.Hour),
		Questions: []portal.QuestionSpec{{Type: portal.QuestionBirthDate, Answer: patient.BirthDate}},
	})
	if err != nil {
		return nil, err
	}
	info := &DemoInfo{
		Inbox: added.Code, APIKey: added.APIKey, IdentityFile: idPath, Recipient: id.Recipient().String(),
		AccessCode: accesscode.Format(res.Code), BirthDate: dob.Format("2006-01-02"),
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(filepath.Join(dataDir, demoFile), b, 0o600); err != nil {
		return nil, err
	}
	return info, nil
}
