package pixel

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing (scripts/deps.sh test installs dcmtk)", name)
		}
		t.Skipf("%s not installed (scripts/deps.sh test)", name)
	}
	return p
}

// TestMultiFrameJPEGFragments: dcmtk's dcmcjpeg encodes pydicom's 2-frame
// RGB image as JPEG baseline three ways: one fragment per frame, 1 KiB
// fragments with a Basic Offset Table, and 1 KiB fragments without one
// (frames found by their SOI markers). Every frame of every variant
// decodes to the same values, and the one-fragment variant matches
// pydicom's pixel_array (pydicom 2.3 itself cannot read the fragmented
// ones).
func TestMultiFrameJPEGFragments(t *testing.T) {
	needPydicom(t)
	drle, cjpeg := needTool(t, "dcmdrle"), needTool(t, "dcmcjpeg")
	dir := t.TempDir()
	src := filepath.Join(pydicomFiles, "test_files", "SC_rgb_rle_2frame.dcm")
	raw := filepath.Join(dir, "native.dcm")
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run(drle, src, raw)
	variants := map[string][]string{
		"ff.dcm":   {"+eb", "+ff", "+ot"},
		"ot.dcm":   {"+eb", "+fs", "1", "+ot"},
		"noot.dcm": {"+eb", "+fs", "1", "-ot"},
	}
	for name, opts := range variants {
		run(cjpeg, append(opts, raw, filepath.Join(dir, name))...)
	}
	frames := map[string][2][]int64{}
	for name := range variants {
		im, err := Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if im.Frames() != 2 || len(im.frames) != 2 {
			t.Fatalf("%s: %d frames, %d split", name, im.Frames(), len(im.frames))
		}
		var v [2][]int64
		for i := range v {
			f, err := im.Frame(i)
			if err != nil {
				t.Fatalf("%s frame %d: %v", name, i, err)
			}
			v[i] = f.Values
		}
		if name != "ff.dcm" && len(im.frames[0]) < 2 {
			t.Errorf("%s: frame 0 in %d fragment(s); the test wants several", name, len(im.frames[0]))
		}
		frames[name] = v
	}
	for _, name := range []string{"ot.dcm", "noot.dcm"} {
		for i := 0; i < 2; i++ {
			if !equal(frames[name][i], frames["ff.dcm"][i]) {
				t.Errorf("%s frame %d differs from the one-fragment encoding", name, i)
			}
		}
	}
	// The one-fragment variant against pydicom, both frames.
	out, err := exec.Command(python, "testdata/pydicom_pixels.py", dir, filepath.Join(dir, "ff.dcm")).Output()
	if err != nil {
		t.Fatalf("pydicom_pixels.py: %v", err)
	}
	var rec pyRec
	if err := json.Unmarshal(bytes.TrimSpace(out), &rec); err != nil || !rec.OK {
		t.Fatalf("pydicom: %v %s", err, out)
	}
	for i, file := range []string{"ff.dcm.raw", "ff.dcm.last.raw"} {
		want := readRaw(t, filepath.Join(dir, file))
		got := frames["ff.dcm"][i]
		if len(got) != len(want) {
			t.Fatalf("frame %d: %d values, pydicom %d", i, len(got), len(want))
		}
		var sum, maxd int64
		for k := range got {
			d := max(got[k]-want[k], want[k]-got[k])
			sum += d
			maxd = max(maxd, d)
		}
		mean := float64(sum) / float64(len(got))
		t.Logf("frame %d: mean abs diff %.3f, max %d", i, mean, maxd)
		if mean > 2 || maxd > jpegMaxDiff {
			t.Errorf("frame %d differs from pydicom: mean %.3f, max %d", i, mean, maxd)
		}
	}
}
