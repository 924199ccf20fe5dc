package dimse

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// dump is dcmdump's full listing of path (values not shortened).
func dump(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(corpus.Tool(t, "dcmdump"), "-q", "+L", "-M", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dcmdump %s: %v\n%s", path, err, out)
	}
	return string(out)
}

// dciodvfyErrors are dciodvfy's "Error" lines for path, sorted.
func dciodvfyErrors(t *testing.T, path string) []string {
	t.Helper()
	out, _ := exec.Command(corpus.Tool(t, "dciodvfy"), path).CombinedOutput()
	var errs []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Error") {
			errs = append(errs, l)
		}
	}
	sort.Strings(errs)
	return errs
}

var dumpLine = regexp.MustCompile(`^(\s*)\(([0-9a-f]{4},[0-9a-f]{4})\) (\w\w) (?:\[([^\]]*)\]|=?(\S*)|\(Sequence)`)

// patientElements are dcmdump's group-0010 lines as "depth tag VR value".
func patientElements(d string) []string {
	var out []string
	for _, l := range strings.Split(d, "\n") {
		m := dumpLine.FindStringSubmatch(l)
		if m == nil || !strings.HasPrefix(m[2], "0010,") {
			continue
		}
		out = append(out, strings.Join([]string{string(rune('0' + len(m[1])/4)), m[2], m[3], m[4]}, " "))
	}
	return out
}

