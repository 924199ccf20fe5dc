package safezip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/transfer/diskspace"
	"github.com/bildbote/bildbote/transfer/internal/fulldisk"
)

type entry struct {
	name string
	data []byte
	mode os.FileMode
}

func makeZip(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func extract(t *testing.T, data []byte, lim Limits) (string, *Result, error) {
	t.Helper()
	parent := t.TempDir()
	dst := filepath.Join(parent, "out")
	res, err := Extract(context.Background(), bytes.NewReader(data), int64(len(data)), dst, lim, nil)
	if err != nil {
		entries, _ := os.ReadDir(parent)
		if len(entries) != 0 {
			t.Errorf("failed extraction left %d entries in %s", len(entries), parent)
		}
	}
	sameAsStream(t, data, lim, dst, res, err)
	return dst, res, err
}

// sameAsStream extracts data again with ExtractStream, from a reader
// that hands out odd-sized pieces, and wants the same outcome: the same
// files, or a refusal of the same type with nothing left behind.
func sameAsStream(t *testing.T, data []byte, lim Limits, want string, wantRes *Result, wantErr error) {
	t.Helper()
	parent := t.TempDir()
	dst := filepath.Join(parent, "out")
	res, err := ExtractStream(context.Background(), iotest.HalfReader(bytes.NewReader(data)), dst, lim, StreamOptions{Sync: true})
	if (err == nil) != (wantErr == nil) || err != nil && fmt.Sprintf("%T", errors.Unwrap(err)) != fmt.Sprintf("%T", errors.Unwrap(wantErr)) &&
		fmt.Sprintf("%T", err) != fmt.Sprintf("%T", wantErr) {
		t.Fatalf("ExtractStream: %v (%T), Extract: %v (%T)", err, err, wantErr, wantErr)
	}
	if err != nil {
		if entries, _ := os.ReadDir(parent); len(entries) != 0 {
			t.Errorf("failed stream extraction left %d entries in %s", len(entries), parent)
		}
		return
	}
	if *res != *wantRes {
		t.Fatalf("ExtractStream %+v, Extract %+v", res, wantRes)
	}
	if a, b := treeOf(t, dst), treeOf(t, want); a != b {
		t.Fatalf("ExtractStream wrote\n%s\nExtract\n%s", a, b)
	}
}

// treeOf lists every file under dir with its content's CRC.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			fmt.Fprintf(&b, "%s/\n", rel)
			return nil
		}
		data, err := os.ReadFile(p)
		fmt.Fprintf(&b, "%s %d %08x\n", rel, len(data), crc32.ChecksumIEEE(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestExtractGood(t *testing.T) {
	random := make([]byte, 300<<10)
	rand.Read(random)
	data := makeZip(t,
		entry{name: "DICOMDIR", data: []byte("dicomdir")},
		entry{name: "DICOM/", mode: os.ModeDir | 0o777},
		entry{name: "DICOM/ST01/IM01", data: random, mode: 0o777 | os.ModeSetuid},
		entry{name: "IHE_PDI/Befund Müller.pdf", data: []byte("%PDF")},
	)
	dst, res, err := extract(t, data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 3 || res.Bytes != int64(len(random)+12) {
		t.Fatalf("result %+v", res)
	}
	got, _ := os.ReadFile(filepath.Join(dst, "DICOM", "ST01", "IM01"))
	if !bytes.Equal(got, random) {
		t.Fatal("content differs")
	}
	fi, _ := os.Stat(filepath.Join(dst, "DICOM", "ST01", "IM01"))
	if fi.Mode() != 0o644 {
		t.Errorf("mode from the archive used: %v", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(dst, "IHE_PDI", "Befund Müller.pdf")); err != nil {
		t.Error(err)
	}
	// unzip(1), the peer, agrees on the content.
	unzip := corpus.Tool(t, "unzip")
	zpath := filepath.Join(t.TempDir(), "a.zip")
	if err := os.WriteFile(zpath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(unzip, "-p", zpath, "DICOM/ST01/IM01").Output()
	if err != nil || !bytes.Equal(out, random) {
		t.Fatalf("unzip -p: %v", err)
	}
}

func TestRefusesUnsafeEntries(t *testing.T) {
	cases := map[string]entry{
		"zip slip":          {name: "../../evil.sh", data: []byte("x")},
		"nested zip slip":   {name: "DICOM/../../evil", data: []byte("x")},
		"backslash slip":    {name: "..\\..\\evil", data: []byte("x")},
		"absolute":          {name: "/etc/cron.d/evil", data: []byte("x")},
		"drive letter":      {name: "C:\\Windows\\evil.exe", data: []byte("x")},
		"symlink":           {name: "link", data: []byte("/etc"), mode: os.ModeSymlink | 0o777},
		"named pipe":        {name: "fifo", mode: os.ModeNamedPipe | 0o644},
		"device":            {name: "sda", mode: os.ModeDevice | 0o644},
		"empty name":        {name: "", data: []byte("x")},
		"dot dot directory": {name: "../", mode: os.ModeDir | 0o755},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			data := makeZip(t, entry{name: "ok.txt", data: []byte("ok")}, e)
			_, _, err := extract(t, data, Limits{})
			var ue *UnsafeEntryError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v", err)
			}
			if u, ok := i18n.AsUserError(err); !ok || u.Kind != i18n.KindRefused {
				t.Fatalf("not a refused user error: %v", err)
			}
		})
	}
	dup := makeZip(t, entry{name: "a/IM1", data: []byte("1")}, entry{name: "A/im1", data: []byte("2")})
	var ue *UnsafeEntryError
	if _, _, err := extract(t, dup, Limits{}); !errors.As(err, &ue) {
		t.Fatalf("case-insensitive duplicate: %v", err)
	}
}

// rawDeflate compresses n zero bytes.
func rawDeflate(t *testing.T, n int64) ([]byte, uint32) {
	t.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	crc := crc32.NewIEEE()
	zeros := make([]byte, 1<<20)
	for left := n; left > 0; left -= int64(len(zeros)) {
		chunk := zeros[:min(int64(len(zeros)), left)]
		fw.Write(chunk)
		crc.Write(chunk)
	}
	fw.Close()
	return buf.Bytes(), crc.Sum32()
}

// rawZip writes one pre-compressed entry with the sizes it claims.
func rawZip(t *testing.T, name string, compressed []byte, crc uint32, claimed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(len(compressed)), UncompressedSize64: claimed})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(compressed)
	zw.Close()
	return buf.Bytes()
}

