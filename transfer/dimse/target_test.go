package dimse

import (
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]Config{
		"dicom://PACS@pacs.klinik.local:11112":         {Addr: "pacs.klinik.local:11112", Called: "PACS", Calling: "BILDBOTE"},
		"dicom://ORTHANC@127.0.0.1?calling=RADIO1":     {Addr: "127.0.0.1:104", Called: "ORTHANC", Calling: "RADIO1"},
		"dicom://PACS@[::1]:4242":                      {Addr: "[::1]:4242", Called: "PACS", Calling: "BILDBOTE"},
		"dicom://MY%20PACS@host:104/?calling=BILDBOTE": {Addr: "host:104", Called: "MY PACS", Calling: "BILDBOTE"},
	} {
		got, err := ParseTarget(in)
		if err != nil || got.Addr != want.Addr || got.Called != want.Called || got.Calling != want.Calling || got.TLS != nil {
			t.Errorf("%s: %+v %v, want %+v", in, got, err, want)
		}
	}
	for in, tls := range map[string]bool{
		"dicom://PACS@pacs.klinik.local:2762?calling=RADIO1&tls=1": true,
		"dicom://PACS@pacs:2762?tls=true":                          true,
		"dicom://PACS@pacs:104?tls=0":                              false,
	} {
		got, err := ParseTarget(in)
		if err != nil || (got.TLS != nil) != tls || got.Addr == "" {
			t.Errorf("%s: %+v %v, want TLS %v", in, got, err, tls)
		}
		if tls && (got.TLS.CAFile != "" || got.TLS.CertFile != "" || got.TLS.Roots != nil) {
			t.Errorf("%s: TLS %+v, want the OS trust store only", in, got.TLS)
		}
	}
	for _, in := range []string{
		"http://pacs/dicom-web", "dicom://host:104", "dicom://PACS@:104", "dicom://PACS@host:0",
		"dicom://PACS@host:99999", "dicom://PACS@host/x", "dicom://A23456789012345678@host",
		"dicom://PACS@host?calling=", "dicom://PACS@host?foo=1", "dicom://PACS:pw@host", "dicom://PACS@host?tls=2",
	} {
		_, err := ParseTarget(in)
		ue, ok := i18n.AsUserError(err)
		if !ok || ue.Kind != i18n.KindInput {
			t.Errorf("%s: err %v, want an input error", in, err)
		}
	}
}

// Why an address is wrong reads in the message's language: the German
// message carried the English reason ("scheme must be dicom://").
func TestParseTargetReasonsTranslated(t *testing.T) {
	for in, want := range map[string][2]string{
		"http://pacs/dicom-web":           {"sie muss mit dicom:// beginnen", "it must begin with dicom://"},
		"dicom://host:104":                {"der AE-Titel des PACS vor dem @ fehlt", "the PACS's AE title before the @ is missing"},
		"dicom://PACS@:104":               {"der Rechnername fehlt", "the host name is missing"},
		"dicom://PACS@host:99999":         {"zwischen 1 und 65535", "between 1 and 65535"},
		"dicom://PACS@host/x":             {"ein Pfad gehört nicht", "a path does not belong"},
		"dicom://PACS:pw@host":            {"ein Passwort gehört nicht", "a password does not belong"},
		"dicom://A23456789012345678@host": {"1 bis 16 druckbare", "1 to 16 printable"},
		"dicom://PACS@host?calling=":      {"der eigene AE-Titel", "our own AE title"},
		"dicom://PACS@host?foo=1":         {`unbekannte Angabe "foo"`, `unknown option "foo"`},
		"dicom://PACS@ho st":              {"keine gültige Adresse", "not a valid address"},
		"dicom://PACS@host?tls=ja":        {"tls= nimmt 1 (DICOM TLS) oder 0", "tls= takes 1 (DICOM TLS) or 0"},
	} {
		_, err := ParseTarget(in)
		for i, l := range []i18n.Lang{i18n.DE, i18n.EN} {
			msg, _ := i18n.Localize(l, err)
			if !strings.Contains(msg, want[i]) || strings.Contains(msg, "dimse.") {
				t.Errorf("%s in %s: %q, want %q in it", in, l, msg, want[i])
			}
		}
	}
}
