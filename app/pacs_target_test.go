package app

import (
	"errors"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

// TestParsePACSTarget: both notations are read; everything else is a
// KindInput error translated into German and English.
func TestParsePACSTarget(t *testing.T) {
	good := map[string]struct{ addr, called, calling, stow string }{
		"dicom://PACS@pacs.local:104?calling=RAD1":           {addr: "pacs.local:104", called: "PACS", calling: "RAD1"},
		"dicom://ORTHANC@127.0.0.1:4242":                     {addr: "127.0.0.1:4242", called: "ORTHANC", calling: "BILDBOTE"},
		" DICOM://PACS@pacs.local ":                          {addr: "pacs.local:104", called: "PACS", calling: "BILDBOTE"},
		"http://pacs.local:8042/dicom-web/":                  {stow: "http://pacs.local:8042/dicom-web"},
		"https://pacs.example/dcm4chee-arc/aets/DCM4CHEE/rs": {stow: "https://pacs.example/dcm4chee-arc/aets/DCM4CHEE/rs"},
	}
	for in, want := range good {
		tg, err := ParsePACSTarget(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if want.stow != "" {
			if tg.DIMSE != nil || tg.StowURL != want.stow {
				t.Errorf("%q: %+v, want STOW-RS %s", in, tg, want.stow)
			}
			continue
		}
		if tg.DIMSE == nil || tg.DIMSE.Addr != want.addr || tg.DIMSE.Called != want.called || tg.DIMSE.Calling != want.calling {
			t.Errorf("%q: %+v, want DIMSE %+v", in, tg.DIMSE, want)
		}
	}
	for _, in := range []string{"", "pacs.local:104", "ftp://pacs/", "dicom://pacs.local:104", "dicom://PACS@host:0",
		"dicom://WAY_TOO_LONG_AE_TITLE_X@host", "dicom://PACS@host?tls=2", "dicom://PACS@host?colling=X",
		"http:///dicom-web", "http://pacs/dicom-web?x=1"} {
		_, err := ParsePACSTarget(in)
		ue, ok := i18n.AsUserError(err)
		if !ok || ue.Kind != i18n.KindInput {
			t.Errorf("%q: %v, want a KindInput UserError", in, err)
			continue
		}
		de, en := ue.Message(i18n.DE), ue.Message(i18n.EN)
		if de == en || strings.Contains(de, "app.") || strings.Contains(en, "dimse.") {
			t.Errorf("%q: untranslated: de %q, en %q", in, de, en)
		}
	}
}

// TestPACSTargetSettingAndPolicy: the settings' PACS field and the
// policy's pacs_stow_url take both notations and refuse anything else.
func TestPACSTargetSettingAndPolicy(t *testing.T) {
	c, err := Open(Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, v := range []string{"dicom://PACS@pacs.local:104?calling=BILDBOTE", "http://pacs.local:8042/dicom-web", ""} {
		if err := c.UpdateSettings(func(s *Settings) { s.PACSStowURL = v }); err != nil {
			t.Errorf("settings PACS %q: %v", v, err)
		}
	}
	err = c.UpdateSettings(func(s *Settings) { s.PACSStowURL = "pacs.local:104" })
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindInput {
		t.Errorf("settings PACS without scheme: %v, want a KindInput error", err)
	}
	pol := writePolicy(t, "pacs_stow_url = \"dicom://PACS@pacs.klinik:104?calling=RAD1\"\n")
	c2, err := Open(Config{StateDir: t.TempDir(), PolicyPath: pol})
	if err != nil {
		t.Fatalf("policy with a dicom:// target: %v", err)
	}
	defer c2.Close()
	if got := c2.Settings().PACSStowURL; got != "dicom://PACS@pacs.klinik:104?calling=RAD1" || !c2.Locked(SettingPACSStowURL) {
		t.Errorf("policy PACS %q, locked %v", got, c2.Locked(SettingPACSStowURL))
	}
	if err := c2.UpdateSettings(func(s *Settings) { s.PACSStowURL = "http://other/dicom-web" }); !errors.Is(err, ErrLocked) {
		t.Errorf("changing a locked PACS target: %v, want ErrLocked", err)
	}
	_, err = Open(Config{StateDir: t.TempDir(), PolicyPath: writePolicy(t, "pacs_stow_url = \"dicom://pacs.klinik:104\"\n")})
	if !errors.Is(err, ErrPolicy) {
		t.Errorf("policy with a dicom:// target without AE title: %v, want ErrPolicy", err)
	}
}
