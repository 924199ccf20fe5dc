// Command dimsebench C-STOREs every file under a folder into a DICOM SCP
// with Bildbote's C-STORE SCU (transfer/dimse, StoreFiles as the import's
// "--pacs dicom://…" uses it, product defaults) and prints instances
// stored, instances failed and seconds taken. It is the Bildbote side of
// bench/dimse.sh (bildbote-cli has no command that C-STOREs a folder). A
// developer tool: English, untranslated.
//
//	dimsebench -pacs dicom://STORESCP@127.0.0.1:11112 [-associations 4] DIR
//	dimsebench -pacs 'dicom://STORESCP@127.0.0.1:11112?tls=1' -ca ca.pem DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/bildbote/bildbote/transfer/dimse"
)

func main() {
	target := flag.String("pacs", "", "PACS target, dicom://CALLED@host:port[?calling=AE]")
	assocs := flag.Int("associations", 1, "parallel associations")
	ca := flag.String("ca", "", "PEM file with the PACS's CA, trusted on top of the OS store (needs tls=1)")
	flag.Parse()
	if *target == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	cfg, err := dimse.ParseTarget(*target)
	if err != nil {
		fail(err)
	}
	cfg.Associations = *assocs
	if *ca != "" {
		if cfg.TLS == nil {
			fail(fmt.Errorf("-ca %s: the target has no tls=1", *ca))
		}
		cfg.TLS.CAFile = *ca
	}
	var paths []string
	err = filepath.WalkDir(flag.Arg(0), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		fail(err)
	}
	start := time.Now()
	rs, err := dimse.StoreFiles(context.Background(), cfg, paths)
	took := time.Since(start)
	if err != nil {
		fail(err)
	}
	stored, failed := 0, 0
	for _, r := range rs {
		if r.Stored() {
			stored++
			continue
		}
		failed++
		if failed == 1 {
			fmt.Fprintf(os.Stderr, "dimsebench: %s: status %s %s %v\n", r.Path, r.Status, r.ErrorComment, r.Err)
		}
	}
	fmt.Printf("%d %d %.3f\n", stored, failed, took.Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dimsebench:", err)
	os.Exit(1)
}
