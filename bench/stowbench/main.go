// Command stowbench stores every DICOM file under a folder into a PACS
// with the STOW-RS client Bildbote's import uses (transfer/stow, its
// default batches) and prints instances stored and seconds taken. It is
// the Bildbote side of bench/stow.sh.
//
//	stowbench -url http://127.0.0.1:8042/dicom-web DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/transfer/stow"
)

func main() {
	base := flag.String("url", "", "DICOMweb root")
	flag.Parse()
	if *base == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	// The SOP Instance UIDs match the PACS's answer to the files.
	m, err := dicomscan.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "stowbench:", err)
		os.Exit(1)
	}
	defer m.Close()
	ix, err := dicomscan.Scan(context.Background(), m, dicomscan.Options{IgnoreDICOMDIR: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "stowbench:", err)
		os.Exit(1)
	}
	var insts []stow.Instance
	for _, pa := range ix.Patients {
		for _, st := range pa.Studies {
			for _, se := range st.Series {
				for _, in := range se.Instances {
					insts = append(insts, stow.Instance{Path: filepath.Join(flag.Arg(0), filepath.FromSlash(in.Path)), Size: in.Size, SOPInstanceUID: in.SOPInstanceUID})
				}
			}
		}
	}
	start := time.Now()
	rep, err := (&stow.Client{Base: *base}).Store(context.Background(), insts)
	took := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stowbench:", err)
		os.Exit(1)
	}
	fmt.Printf("%d %d %.3f\n", rep.Stored, rep.Failed, took.Seconds())
}
