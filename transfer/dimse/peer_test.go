package dimse

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// Files in every uncompressed syntax and two compressed ones (pydicom's
// test data, nobody here wrote them).
var mixed = []string{
	"CT_small.dcm",           // explicit VR LE
	"MR_small.dcm",           // explicit VR LE
	"MR_small_implicit.dcm",  // implicit VR LE
	"rtplan.dcm",             // implicit VR LE, sequences
	"MR_small_bigendian.dcm", // explicit VR BE
	"JPEG2000.dcm",           // JPEG 2000
	"MR_small_RLE.dcm",       // RLE lossless
	"rtdose.dcm",             // implicit VR LE, multi-frame
	"liver_1frame.dcm",       // explicit VR LE
	"0051.dcm",               // dicom3tools' Siemens MR
}

func mixedFiles(t *testing.T, names ...string) []string {
	var out []string
	for _, n := range names {
		switch n {
		case "0051.dcm":
			out = append(out, corpus.Dicom3toolsExample(t))
		case "00191113.dcm":
			out = append(out, corpus.GDCMExample(t))
		default:
			out = append(out, corpus.PydicomFile(t, n))
		}
	}
	return out
}

func TestEchoStorescp(t *testing.T) {
	addr, _ := storescp(t)
	if err := Echo(testCtx(t), Config{Addr: addr, Called: "STORESCP"}); err != nil {
		t.Fatal(err)
	}
}

// storescp accepting every syntax it knows (+xa) stores every file as it
// is: the data set it writes (bit preserving) is byte for byte ours.
// Its PDU limit of 4096 makes every data set go in many P-DATA fragments.
func TestStoreAcceptAllByteForByte(t *testing.T) {
	addr, dir := storescp(t, "+xa", "-pdu", "4096")
	var names []string
	for _, n := range mixed {
		if n != "MR_small_bigendian.dcm" { // +xa takes it as little endian: TestStoreBigEndianConverted
			names = append(names, n)
		}
	}
	paths := mixedFiles(t, names...)
	res, err := StoreFiles(testCtx(t), Config{Addr: addr, Called: "STORESCP", MaxPDU: 4096}, paths)
	if err != nil {
		t.Fatal(err)
	}
	got := received(t, dir)
	for _, r := range res {
		if !r.Stored() || r.Err != nil || r.Converted {
			t.Errorf("%s: stored %v converted %v status %v err %v", filepath.Base(r.Path), r.Stored(), r.Converted, r.Status, r.Err)
			continue
		}
		if r.SentAs != r.TransferSyntax {
			t.Errorf("%s: sent as %s, file is %s", filepath.Base(r.Path), r.SentAs, r.TransferSyntax)
		}
		orig, _ := OpenInstance(r.Path)
		rcv, ok := got[rcvKey{r.SOPInstanceUID, r.TransferSyntax}]
		if !ok {
			t.Errorf("%s: storescp wrote no file for %s in %s", filepath.Base(r.Path), r.SOPInstanceUID, shortTS(r.TransferSyntax))
			continue
		}
		if !bytes.Equal(dataSet(t, orig), dataSet(t, rcv)) {
			t.Errorf("%s: received data set differs from the original", filepath.Base(r.Path))
		}
	}
	if len(got) != len(paths) {
		t.Errorf("storescp wrote %d files, want %d", len(got), len(paths))
	}
}

