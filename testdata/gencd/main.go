// Command gencd writes a synthetic patient CD (see internal/gencd):
//
//	go run ./testdata/gencd -out DIR -files 2000 [-seed N] [-dicomdir] [-documents] [-small]
//
// It prints one line: files, bytes, patients/studies/series and the time taken.
// A developer tool: its output is English and not translated.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/bildbote/bildbote/internal/gencd"
)

func main() {
	out := flag.String("out", "", "output directory (required)")
	files := flag.Int("files", 2000, "number of DICOM instance files")
	seed := flag.Int64("seed", 0, "seed for UIDs, IDs, dates and noise")
	dicomdir := flag.Bool("dicomdir", false, "create a DICOMDIR with dcmmkdir (dcmtk)")
	documents := flag.Bool("documents", false, "add a PDF report REPORT/BEFUND.PDF")
	small := flag.Bool("small", false, "64x64 images instead of 512x512 CT / 360x360 MR")
	workers := flag.Int("workers", 0, "files written in parallel (default: GOMAXPROCS)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	opt := gencd.Options{Files: *files, Seed: *seed, DICOMDIR: *dicomdir, Documents: *documents, Workers: *workers}
	if *small {
		opt.PixelSize = 64
	}
	start := time.Now()
	res, err := gencd.Generate(*out, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var studies, series int
	for _, p := range res.Patients {
		studies += len(p.Studies)
		for _, s := range p.Studies {
			series += len(s.Series)
		}
	}
	fmt.Printf("gencd: %d files, %d bytes, %d patients, %d studies, %d series in %s (%s)\n",
		res.Files, res.Bytes, len(res.Patients), studies, series,
		time.Since(start).Round(time.Millisecond), *out)
}