func TestZipBombs(t *testing.T) {
	// 1. A real bomb: 16 MiB of zeros in ~16 KiB (ratio ~1000).
	comp, crc := rawDeflate(t, 16<<20)
	_, _, err := extract(t, rawZip(t, "bomb.dcm", comp, crc, 16<<20), Limits{})
	var le *LimitError
	if !errors.As(err, &le) || le.What != "compression ratio" {
		t.Fatalf("ratio bomb: %v", err)
	}
	// 2. One that declares 5 GiB: refused before a byte is written.
	_, _, err = extract(t, rawZip(t, "big.dcm", comp, crc, 5<<30), Limits{MaxFileBytes: 4 << 30})
	if !errors.As(err, &le) || le.What != "file size" {
		t.Fatalf("declared 5 GiB: %v", err)
	}
	// 3. One that lies: declares 1 MiB (a harmless ratio) but inflates to
	// 16 MiB. Reading stops at the declared size; the entry is damaged.
	small := comp
	_, _, err = extract(t, rawZip(t, "liar.dcm", small, crc, 1<<20), Limits{MaxRatio: 1e9})
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("lying size: %v", err)
	}
	// 4. Too many entries, too much in total.
	many := make([]entry, 50)
	for i := range many {
		many[i] = entry{name: strings.Repeat("x", i+1), data: []byte("1234")}
	}
	if _, _, err := extract(t, makeZip(t, many...), Limits{MaxEntries: 49}); !errors.As(err, &le) || le.What != "entries" {
		t.Fatalf("entries: %v", err)
	}
	if _, _, err := extract(t, makeZip(t, many...), Limits{MaxTotalBytes: 199}); !errors.As(err, &le) || le.What != "total size" {
		t.Fatalf("total: %v", err)
	}
}

func TestCorruptArchive(t *testing.T) {
	random := make([]byte, 64<<10)
	rand.Read(random)
	data := makeZip(t, entry{name: "a", data: random})
	bad := bytes.Clone(data)
	bad[100] ^= 0xff // inside the compressed data: CRC or inflate fails
	var ce *CorruptError
	if _, _, err := extract(t, bad, Limits{}); !errors.As(err, &ce) {
		t.Fatalf("flipped byte: %v", err)
	}
	if _, _, err := extract(t, []byte("PK not really"), Limits{}); !errors.As(err, &ce) {
		t.Fatalf("not a zip: %v", err)
	}
}

// A full disk, for real: the test binary re-runs itself in a private mount
// namespace with a 1 MiB tmpfs as the destination. Many small files pass
// the free-space check (their declared bytes fit) but each takes a page,
// so writing fails with ENOSPC midway.

func TestDiskFull(t *testing.T) {
	var files []entry
	for i := 0; i < 600; i++ {
		files = append(files, entry{name: "DICOM/IM" + strings.Repeat("0", 4) + string(rune('A'+i%26)) + string(rune('A'+i/26)), data: []byte("1234567")})
	}
	zpath := filepath.Join(t.TempDir(), "many.zip")
	if err := os.WriteFile(zpath, makeZip(t, files...), 0o644); err != nil {
		t.Fatal(err)
	}
	fulldisk.Run(t, "TestDiskFullChild", "BILDBOTE_SAFEZIP_ZIP="+zpath)
}

func TestDiskFullChild(t *testing.T) {
	mnt := fulldisk.Mount(t)
	_, err := ExtractFile(context.Background(), os.Getenv("BILDBOTE_SAFEZIP_ZIP"), filepath.Join(mnt, "out"), Limits{}, nil)
	var fe *diskspace.FullError
	if !errors.As(err, &fe) {
		t.Fatalf("disk full: %v", err)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "transfer.disk.full" {
		t.Fatalf("user error: %v", err)
	}
	entries, _ := os.ReadDir(mnt)
	if len(entries) != 0 {
		t.Fatalf("left behind on the full disk: %v", entries)
	}
	// A ZIP whose declared size does not fit is refused before writing.
	big := filepath.Join(t.TempDir(), "big.zip")
	f, _ := os.Create(big)
	zw := zip.NewWriter(f)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "x", Method: zip.Store})
	io.CopyN(w, rand.Reader, 2<<20)
	zw.Close()
	f.Close()
	_, err = ExtractFile(context.Background(), big, filepath.Join(mnt, "out"), Limits{}, nil)
	if !errors.As(err, &fe) || fe.Need == 0 {
		t.Fatalf("declared too big: %v", err)
	}
}
