package safezip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/dicomscan/pdi"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
)

// streamInto runs ExtractStream on data and, when it fails, checks that
// nothing is left beside the destination.
func streamInto(t *testing.T, r io.Reader) (string, *Result, error) {
	t.Helper()
	parent := t.TempDir()
	dst := filepath.Join(parent, "out")
	res, err := ExtractStream(context.Background(), r, dst, Limits{}, StreamOptions{Sync: true})
	if err != nil {
		if entries, _ := os.ReadDir(parent); len(entries) != 0 {
			t.Errorf("failed extraction left %v in %s", entries, parent)
		}
	}
	return dst, res, err
}

// The portal's own ZIP (dicomscan/pdi, as bildbote-portal serves it:
// deflated entries with sizes in the local header and ones with data
// descriptors) streams to the same files Extract writes.
func TestStreamRealPortalZip(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a CD")
	}
	cd := filepath.Join(t.TempDir(), "cd")
	if _, err := gencd.Generate(cd, gencd.Options{Files: 40, PixelSize: 64, Documents: true, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	m, err := dicomscan.Open(cd)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	idx, err := dicomscan.Scan(context.Background(), m, dicomscan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := pdi.WriteZip(context.Background(), &buf, idx, pdi.Options{IncludeDocuments: true}); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	descriptors := 0
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	for _, f := range zr.File {
		if f.Flags&0x8 != 0 {
			descriptors++
		}
	}
	dst, res, err := extract(t, data, Limits{}) // and the same through ExtractStream
	if err != nil {
		t.Fatal(err)
	}
	if res.Files < 40 {
		t.Fatalf("%+v", res)
	}
	if _, err := os.Stat(filepath.Join(dst, "DICOMDIR")); err != nil {
		t.Fatal(err)
	}
	t.Logf("portal ZIP: %d entries (%d with a data descriptor), %d bytes", len(zr.File), descriptors, res.Bytes)
	if _, sres, err := streamInto(t, iotest.OneByteReader(bytes.NewReader(data))); err != nil || *sres != *res {
		t.Fatalf("stream %+v %v, want %+v", sres, err, res)
	}
}

// rawEntry is one entry of a hand-made archive.
type rawEntry struct {
	name       string
	data       []byte
	store      bool
	descriptor bool // sizes and CRC in a data descriptor after the data
	zip64      bool // sizes in ZIP64 extra fields (and a ZIP64 end record)
	sig        bool // the descriptor has its optional signature
}

// handZip writes an archive byte by byte, so that tests can have what
// archive/zip does not write (ZIP64 for small entries, descriptors with
// or without signature) and can then break it.
func handZip(t *testing.T, entries ...rawEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	type rec struct {
		e                    rawEntry
		off                  int64
		crc                  uint32
		csize, usize, method uint64
	}
	var recs []rec
	any64 := false
	for _, e := range entries {
		comp := e.data
		method := uint16(zip.Deflate)
		if e.store {
			method = zip.Store
		} else {
			var c bytes.Buffer
			fw, _ := flate.NewWriter(&c, flate.BestSpeed)
			fw.Write(e.data)
			fw.Close()
			comp = c.Bytes()
		}
		r := rec{e: e, off: int64(b.Len()), crc: crc32.ChecksumIEEE(e.data), csize: uint64(len(comp)), usize: uint64(len(e.data)), method: uint64(method)}
		any64 = any64 || e.zip64
		flags := uint16(0x800)
		if e.descriptor {
			flags |= 0x8
		}
		le(uint32(sigLocal))
		le(uint16(45))
		le(flags)
		le(method)
		le(uint32(0)) // time, date
		var extra []byte
		switch {
		case e.zip64:
			if e.descriptor {
				le(uint32(0))
				le(uint32(0))
				le(uint32(0))
			} else {
				le(r.crc)
				le(uint32(0xffffffff))
				le(uint32(0xffffffff))
			}
			extra = binary.LittleEndian.AppendUint16(extra, 1)
			extra = binary.LittleEndian.AppendUint16(extra, 16)
			if e.descriptor {
				extra = append(extra, make([]byte, 16)...)
			} else {
				extra = binary.LittleEndian.AppendUint64(extra, r.usize)
				extra = binary.LittleEndian.AppendUint64(extra, r.csize)
			}
		case e.descriptor:
			le(uint32(0))
			le(uint32(0))
			le(uint32(0))
		default:
			le(r.crc)
			le(uint32(r.csize))
			le(uint32(r.usize))
		}
		le(uint16(len(e.name)))
		le(uint16(len(extra)))
		b.WriteString(e.name)
		b.Write(extra)
		b.Write(comp)
		if e.descriptor {
			if e.sig {
				le(uint32(sigDescriptor))
			}
			le(r.crc)
			if e.zip64 {
				le(r.csize)
				le(r.usize)
			} else {
				le(uint32(r.csize))
				le(uint32(r.usize))
			}
		}
		recs = append(recs, r)
	}
	cdStart := int64(b.Len())
	for _, r := range recs {
		flags := uint16(0x800)
		if r.e.descriptor {
			flags |= 0x8
		}
		le(uint32(sigCentral))
		le(uint16(3<<8 | 45)) // made by Unix
		le(uint16(45))
		le(flags)
		le(uint16(r.method))
		le(uint32(0))
		le(r.crc)
		var extra []byte
		if r.e.zip64 {
			le(uint32(0xffffffff))
			le(uint32(0xffffffff))
			extra = binary.LittleEndian.AppendUint16(extra, 1)
			extra = binary.LittleEndian.AppendUint16(extra, 24)
			extra = binary.LittleEndian.AppendUint64(extra, r.usize)
			extra = binary.LittleEndian.AppendUint64(extra, r.csize)
			extra = binary.LittleEndian.AppendUint64(extra, uint64(r.off))
		} else {
			le(uint32(r.csize))
			le(uint32(r.usize))
		}
		le(uint16(len(r.e.name)))
		le(uint16(len(extra)))
		le(uint16(0)) // comment
		le(uint16(0)) // disk
		le(uint16(0)) // internal attributes
		le(uint32(0o100644 << 16))
		if r.e.zip64 {
			le(uint32(0xffffffff))
		} else {
			le(uint32(r.off))
		}
		b.WriteString(r.e.name)
		b.Write(extra)
	}
	cdSize := int64(b.Len()) - cdStart
	if any64 {
		end64 := int64(b.Len())
		le(uint32(sigEnd64))
		le(uint64(44))
		le(uint16(45))
		le(uint16(45))
		le(uint32(0))
		le(uint32(0))
		le(uint64(len(recs)))
		le(uint64(len(recs)))
		le(uint64(cdSize))
		le(uint64(cdStart))
		le(uint32(sigEnd64Loc))
		le(uint32(0))
		le(uint64(end64))
		le(uint32(1))
	}
	le(uint32(sigEnd))
	le(uint16(0))
	le(uint16(0))
	if any64 {
		le(uint16(0xffff))
		le(uint16(0xffff))
		le(uint32(0xffffffff))
		le(uint32(0xffffffff))
	} else {
		le(uint16(len(recs)))
		le(uint16(len(recs)))
		le(uint32(cdSize))
		le(uint32(cdStart))
	}
	le(uint16(0))
	return b.Bytes()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Archives archive/zip reads too — ZIP64 fields, data descriptors with
// and without signature, 8-byte descriptor sizes, stored entries — give
// the same files through ExtractStream.
func TestStreamFormats(t *testing.T) {
	body := append(bytes.Repeat([]byte("DICOM "), 20000), randomBytes(70000)...)
	cases := map[string][]rawEntry{
		"plain":                 {{name: "a", data: body}, {name: "DIR/b", data: []byte("b"), store: true}},
		"descriptor":            {{name: "a", data: body, descriptor: true}, {name: "b", data: body[:10], descriptor: true, sig: true}},
		"zip64":                 {{name: "a", data: body, zip64: true}, {name: "b", data: []byte("x"), store: true, zip64: true}},
		"zip64 descriptor":      {{name: "a", data: body, zip64: true, descriptor: true, sig: true}, {name: "b", data: body, zip64: true, descriptor: true}},
		"empty entries":         {{name: "e1", data: nil}, {name: "e2", data: nil, store: true}, {name: "e3", data: nil, descriptor: true}},
		"mixed zip64 and plain": {{name: "a", data: body}, {name: "b", data: body, zip64: true}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			data := handZip(t, entries...)
			if _, _, err := extract(t, data, Limits{}); err != nil { // Extract, then ExtractStream
				t.Fatal(err)
			}
			for _, r := range []io.Reader{iotest.OneByteReader(bytes.NewReader(data)), iotest.DataErrReader(bytes.NewReader(data))} {
				if _, _, err := streamInto(t, r); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	// An empty archive is one end record.
	var empty bytes.Buffer
	zip.NewWriter(&empty).Close()
	if _, res, err := streamInto(t, bytes.NewReader(empty.Bytes())); err != nil || res.Files != 0 {
		t.Fatalf("empty: %+v %v", res, err)
	}
}

// offsets finds, in a handZip archive without ZIP64, the first central
// record and the end record.
func offsets(t *testing.T, data []byte) (cd, end int) {
	t.Helper()
	end = bytes.LastIndex(data, []byte("PK\x05\x06"))
	cd = int(binary.LittleEndian.Uint32(data[end+16:]))
	return cd, end
}

// Hostile archives through ExtractStream: each refused with a typed
// error, nothing left behind.
func TestStreamRefusesHostile(t *testing.T) {
	body := randomBytes(50000)
	good := handZip(t, rawEntry{name: "IM1", data: body}, rawEntry{name: "IM2", data: body[:777]})
	gooddd := handZip(t, rawEntry{name: "IM1", data: body, descriptor: true, sig: true}, rawEntry{name: "IM2", data: body[:777], descriptor: true})
	cd, end := offsets(t, good)
	patch := func(src []byte, at int, v uint32) []byte {
		b := bytes.Clone(src)
		binary.LittleEndian.PutUint32(b[at:], v)
		return b
	}
	crcLocal := patch(good, 14, crc32.ChecksumIEEE(body)+1) // local header CRC of IM1
	bothCRC := patch(crcLocal, cd+16, crc32.ChecksumIEEE(body)+1)
	sizeLocal := patch(good, 22, uint32(len(body)-1)) // local uncompressed size
	ddEnd := bytes.Index(gooddd[30+3:], []byte("PK\x07\x08")) + 30 + 3
	ddCRC := patch(gooddd, ddEnd+4, 1)
	ddSize := patch(gooddd, ddEnd+12, uint32(len(body)+1))
	cdCRC := patch(good, cd+16, 12345)                // central CRC differs from the local one
	cdSize := patch(good, cd+24, uint32(len(body)+5)) // central uncompressed size
	cdOffset := patch(good, cd+42, 1)                 // central local-header offset
	cdName := bytes.Clone(good)                       // central name differs
	cdName[cd+46] = 'X'
	endCount := bytes.Clone(good)
	binary.LittleEndian.PutUint16(endCount[end+8:], 3)
	binary.LittleEndian.PutUint16(endCount[end+10:], 3)
	// A central directory that leaves out the second entry.
	second := cd + 46 + 3
	missing := append(bytes.Clone(good[:second]), good[end:]...)
	binary.LittleEndian.PutUint16(missing[second+8:], 1)
	binary.LittleEndian.PutUint16(missing[second+10:], 1)
	binary.LittleEndian.PutUint32(missing[second+12:], uint32(second-cd))
	// A central directory that lists IM1 twice (a record the archive lacks).
	extra := append(append(bytes.Clone(good[:end]), good[cd:cd+46+3]...), good[end:]...)
	e2 := len(extra) - 22
	binary.LittleEndian.PutUint16(extra[e2+8:], 3)
	binary.LittleEndian.PutUint16(extra[e2+10:], 3)
	binary.LittleEndian.PutUint32(extra[e2+12:], uint32(end-cd+46+3))
	dup := handZip(t, rawEntry{name: "IM1", data: body}, rawEntry{name: "IM1", data: []byte("evil")})
	slip := handZip(t, rawEntry{name: "ok", data: []byte("ok")}, rawEntry{name: "../../evil", data: []byte("x")})

	var ce *CorruptError
	var ue *UnsafeEntryError
	cases := map[string]struct {
		data []byte
		want any
	}{
		"local CRC wrong":                      {crcLocal, &ce},
		"CRC wrong in both":                    {bothCRC, &ce},
		"local size wrong":                     {sizeLocal, &ce},
		"descriptor CRC wrong":                 {ddCRC, &ce},
		"descriptor size wrong":                {ddSize, &ce},
		"central CRC disagrees":                {cdCRC, &ce},
		"central size disagrees":               {cdSize, &ce},
		"central offset disagrees":             {cdOffset, &ce},
		"central name disagrees":               {cdName, &ce},
		"end record count disagrees":           {endCount, &ce},
		"central directory misses an entry":    {missing, &ce},
		"central directory has an extra entry": {extra, &ce},
		"entry duplicated":                     {dup, &ue},
		"zip slip":                             {slip, &ue},
		"trailing garbage":                     {append(bytes.Clone(good), make([]byte, 70000)...), &ce},
		"not a zip":                            {[]byte("%PDF-1.4 not a zip at all"), &ce},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := streamInto(t, bytes.NewReader(c.data))
			if err == nil || !errors.As(err, c.want) {
				t.Fatalf("got %v (%T)", err, err)
			}
			if _, ok := i18n.AsUserError(err); !ok {
				t.Fatalf("no user error behind %v", err)
			}
			t.Logf("refused: %v", err)
		})
	}
	// Cut anywhere, the stream is a damaged archive.
	for _, src := range [][]byte{good, gooddd} {
		for cut := 0; cut < len(src); cut += 1 + cut/7 {
			_, _, err := streamInto(t, bytes.NewReader(src[:cut]))
			if !errors.As(err, &ce) {
				t.Fatalf("cut at %d of %d: %v", cut, len(src), err)
			}
		}
	}
	// A stored entry whose size comes after it cannot be streamed.
	stored := handZip(t, rawEntry{name: "s", data: body, store: true, descriptor: true})
	if _, _, err := streamInto(t, bytes.NewReader(stored)); !errors.Is(err, ErrNeedsRandomAccess) {
		t.Fatalf("stored with descriptor: %v", err)
	}
}

// An error of the stream itself (the network) is returned as it is, not
// as a damaged archive, and nothing is left.
func TestStreamReaderError(t *testing.T) {
	good := handZip(t, rawEntry{name: "IM1", data: randomBytes(200000)}, rawEntry{name: "IM2", data: randomBytes(1000)})
	boom := errors.New("connection reset")
	for _, at := range []int{0, 10, 100, 50000, len(good) - 30, len(good) - 1} {
		r := io.MultiReader(bytes.NewReader(good[:at]), iotest.ErrReader(boom))
		_, _, err := streamInto(t, r)
		var ce *CorruptError
		if !errors.Is(err, boom) || errors.As(err, &ce) {
			t.Fatalf("at %d: %v", at, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ExtractStream(ctx, bytes.NewReader(good), filepath.Join(t.TempDir(), "x"), Limits{}, StreamOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// Bombs whose sizes only come in a data descriptor are cut while they
// inflate.
func TestStreamDescriptorBombs(t *testing.T) {
	zeros := make([]byte, 16<<20)
	data := handZip(t, rawEntry{name: "bomb.dcm", data: zeros, descriptor: true})
	var le *LimitError
	if _, _, err := streamInto(t, bytes.NewReader(data)); !errors.As(err, &le) || le.What != "compression ratio" {
		t.Fatalf("descriptor ratio bomb: %v", err)
	}
	if _, _, err := extract(t, handZip(t, rawEntry{name: "big", data: randomBytes(3 << 20), descriptor: true}), Limits{MaxFileBytes: 1 << 20}); !errors.As(err, &le) || le.What != "file size" {
		t.Fatalf("file size: %v", err)
	}
	var many []rawEntry
	for i := range 100 {
		many = append(many, rawEntry{name: fmt.Sprintf("z%03d", i), data: zeros[:1<<20-1], descriptor: true})
	}
	if _, _, err := streamInto(t, bytes.NewReader(handZip(t, many...))); !errors.As(err, &le) || le.What != "archive compression ratio" {
		t.Fatalf("sub-floor descriptor bomb: %v", err)
	}
}
