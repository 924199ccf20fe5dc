package pixel

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const (
	python       = "/usr/bin/python3" // Debian's pydicom needs Debian's interpreter
	pydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data"
)

func needPydicom(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(pydicomFiles + "/test_files/CT_small.dcm"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pydicom test files missing (scripts/deps.sh test installs python3-pydicom): %v", err)
		}
		t.Skip("pydicom test files not installed (scripts/deps.sh test)")
	}
}

type pyRec struct {
	Name        string `json:"name"`
	OK          bool   `json:"ok"`
	Error       string `json:"error"`
	TS          string `json:"ts"`
	Frames      int    `json:"frames"`
	Shape       []int  `json:"shape"`
	Photometric string `json:"photometric"`
}

func readRaw(t *testing.T, path string) []int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]int64, len(b)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v
}

// decoded lists the transfer syntaxes this package must decode.
var decoded = map[string]bool{
	tsImplicitLE: true, tsExplicitLE: true, tsDeflated: true, tsExplicitBE: true,
	tsRLE: true, tsJPEGBase: true,
}

// TestAgainstPydicom decodes frame 0 (and the last frame) of every
// pydicom test and character set file and compares the stored values
// with pydicom's pixel_array: exactly for the lossless syntaxes, within a
// small tolerance for JPEG (decoders differ in IDCT and chroma
// upsampling). Files in a syntax without a decoder here must give
// ErrNoPreview.
func TestAgainstPydicom(t *testing.T) {
	needPydicom(t)
	var files []string
	for _, pat := range []string{"/test_files/*.dcm", "/charset_files/*.dcm"} {
		m, _ := filepath.Glob(pydicomFiles + pat)
		files = append(files, m...)
	}
	// Other third-party examples on the machine (Siemens MR; XA in JPEG
	// lossless).
	for _, p := range []string{"/usr/share/doc/dicom3tools/examples/0051.dcm", "/usr/share/doc/libgdcm3.0/examples/00191113.dcm"} {
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	out := t.TempDir()
	cmd := exec.Command(python, append([]string{"testdata/pydicom_pixels.py", out}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("pydicom_pixels.py: %v\n%s", err, stderr.String())
	}
	recs := map[string]pyRec{}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		var r pyRec
		if err := jsonUnmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
		recs[r.Name] = r
	}
	var exact, lossy, noPrev, bothFail, lastFrames int
	tsSeen := map[string]int{}
	for _, path := range files {
		name := filepath.Base(path)
		rec, ok := recs[name]
		if !ok {
			t.Errorf("%s: no pydicom record", name)
			continue
		}
		im, err := Open(path)
		if err != nil {
			if rec.OK {
				t.Errorf("%s: pydicom decodes it, Open: %v", name, err)
			} else {
				bothFail++
				t.Logf("%s: Open: %v (pydicom: %s)", name, err, rec.Error)
			}
			continue
		}
		fr, err := im.Frame(0)
		if errors.Is(err, ErrNoPreview) {
			var np *NoPreviewError
			if !errors.As(err, &np) || np.TransferSyntax != im.TransferSyntax {
				t.Errorf("%s: ErrNoPreview without the transfer syntax: %v", name, err)
			}
			if decoded[im.TransferSyntax] {
				t.Errorf("%s: %s should decode: %v", name, im.TransferSyntax, err)
			}
			noPrev++
			t.Logf("%s: %v (pydicom ok=%v)", name, err, rec.OK)
			continue
		}
		if err != nil {
			if rec.OK {
				t.Errorf("%s: pydicom decodes it, Frame(0): %v", name, err)
			} else {
				bothFail++
				t.Logf("%s: Frame(0): %v (pydicom: %s)", name, err, rec.Error)
			}
			continue
		}
		if !rec.OK {
			if name == "badVR.dcm" {
				// pydicom fails formatting its warning about the bad VR of
				// a non-pixel element; the pixel data itself is sound.
				t.Logf("%s: decoded here, pydicom fails: %s", name, rec.Error)
				continue
			}
			t.Errorf("%s: decoded here, pydicom fails: %s", name, rec.Error)
			continue
		}
		tsSeen[im.TransferSyntax]++
		lossless := im.TransferSyntax != tsJPEGBase && im.TransferSyntax != tsJPEGExt
		compare := func(label string, got []int64, want []int64) {
			if len(got) != len(want) {
				t.Errorf("%s %s: %d values, pydicom %d (shape %v)", name, label, len(got), len(want), rec.Shape)
				return
			}
			var sum, maxd int64
			diff := 0
			for i := range got {
				d := got[i] - want[i]
				if d < 0 {
					d = -d
				}
				if d != 0 {
					diff++
				}
				sum += d
				maxd = max(maxd, d)
			}
			mean := float64(sum) / float64(len(got))
			if lossless {
				if diff != 0 {
					t.Errorf("%s %s (%s): %d of %d values differ from pydicom, max %d", name, label, im.TransferSyntax, diff, len(got), maxd)
				}
				return
			}
			t.Logf("%s %s (%s): mean abs diff %.3f, max %d", name, label, im.TransferSyntax, mean, maxd)
			if mean > 2 || maxd > jpegMaxDiff {
				t.Errorf("%s %s: JPEG differs from pydicom: mean %.3f max %d", name, label, mean, maxd)
			}
		}
		compare("frame 0", fr.Values, readRaw(t, filepath.Join(out, name+".raw")))
		if lossless {
			exact++
		} else {
			lossy++
		}
		if rec.Frames > 1 {
			if im.Frames() != rec.Frames {
				t.Errorf("%s: %d frames, pydicom %d", name, im.Frames(), rec.Frames)
				continue
			}
			fl, err := im.Frame(rec.Frames - 1)
			if err != nil {
				t.Errorf("%s: last frame: %v", name, err)
				continue
			}
			compare("last frame", fl.Values, readRaw(t, filepath.Join(out, name+".last.raw")))
			lastFrames++
		}
		// Rendering must not panic and must cover the frame.
		if img := fr.Render(fr.DefaultWindow()); img.Bounds().Dx() != im.Columns || img.Bounds().Dy() != im.Rows {
			t.Errorf("%s: rendered %v", name, img.Bounds())
		}
	}
	t.Logf("identical to pydicom: %d files; JPEG within tolerance: %d; last frames compared: %d; no preview: %d; both fail: %d; by syntax %v",
		exact, lossy, lastFrames, noPrev, bothFail, tsSeen)
	// The comparison must really have covered every decoded syntax.
	for ts := range decoded {
		if tsSeen[ts] == 0 {
			t.Errorf("no pydicom file of %s was compared", ts)
		}
	}
	if exact < 20 || lossy < 3 || noPrev < 4 {
		t.Errorf("too few files compared: %d exact, %d JPEG, %d no preview", exact, lossy, noPrev)
	}
}

// jpegMaxDiff bounds the largest difference of one JPEG sample between Go's
// image/jpeg and libjpeg (via Pillow).
const jpegMaxDiff = 4

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