// normalized is dcmtk's own reading of a file, written as implicit VR
// little endian (compressed files: in their own syntax) with explicit
// lengths and no group lengths: two files whose normalized data sets are
// equal hold the same data.
func normalized(t *testing.T, path string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "n.dcm")
	ts := "+ti"
	if in, err := OpenInstance(path); err == nil && len(proposal(in.TransferSyntax)) == 1 && in.TransferSyntax != ImplicitVRLittleEndian {
		ts = "+t="
	}
	if b, err := exec.Command(corpus.Tool(t, "dcmconv"), ts, "+e", "-g", "-F", path, out).CombinedOutput(); err != nil {
		t.Fatalf("dcmconv %s: %v\n%s", path, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// storescp restricted to implicit VR LE (+xi): explicit VR LE files are
// converted on the fly, and dcmtk reads what it got as the same data as
// the original; implicit files go unchanged; compressed files are refused one by one with a reason, and the rest of the
// association goes on.
func TestStoreImplicitOnlyConverts(t *testing.T) {
	addr, dir := storescp(t, "+xi")
	var names []string
	for _, n := range mixed {
		// Same UID as MR_small.dcm, which arrives as implicit here too.
		if n != "MR_small_implicit.dcm" && n != "MR_small_bigendian.dcm" {
			names = append(names, n)
		}
	}
	paths := mixedFiles(t, names...)
	res, err := StoreFiles(testCtx(t), Config{Addr: addr, Called: "STORESCP"}, paths)
	if err != nil {
		t.Fatal(err)
	}
	got := received(t, dir)
	stored := 0
	for _, r := range res {
		name := filepath.Base(r.Path)
		switch r.TransferSyntax {
		case ExplicitVRLittleEndian, ImplicitVRLittleEndian:
			if !r.Stored() || r.SentAs != ImplicitVRLittleEndian || r.Converted != (r.TransferSyntax != ImplicitVRLittleEndian) {
				t.Errorf("%s: stored %v sent as %s converted %v err %v", name, r.Stored(), r.SentAs, r.Converted, r.Err)
				continue
			}
			stored++
			rcv, ok := got[rcvKey{r.SOPInstanceUID, ImplicitVRLittleEndian}]
			if !ok {
				t.Errorf("%s: not received", name)
				continue
			}
			if !bytes.Equal(normalized(t, r.Path), normalized(t, rcv.Path)) {
				t.Errorf("%s: received data differs from the original (dcmconv +ti of both)", name)
			}
			if !r.Converted {
				orig, _ := OpenInstance(r.Path)
				if !bytes.Equal(dataSet(t, orig), dataSet(t, rcv)) {
					t.Errorf("%s: implicit file not passed through byte for byte", name)
				}
			}
		default:
			if r.Responded || r.Err == nil || r.SentAs != "" {
				t.Errorf("%s (%s): responded %v sent as %q err %v; want a per-instance refusal", name, SyntaxName(r.TransferSyntax), r.Responded, r.SentAs, r.Err)
				continue
			}
			ue, ok := i18n.AsUserError(r.Err)
			if !ok || ue.Key != "dimse.instance.ts_refused" {
				t.Errorf("%s: err %v, want dimse.instance.ts_refused", name, r.Err)
			}
			t.Logf("%s: %s", name, ue.Message(i18n.DE))
		}
	}
	if stored != 6 || len(got) != 6 {
		t.Errorf("stored %d, storescp wrote %d files; want 6", stored, len(got))
	}
}

// dcmqrscp answers only to its configured AE title: calling it by another
// name is rejected ("called AE title not recognized"), and the error says
// so in German and English.
func TestRejectedCalledAE(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "dcmqrscp.cfg")
	os.WriteFile(cfg, []byte("NetworkTCPPort = 104\nMaxPDUSize = 16384\nMaxAssociations = 4\n"+
		"HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"+
		"AETable BEGIN\nPACS "+db+" RW (10, 1024mb) ANY\nAETable END\n"), 0o644)
	// Not -s: dcmqrscp 3.6.7 crashes after the first association in
	// single-process mode.
	addr := peer(t, "dcmqrscp", "-c", cfg)
	if err := Echo(testCtx(t), Config{Addr: addr, Called: "PACS"}); err != nil {
		t.Fatalf("echo to the right AE title: %v", err)
	}
	start := time.Now()
	err := Echo(testCtx(t), Config{Addr: addr, Called: "RADIOLOGIE", Calling: "BILDBOTE"})
	var rj *RejectedError
	if !errors.As(err, &rj) || !rj.CalledAENotRecognized() {
		t.Fatalf("err %v, want a RejectedError for the called AE", err)
	}
	ue, ok := i18n.AsUserError(err)
	if !ok || ue.Kind != i18n.KindRefused {
		t.Fatalf("err %v: not a refused UserError", err)
	}
	de, en := ue.Message(i18n.DE), ue.Message(i18n.EN)
	if !strings.Contains(de, "RADIOLOGIE") || !strings.Contains(de, "AE-Titel") || !strings.Contains(en, "RADIOLOGIE") {
		t.Errorf("messages: %q / %q", de, en)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("rejection took %v", time.Since(start))
	}
	t.Logf("de: %s | %s", de, ue.Hint(i18n.DE))
}

// storescp aborting during the C-STORE: the instance in flight and the
// ones after it are reported, not lost, and the error is transient.
func TestStorescpAbortsDuringStore(t *testing.T) {
	addr, _ := storescp(t, "--abort-during")
	paths := pydicomFiles(t, "CT_small.dcm", "MR_small.dcm", "rtplan.dcm")
	start := time.Now()
	res, err := StoreFiles(testCtx(t), Config{Addr: addr, Called: "STORESCP", ReadTimeout: 3 * time.Second}, paths)
	if err == nil {
		t.Fatal("no error from an aborting SCP")
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindTransient {
		t.Errorf("err %v: want a transient UserError", err)
	}
	for _, r := range res {
		if r.Stored() || r.Err == nil {
			t.Errorf("%s: stored %v err %v", filepath.Base(r.Path), r.Stored(), r.Err)
		}
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	t.Logf("%v", err)
}

// storescp sleeping during the store: our read timeout ends the wait.
func TestStorescpStallsTimeout(t *testing.T) {
	addr, _ := storescp(t, "--sleep-during", "10")
	start := time.Now()
	res, err := StoreFiles(testCtx(t), Config{Addr: addr, Called: "STORESCP", ReadTimeout: 500 * time.Millisecond}, pydicomFiles(t, "CT_small.dcm"))
	el := time.Since(start)
	ue, ok := i18n.AsUserError(err)
	if !ok || ue.Key != "dimse.timeout" {
		t.Fatalf("err %v, want dimse.timeout", err)
	}
	if res[0].Stored() || el > 3*time.Second {
		t.Errorf("stored %v after %v", res[0].Stored(), el)
	}
}

// GDCM's XA example has a data set of odd length (an odd JPEG fragment):
// it is refused on its own before anything is sent, and the instances
// around it are stored in the same association.
func TestOddLengthRefusedAlone(t *testing.T) {
	addr, dir := storescp(t, "+xa")
	paths := append(mixedFiles(t, "CT_small.dcm", "00191113.dcm"), mixedFiles(t, "rtplan.dcm")...)
	res, err := StoreFiles(testCtx(t), Config{Addr: addr, Called: "STORESCP"}, paths)
	if err != nil {
		t.Fatal(err)
	}
	ue, ok := i18n.AsUserError(res[1].Err)
	if !ok || ue.Key != "dimse.instance.odd_length" || res[1].SentAs != "" {
		t.Errorf("odd file: err %v sent as %q", res[1].Err, res[1].SentAs)
	}
	if !res[0].Stored() || !res[2].Stored() || len(received(t, dir)) != 2 {
		t.Errorf("neighbours: %v %v, received %d", res[0].Err, res[2].Err, len(received(t, dir)))
	}
}

// Big endian files go to an SCP that does not take big endian (storescp
// +xi: implicit only; storescp by default prefers explicit little endian)
// swapped to little endian; dcmtk reads the same data as in the original.
// An SCP that prefers big endian (+xb) gets the files as they are.
func TestStoreBigEndianConverted(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  []string
		want string
	}{
		{"implicit-only", []string{"+xi"}, ImplicitVRLittleEndian},
		{"default", nil, ExplicitVRLittleEndian},
		{"prefers-big", []string{"+xb"}, ExplicitVRBigEndian},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, dir := storescp(t, tc.opt...)
			paths := mixedFiles(t, "MR_small_bigendian.dcm", "rtdose_expb.dcm", "liver_expb_1frame.dcm", "ExplVR_BigEnd.dcm")
			res, err := StoreFiles(testCtx(t), Config{Addr: addr, Called: "STORESCP"}, paths)
			if err != nil {
				t.Fatal(err)
			}
			got := received(t, dir)
			for _, r := range res {
				name := filepath.Base(r.Path)
				if !r.Stored() || r.Converted != (tc.want != ExplicitVRBigEndian) || r.SentAs != tc.want {
					t.Errorf("%s: stored %v converted %v sent as %s err %v", name, r.Stored(), r.Converted, shortTS(r.SentAs), r.Err)
					continue
				}
				rcv, ok := got[rcvKey{r.SOPInstanceUID, tc.want}]
				if !ok {
					t.Errorf("%s: not received", name)
					continue
				}
				if !bytes.Equal(normalized(t, r.Path), normalized(t, rcv.Path)) {
					t.Errorf("%s: received data differs from the original (dcmconv +ti of both)", name)
				}
				if !r.Converted {
					orig, _ := OpenInstance(r.Path)
					if !bytes.Equal(dataSet(t, orig), dataSet(t, rcv)) {
						t.Errorf("%s: not passed through byte for byte", name)
					}
				}
			}
		})
	}
}

