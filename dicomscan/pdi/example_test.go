package pdi_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/dicomscan/pdi"
	"github.com/bildbote/bildbote/internal/i18n"
)

// Scan a patient CD and stream one of its studies as an IHE PDI ZIP.
func ExampleWriteZip() {
	ctx := context.Background()
	m, err := dicomscan.Open("/media/cdrom")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	idx, err := dicomscan.Scan(ctx, m, dicomscan.Options{})
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Create("study.zip")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	res, err := pdi.WriteZip(ctx, f, idx, pdi.Options{
		Studies:          []string{idx.Patients[0].Studies[0].InstanceUID},
		IncludeDocuments: true,
		Lang:             i18n.DE,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range res.Written {
		fmt.Println(e.Source, "→", e.Path)
	}
}
