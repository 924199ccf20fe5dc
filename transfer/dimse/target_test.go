package dimse

import (
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
		if err != nil || got.Addr != want.Addr || got.Called != want.Called || got.Calling != want.Calling {
			t.Errorf("%s: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{
		"http://pacs/dicom-web", "dicom://host:104", "dicom://PACS@:104", "dicom://PACS@host:0",
		"dicom://PACS@host:99999", "dicom://PACS@host/x", "dicom://A23456789012345678@host",
		"dicom://PACS@host?calling=", "dicom://PACS@host?foo=1", "dicom://PACS:pw@host", "dicom://PACS@host?tls=1",
	} {
		_, err := ParseTarget(in)
		ue, ok := i18n.AsUserError(err)
		if !ok || ue.Kind != i18n.KindInput {
			t.Errorf("%s: err %v, want an input error", in, err)
		}
	}
}