// Parallel associations into storescp --fork (one process per
// association): every file arrives once.
func TestStoreParallelAssociations(t *testing.T) {
	addr, dir := storescp(t, "--fork")
	paths := mixedFiles(t, "CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtdose.dcm", "liver_1frame.dcm", "0051.dcm", "reportsi.dcm", "waveform_ecg.dcm")
	res, err := StoreFiles(testCtx(t), Config{Addr: addr, Called: "STORESCP", Associations: 3}, paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Stored() {
			t.Errorf("%s: %v", filepath.Base(r.Path), r.Err)
		}
	}
	deadline := time.Now().Add(5 * time.Second) // the forked children write after answering
	for len(received(t, dir)) < len(paths) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := len(received(t, dir)); got != len(paths) {
		t.Errorf("storescp wrote %d files, want %d", got, len(paths))
	}
}

// A deflated file goes inflated to an SCP without deflate: as explicit VR
// LE (storescp default) or converted on to implicit (+xi); as it is (with
// the trailing zero PS3.5 A.5 asks for when odd) to one preferring deflate
// (+xd). The data is the original's as dcmtk reads both.
func TestStoreDeflatedInflated(t *testing.T) {
	for _, tc := range []struct {
		opt  []string
		want string
	}{{nil, ExplicitVRLittleEndian}, {[]string{"+xi"}, ImplicitVRLittleEndian}, {[]string{"+xd"}, DeflatedExplicitVRLE}} {
		addr, dir := storescp(t, tc.opt...)
		res, err := StoreFiles(testCtx(t), Config{Addr: addr, Called: "STORESCP"}, mixedFiles(t, "image_dfl.dcm"))
		if err != nil {
			t.Fatal(err)
		}
		r := res[0]
		if r.TransferSyntax != DeflatedExplicitVRLE || !r.Stored() || r.Converted != (tc.want != DeflatedExplicitVRLE) || r.SentAs != tc.want {
			t.Fatalf("%v: ts %s stored %v converted %v sent as %s err %v", tc.opt, r.TransferSyntax, r.Stored(), r.Converted, r.SentAs, r.Err)
		}
		rcv, ok := received(t, dir)[rcvKey{r.SOPInstanceUID, tc.want}]
		if !ok {
			t.Fatalf("%v: not received", tc.opt)
		}
		if !bytes.Equal(normalized(t, r.Path), normalized(t, rcv.Path)) {
			t.Errorf("%v: received data differs from the original (dcmconv +ti of both)", tc.opt)
		}
	}
}

