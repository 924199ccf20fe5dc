package dimse

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/tlscert"
)

// TestMeasureAgainstStorescu compares our C-STORE with dcmtk's storescu:
// the same generated CD (BILDBOTE_DIMSE_MEASURE files, e.g. 2000) into
// the same kind of storescp, one association each, in the same run (and
// Bildbote with 4 parallel associations into storescp --fork). It
// only runs when asked (it takes a while):
//
//	BILDBOTE_DIMSE_MEASURE=2000 go test -run Measure -v ./transfer/dimse
func TestMeasureAgainstStorescu(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BILDBOTE_DIMSE_MEASURE"))
	if n == 0 {
		t.Skip("set BILDBOTE_DIMSE_MEASURE=FILES to measure")
	}
	needNetns(t)
	storescu := corpus.Tool(t, "storescu")
	cd := t.TempDir()
	start := time.Now()
	res, err := gencd.Generate(cd, gencd.Options{Files: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated %d files, %.1f MB in %v", res.Files, float64(res.Bytes)/1e6, time.Since(start).Round(time.Millisecond))
	var paths []string
	filepath.WalkDir(filepath.Join(cd, "DICOM"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	for _, mode := range []string{"--ignore", "--ignore -pdu 131072", "write", "write --fork x4"} {
		extra := []string{}
		pdu := "16384"
		if strings.HasPrefix(mode, "--ignore") {
			extra = append(extra, "--ignore")
		}
		assocs := 1
		if strings.Contains(mode, "--fork") {
			extra = append(extra, "--fork")
			assocs = 4
		}
		if strings.Contains(mode, "-pdu") {
			pdu = "131072"
			extra = append(extra, "-pdu", pdu)
		}
		// Both with the same max PDU (storescp's default 16384 is what
		// the SCP offers; we and storescu receive with 16384 too).
		addr, dir := storescp(t, extra...)
		host, port, _ := strings.Cut(addr, ":")
		start := time.Now()
		out, err := exec.Command(storescu, "-aec", "STORESCP", "-aet", "STORESCU", "-pdu", pdu, "+sd", "+r", "-nh", host, port, filepath.Join(cd, "DICOM")).CombinedOutput()
		if err != nil {
			t.Fatalf("storescu: %v\n%s", err, out)
		}
		dcmtk := time.Since(start)
		t.Logf("storescu done in %v", dcmtk)
		for _, f := range mustGlob(dir) {
			os.Remove(f)
		}
		start = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		rs, err := StoreFiles(ctx, Config{Addr: addr, Called: "STORESCP", MaxPDU: uint32(atoi(pdu)), Associations: assocs}, paths)
		if err != nil {
			t.Fatal(err)
		}
		ours := time.Since(start)
		for _, r := range rs {
			if !r.Stored() {
				t.Fatalf("%s: %v", r.Path, r.Err)
			}
		}
		t.Logf("storescp %s, %d files: storescu %v (%.0f/s), Bildbote %v (%.0f/s)", mode, len(paths),
			dcmtk.Round(time.Millisecond), float64(len(paths))/dcmtk.Seconds(), ours.Round(time.Millisecond), float64(len(paths))/ours.Seconds())
	}
}

func mustGlob(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "*"))
	return m
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// TestMeasureTLS compares DICOM TLS with plain DIMSE and with dcmtk's
// storescu +tls: the same generated CD into storescp (--ignore, TLS with
// a test CA, Nagle on as shipped), one association each, in the same run;
// and Bildbote over TLS with 4 parallel associations into storescp
// --fork. Only when asked:
//
//	BILDBOTE_DIMSE_MEASURE_TLS=2000 go test -run MeasureTLS -v ./transfer/dimse
func TestMeasureTLS(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("BILDBOTE_DIMSE_MEASURE_TLS"))
	if n == 0 {
		t.Skip("set BILDBOTE_DIMSE_MEASURE_TLS=FILES to measure")
	}
	needNetns(t)
	storescu := corpus.Tool(t, "storescu")
	cd := t.TempDir()
	if _, err := gencd.Generate(cd, gencd.Options{Files: n}); err != nil {
		t.Fatal(err)
	}
	var paths []string
	filepath.WalkDir(filepath.Join(cd, "DICOM"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	ca := tlscert.NewCA(t, "Klinik Test CA")
	srv := ca.Issue(t, tlscert.Options{CommonName: "pacs", Names: []string{"127.0.0.1"}})
	ours := func(addr string, tc *TLSConfig, assocs int) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		rs, err := StoreFiles(ctx, Config{Addr: addr, Called: "STORESCP", MaxPDU: 16384, TLS: tc, Associations: assocs}, paths)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if !r.Stored() {
				t.Fatalf("%s: %v", r.Path, r.Err)
			}
		}
		return time.Since(start)
	}
	rate := func(d time.Duration) string {
		return fmt.Sprintf("%v (%.0f/s)", d.Round(time.Millisecond), float64(len(paths))/d.Seconds())
	}
	plainAddr, _ := storescp(t, "--ignore")
	tlsAddr, _ := tlsStorescp(t, srv, "-ic", "--ignore")
	host, port, _ := strings.Cut(tlsAddr, ":")
	start := time.Now()
	if out, err := exec.Command(storescu, "+tla", "+cf", ca.CertFile, "-aec", "STORESCP", "-aet", "STORESCU", "-pdu", "16384", "+sd", "+r", "-nh", host, port, filepath.Join(cd, "DICOM")).CombinedOutput(); err != nil {
		t.Fatalf("storescu +tls: %v\n%s", err, out)
	}
	dcmtk := time.Since(start)
	plain := ours(plainAddr, nil, 1)
	secure := ours(tlsAddr, &TLSConfig{Roots: ca.Pool()}, 1)
	forkAddr, _ := tlsStorescp(t, srv, "-ic", "--ignore", "--fork")
	parallel := ours(forkAddr, &TLSConfig{Roots: ca.Pool()}, 4)
	t.Logf("%d files: storescu +tls %s; Bildbote plain %s, TLS %s, TLS with 4 associations %s",
		len(paths), rate(dcmtk), rate(plain), rate(secure), rate(parallel))
}
