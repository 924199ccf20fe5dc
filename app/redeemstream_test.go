package app_test

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bildbote/bildbote/app"
)

// studyZip is a small study ZIP as a portal sends it; store makes its
// entries stored with data descriptors (which cannot be read front to
// back).
func studyZip(t *testing.T, store bool) ([]byte, map[string][]byte) {
	t.Helper()
	files := map[string][]byte{"DICOMDIR": []byte("index"), "DICOM/ST01/IM01": make([]byte, 300<<10), "DICOM/ST01/IM02": make([]byte, 200<<10)}
	rand.Read(files["DICOM/ST01/IM01"])
	rand.Read(files["DICOM/ST01/IM02"])
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"DICOM/ST01/IM01", "DICOM/ST01/IM02", "DICOMDIR"} {
		m := zip.Deflate
		if store {
			m = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[name])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), files
}

// checkSaved wants exactly files under the one study folder in lib and an
// empty work folder.
func checkSaved(t *testing.T, j *app.Job, lib string, files map[string][]byte) {
	t.Helper()
	if j.State != app.StateDone || j.Receipt == nil || len(j.Receipt.Saved) != 1 {
		t.Fatalf("job %s, error %+v, receipt %+v", j.State, j.Error, j.Receipt)
	}
	dir := j.Receipt.Saved[0].Dir
	n := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got, _ := os.ReadFile(p)
		if want, ok := files[filepath.ToSlash(rel)]; !ok || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, not what the ZIP holds", rel, len(got))
		}
		n++
		return nil
	})
	if n != len(files) {
		t.Fatalf("%d files saved, want %d", n, len(files))
	}
	entries, _ := os.ReadDir(lib)
	for _, e := range entries {
		if e.Name()[0] == '.' {
			t.Errorf("left in the library: %s", e.Name())
		}
	}
}

// A portal that cannot resume (no ETag, no ranges) and breaks the first
// download halfway: the extraction so far is dropped, the download starts
// over, and the study is saved whole, once.
func TestRedeemStreamRestartsWhenPortalCannotResume(t *testing.T) {
	data, files := studyZip(t, false)
	var calls atomic.Int32
	p := newBrokenDLX(t, "application/zip", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if calls.Add(1) == 1 {
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // the connection drops
		}
		w.Write(data)
	}))
	lib := t.TempDir()
	c := openCore(t, app.Config{StateDir: t.TempDir(), RetryInitial: 5 * time.Millisecond})
	j := redeemAll(t, c, p.server.URL, lib)
	checkSaved(t, j, lib, files)
	if calls.Load() != 2 {
		t.Fatalf("%d downloads, want 2", calls.Load())
	}
}

// A portal that resumes (ETag, ranges): the second request asks for the
// rest only, and the extraction goes on where it was.
func TestRedeemStreamResumes(t *testing.T) {
	data, files := studyZip(t, false)
	var calls, ranged atomic.Int32
	p := newBrokenDLX(t, "application/zip", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("ETag", `"study1-v1"`)
		if r.Header.Get("Range") != "" {
			ranged.Add(1)
		}
		if calls.Add(1) == 1 {
			w.Header().Set("Accept-Ranges", "bytes")
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:len(data)/3])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}))
	lib := t.TempDir()
	c := openCore(t, app.Config{StateDir: t.TempDir(), RetryInitial: 5 * time.Millisecond})
	j := redeemAll(t, c, p.server.URL, lib)
	checkSaved(t, j, lib, files)
	if ranged.Load() != 1 {
		t.Fatalf("%d ranged requests, want 1", ranged.Load())
	}
}

// A damaged ZIP (a flipped byte in the data) is refused with the typed
// message, and nothing of it is in the library or the work folder.
func TestRedeemStreamCorruptLeavesNothing(t *testing.T) {
	data, _ := studyZip(t, false)
	bad := bytes.Clone(data)
	bad[len(bad)/4] ^= 0x55
	p := newBrokenDLX(t, "application/zip", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		w.Write(bad)
	}))
	lib, state := t.TempDir(), t.TempDir()
	c := openCore(t, app.Config{StateDir: state, RetryInitial: 5 * time.Millisecond})
	j := redeemAll(t, c, p.server.URL, lib)
	if j.State != app.StateFailed || j.Error == nil || j.Error.Key != "transfer.zip.corrupt" {
		t.Fatalf("state %s, error %+v", j.State, j.Error)
	}
	if n := treeBytes(lib); n != 0 {
		t.Fatalf("%d bytes left in the library", n)
	}
}

// Stored entries with data descriptors cannot be read front to back: the
// ZIP is kept in a file and extracted from there, and saved all the same.
func TestRedeemStreamFallsBackToFile(t *testing.T) {
	data, files := studyZip(t, true)
	p := newBrokenDLX(t, "application/zip", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		w.Write(data)
	}))
	lib := t.TempDir()
	c := openCore(t, app.Config{StateDir: t.TempDir(), RetryInitial: 5 * time.Millisecond})
	checkSaved(t, redeemAll(t, c, p.server.URL, lib), lib, files)
}