// An association on which the SCP accepts nothing (only JPEG 2000 offered
// to storescp +xi) is no error: the instance is refused on its own.
func TestNothingAcceptedIsPerInstance(t *testing.T) {
	addr, _ := storescp(t, "+xi")
	res, err := StoreFiles(testCtx(t), Config{Addr: addr, Called: "STORESCP"}, mixedFiles(t, "JPEG2000.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	if ue, ok := i18n.AsUserError(res[0].Err); !ok || ue.Key != "dimse.instance.ts_refused" {
		t.Errorf("err %v", res[0].Err)
	}
}

// dcmrecv, dcmtk's second SCP: C-ECHO and C-STORE of an explicit and an
// implicit file; dcmtk reads back the data we sent.
func TestStoreDcmrecv(t *testing.T) {
	dir := t.TempDir()
	// Without a configuration dcmrecv takes only C-ECHO (and rejects an
	// association offering nothing else, 1/1/1): Debian's storescp.cfg.
	cfgFile := corpus.Path(t, "/etc/dcmtk/storescp.cfg")
	addr := peer(t, "dcmrecv", "-xf", cfgFile, "Default", "--aetitle", "DCMRECV", "--output-directory", dir, "+B", "+fu", "-ta", "10")
	cfg := Config{Addr: addr, Called: "DCMRECV"}
	if err := Echo(testCtx(t), cfg); err != nil {
		t.Fatal(err)
	}
	res, err := StoreFiles(testCtx(t), cfg, mixedFiles(t, "CT_small.dcm", "rtplan.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	got := received(t, dir)
	for _, r := range res {
		rcv, ok := got[rcvKey{r.SOPInstanceUID, r.SentAs}]
		if !r.Stored() || !ok {
			t.Errorf("%s: stored %v received %v err %v", filepath.Base(r.Path), r.Stored(), ok, r.Err)
			continue
		}
		if !bytes.Equal(normalized(t, r.Path), normalized(t, rcv.Path)) {
			t.Errorf("%s: received data differs", filepath.Base(r.Path))
		}
	}
}
