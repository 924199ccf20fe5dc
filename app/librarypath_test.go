package app

import (
	"path/filepath"
	"testing"
)

func TestLibraryPath(t *testing.T) {
	lib := "/lib"
	cases := []struct {
		it   Item
		want string
	}{
		{Item{PatientName: "Müller,Jürgen", BirthDate: "19580214", Date: "20240122", Description: "CT Thorax", MIMEType: "application/zip"},
			"Müller, Jürgen 1958-02-14/2024-01-22 CT Thorax"},
		{Item{PatientName: "Weiß^Zoë", BirthDate: "19910723", Date: "20240409", Description: "MRT Schädel", MIMEType: "application/zip"},
			"Weiß, Zoë 1991-07-23/2024-04-09 MRT Schädel"},
		{Item{PatientName: "Weiß^Zoë", Description: "BEFUND.PDF", MIMEType: "application/pdf"},
			"Weiß, Zoë/BEFUND.pdf"},
		{Item{Description: "Brief", MIMEType: "application/pdf"}, "Unbekannt/Brief.pdf"},
	}
	for _, c := range cases {
		if got := libraryPath(lib, c.it); got != filepath.Join(lib, filepath.FromSlash(c.want)) {
			t.Errorf("libraryPath(%+v) = %q, want %q", c.it, got, c.want)
		}
	}
}

func TestSoleOwner(t *testing.T) {
	a := Item{PatientName: "A^B", BirthDate: "19500101"}
	b := Item{PatientName: "C^D", BirthDate: "19600101"}
	doc := Item{MIMEType: "application/pdf"}
	if o := soleOwner([]Item{a, doc, a}); o == nil || o.PatientName != "A^B" {
		t.Errorf("one patient: owner %v", o)
	}
	if o := soleOwner([]Item{a, b, doc}); o != nil {
		t.Errorf("two patients: owner %v, want none", o)
	}
	if o := soleOwner([]Item{doc}); o != nil {
		t.Errorf("no patient: owner %v, want none", o)
	}
}