func TestRewritePatientIDValidators(t *testing.T) {
	dir := t.TempDir()
	src := mixedFiles(t, "CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "JPEG2000.dcm", "rtplan.dcm", "0051.dcm")
	// A file with an issuer and an Other Patient IDs Sequence already
	// (of undefined length, as dcmodify writes it) and one with a group
	// length for group 0010.
	withSeq := filepath.Join(dir, "with-seq.dcm")
	copyFile(t, corpus.PydicomFile(t, "CT_small.dcm"), withSeq)
	if out, err := exec.Command(corpus.Tool(t, "dcmodify"), "-nb", "-i", "(0010,0021)=KLINIK-A", "-i", "(0010,1002)[0].(0010,0020)=OLD-1", "-i", "(0010,1002)[0].(0010,0022)=TEXT", withSeq).CombinedOutput(); err != nil {
		t.Fatalf("dcmodify: %v\n%s", err, out)
	}
	withGL := filepath.Join(dir, "with-gl.dcm")
	if out, err := exec.Command(corpus.Tool(t, "dcmconv"), "+g", "+e", corpus.PydicomFile(t, "MR_small.dcm"), withGL).CombinedOutput(); err != nil {
		t.Fatalf("dcmconv: %v\n%s", err, out)
	}
	// Deflated Explicit VR Little Endian, made by dcmtk: one plain, one
	// with the issuer and the existing sequence.
	var deflated []string
	for _, f := range []string{corpus.PydicomFile(t, "CT_small.dcm"), withSeq} {
		d := filepath.Join(dir, "deflated-"+filepath.Base(f))
		if out, err := exec.Command(corpus.Tool(t, "dcmconv"), "+td", f, d).CombinedOutput(); err != nil {
			t.Fatalf("dcmconv +td: %v\n%s", err, out)
		}
		if in, err := OpenInstance(d); err != nil || in.TransferSyntax != DeflatedExplicitVRLE {
			t.Fatalf("dcmconv +td made %+v, %v", in, err)
		}
		deflated = append(deflated, d)
	}
	src = append(src, withSeq, withGL)
	src = append(src, deflated...)
	for _, in := range src {
		name := filepath.Base(in)
		t.Run(name, func(t *testing.T) {
			before := patientElements(dump(t, in))
			var origID, issuer string
			var oldItems int
			for _, l := range before {
				switch {
				case strings.HasPrefix(l, "0 0010,0020 LO "):
					origID = strings.TrimPrefix(l, "0 0010,0020 LO ")
				case strings.HasPrefix(l, "0 0010,0021 LO "):
					issuer = strings.TrimPrefix(l, "0 0010,0021 LO ")
				case strings.HasPrefix(l, "1 0010,0020 "):
					oldItems++
				}
			}
			out := filepath.Join(t.TempDir(), name)
			res, err := RewritePatientIDFile(in, out, "KLINIK-4711")
			if err != nil {
				t.Fatal(err)
			}
			if !res.Changed || res.Original != strings.TrimSpace(origID) {
				t.Fatalf("rewrite: %+v, dcmdump says the original is %q", res, origID)
			}
			d := dump(t, out)
			after := patientElements(d)
			want := []string{"0 0010,0020 LO KLINIK-4711"}
			if origID != "" {
				want = append(want, "1 0010,0020 LO "+origID)
				if issuer != "" {
					want = append(want, "1 0010,0021 LO "+issuer)
				}
				want = append(want, "1 0010,0022 CS TEXT")
			}
			for _, w := range want {
				if !contains(after, w) {
					t.Errorf("after the rewrite no %q in\n%s", w, strings.Join(after, "\n"))
				}
			}
			for _, l := range after {
				if strings.HasPrefix(l, "0 0010,0021 ") {
					t.Errorf("the original issuer stays at the top level: %s", l)
				}
			}
			items := 0
			for _, l := range after {
				if strings.HasPrefix(l, "1 0010,0020 ") {
					items++
				}
			}
			if origID != "" && items != oldItems+1 {
				t.Errorf("Other Patient IDs Sequence holds %d IDs, want %d (the old ones and the original)", items, oldItems+1)
			}
			// Everything outside group 0010 reads the same.
			if a, b := dumpWithout0010(dump(t, in)), dumpWithout0010(d); a != b {
				t.Errorf("the rewrite changed more than group 0010")
			}
			if name == "with-gl.dcm" && !strings.Contains(d, "(0010,0000) UL") {
				t.Errorf("the group length (0010,0000) was dropped")
			}
			// dciodvfy: no error the original did not have (it reads no
			// deflated file: those are compared inflated by dcmconv).
			vin, vout := in, out
			if strings.HasPrefix(name, "deflated-") {
				vin, vout = inflatedCopy(t, in), inflatedCopy(t, out)
			}
			old := map[string]bool{}
			for _, e := range dciodvfyErrors(t, vin) {
				old[e] = true
			}
			for _, e := range dciodvfyErrors(t, vout) {
				if !old[e] {
					t.Errorf("dciodvfy: new error %s", e)
				}
			}
			// A second run with the same ID changes nothing.
			b, _ := os.ReadFile(out)
			again, res2, err := RewritePatientID(b, "KLINIK-4711")
			if err != nil || res2.Changed || !bytes.Equal(again, b) {
				t.Errorf("second rewrite: changed %v, err %v", res2.Changed, err)
			}
			// The converter still takes the rewritten data set.
			inst, err := OpenInstance(out)
			if err != nil {
				t.Fatal(err)
			}
			if orig, _ := OpenInstance(in); orig != nil && inst.TransferSyntax != orig.TransferSyntax {
				t.Errorf("the rewrite changed the transfer syntax %s to %s", orig.TransferSyntax, inst.TransferSyntax)
			}
			if inst.TransferSyntax == DeflatedExplicitVRLE && !strings.Contains(dump(t, out), "=DeflatedLittleEndianExplicit") {
				t.Errorf("dcmdump does not read the rewritten file as deflated")
			}
			if inst.TransferSyntax == ExplicitVRLittleEndian {
				if _, err := ExplicitToImplicit(b[inst.DataOffset:]); err != nil {
					t.Errorf("ExplicitToImplicit of the rewritten file: %v", err)
				}
			}
		})
	}
}

// dumpWithout0010 is a dcmdump listing without group 0010 and the file
// meta group (whose lengths do not change anyway, but the file name
// does not matter).
func dumpWithout0010(d string) string {
	var keep []string
	skip := -1
	for _, l := range strings.Split(d, "\n") {
		ind := len(l) - len(strings.TrimLeft(l, " "))
		if skip >= 0 && ind > skip {
			continue
		}
		skip = -1
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "(0010,") {
			if strings.Contains(t, "(Sequence") {
				skip = ind
			}
			continue
		}
		if strings.HasPrefix(t, "(fffe,e0dd)") && ind == 0 {
			continue // the rewritten sequence's delimiter, if any
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestValidPatientID(t *testing.T) {
	for _, ok := range []string{"4711", "KLINIK-0815/2", strings.Repeat("9", 64), "A B"} {
		if err := ValidPatientID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("9", 65), `A\B`, "Müller", "A\tB", "A\nB"} {
		if err := ValidPatientID(bad); !errors.Is(err, ErrBadPatientID) {
			t.Errorf("%q: %v, want ErrBadPatientID", bad, err)
		}
	}
	if _, _, err := RewritePatientID([]byte("not dicom"), "X"); err == nil {
		t.Error("a non-DICOM file rewritten")
	}
}

// TestRewritePatientIDFileLarge: a file larger than the part read first
// (a 3 MB value after group 0010) is rewritten streaming, to the same
// bytes as RewritePatientID of the whole file, and dciodvfy finds no new
// error; the same for a file that already has the ID (a plain copy).
func TestRewritePatientIDFileLarge(t *testing.T) {
	dir := t.TempDir()
	big, blob := filepath.Join(dir, "big.dcm"), filepath.Join(dir, "blob.bin")
	copyFile(t, corpus.PydicomFile(t, "CT_small.dcm"), big)
	b := make([]byte, 3<<20)
	for i := range b {
		b[i] = byte(i * 7)
	}
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(corpus.Tool(t, "dcmodify"), "-nb", "-if", "(0042,0011)="+blob, big).CombinedOutput(); err != nil {
		t.Fatalf("dcmodify: %v\n%s", err, out)
	}
	whole, err := os.ReadFile(big)
	if err != nil || len(whole) <= headRead {
		t.Fatalf("test file of %d bytes (%v), want more than %d", len(whole), err, headRead)
	}
	want, _, err := RewritePatientID(whole, "KLINIK-4711")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.dcm")
	res, err := RewritePatientIDFile(big, out, "KLINIK-4711")
	if err != nil || !res.Changed || res.Original != "1CT1" {
		t.Fatalf("rewrite: %+v %v", res, err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		t.Fatalf("streamed rewrite differs from the whole-file one (%d vs %d bytes)", len(got), len(want))
	}
	if !strings.Contains(dump(t, out), "[KLINIK-4711]") {
		t.Error("dcmdump does not show the new Patient ID")
	}
	old := map[string]bool{}
	for _, e := range dciodvfyErrors(t, big) {
		old[e] = true
	}
	for _, e := range dciodvfyErrors(t, out) {
		if !old[e] {
			t.Errorf("dciodvfy: new error %s", e)
		}
	}
	again := filepath.Join(dir, "again.dcm")
	if res, err := RewritePatientIDFile(out, again, "KLINIK-4711"); err != nil || res.Changed {
		t.Fatalf("second rewrite: %+v %v", res, err)
	}
	if b, _ := os.ReadFile(again); !bytes.Equal(b, got) {
		t.Error("a file that has the ID already is not copied as it is")
	}
}

// A deflated data set that does not inflate is ErrDeflated, not a
// half-rewritten file.
func TestRewritePatientIDDeflatedBroken(t *testing.T) {
	d := filepath.Join(t.TempDir(), "d.dcm")
	if out, err := exec.Command(corpus.Tool(t, "dcmconv"), "+td", corpus.PydicomFile(t, "CT_small.dcm"), d).CombinedOutput(); err != nil {
		t.Fatalf("dcmconv +td: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(d)
	in, err := OpenInstance(d)
	if err != nil {
		t.Fatal(err)
	}
	broken := append([]byte(nil), b[:in.DataOffset+40]...)
	broken = append(broken, bytes.Repeat([]byte{0xff}, 64)...)
	if _, _, err := RewritePatientID(broken, "KLINIK-4711"); !errors.Is(err, ErrDeflated) {
		t.Errorf("broken deflate stream: %v, want ErrDeflated", err)
	}
}

// inflatedCopy is dcmtk's explicit VR little endian copy of a deflated file.
func inflatedCopy(t *testing.T, path string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "inflated.dcm")
	if b, err := exec.Command(corpus.Tool(t, "dcmconv"), "+te", path, out).CombinedOutput(); err != nil {
		t.Fatalf("dcmconv +te %s: %v\n%s", path, err, b)
	}
	return out
}
