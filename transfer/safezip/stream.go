package safezip

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"

	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/diskspace"
	"github.com/bildbote/bildbote/transfer/internal/stagedir"
)

// ExtractStream extracts the ZIP arriving in r (a download, read once,
// front to back) into the new directory dst, writing each entry as its
// bytes arrive instead of waiting for the whole archive.
//
// It keeps Extract's guarantees: the same name cleaning, os.Root, entry,
// size and ratio limits (for entries whose sizes come only in a data
// descriptor, enforced on the bytes as they inflate; the archive-wide
// ratio against the bytes read so far), the same DICOM check of *.dcm
// entries (from the bytes in flight, not a second read), and the same
// staging: everything goes into a temporary folder beside dst that is
// renamed to dst only when the whole archive checked out. Each entry's
// size and CRC-32 are verified at its end (from the local header, a data
// descriptor or its ZIP64 extra), and at the end of the stream the
// central directory must agree with every local header — name, method,
// sizes, CRC, offset, and no entry missing or added — and must not make
// an entry a link or special file; any disagreement, a truncated stream,
// or an error from r removes what was written. An error from r itself is
// returned as it is (a network error stays one); a stream that ends early
// is a *CorruptError.
//
// An archive that cannot be read front to back (a stored entry whose size
// is only in a data descriptor, an encrypted entry, a method other than
// store and deflate) is refused with an error matching ErrNeedsRandomAccess
// for the former, *CorruptError for the others: the caller can keep the
// download in a file and use ExtractFile.
//
// With o.Sync the written files are flushed to stable storage before the
// rename (on Linux writeback starts as each file is closed and one
// syncfs waits for it; elsewhere each file is synced at the end).
func ExtractStream(ctx context.Context, r io.Reader, dst string, lim Limits, o StreamOptions) (*Result, error) {
	lim = lim.withDefaults()
	if err := stagedir.CheckAbsent("extract", dst); err != nil {
		return nil, err
	}
	var res *Result
	err := stagedir.Create("extract", dst, 0, func(tmp string) (err error) {
		root, err := os.OpenRoot(tmp)
		if err != nil {
			return err
		}
		defer root.Close()
		x := &streamer{ctx: ctx, lim: lim, o: o, root: root, dir: tmp, seen: map[string]bool{}}
		x.br = newCountReader(r, 1<<20)
		err = x.run()
		if x.sub != nil {
			x.sub.Close()
		}
		if err != nil {
			return err
		}
		if o.Sync {
			if err := x.syncAll(); err != nil {
				return fmt.Errorf("extract: sync: %w", err)
			}
		}
		res = &x.res
		return nil
	})
	if err != nil {
		return nil, err
	}
	transfer.Report(o.Progress, transfer.Status{State: transfer.StateDone, Done: res.Bytes, Total: res.Bytes})
	return res, nil
}

// StreamOptions tune ExtractStream.
type StreamOptions struct {
	Progress transfer.Progress
	// Sync flushes the extracted files to disk before they are renamed
	// into place.
	Sync bool
}

// ErrNeedsRandomAccess: the archive can only be read from its central
// directory (ExtractFile), not front to back.
var ErrNeedsRandomAccess = errors.New("zip entry cannot be read front to back")

const (
	sigLocal      = 0x04034b50
	sigCentral    = 0x02014b50
	sigDescriptor = 0x08074b50
	sigEnd64      = 0x06064b50
	sigEnd64Loc   = 0x07064b50
	sigEnd        = 0x06054b50
	headKeep      = 64 << 10
)

// localEntry is what a local header and its data said.
type localEntry struct {
	rawName       string
	offset        int64
	method, flags uint16
	crc           uint32
	csize, usize  uint64
	dir           bool
}

type streamer struct {
	ctx  context.Context
	lim  Limits
	o    StreamOptions
	root *os.Root
	dir  string
	br   *countReader

	entries []localEntry
	// sub is the folder subName (slash path), open (see create).
	sub     *os.Root
	subName string
	// refused is a *.dcm entry that is not DICOM: the archive is refused
	// at its end (a limit it breaks later is the more telling refusal,
	// as in Extract, which checks all limits first); nothing more is
	// written meanwhile.
	refused error
	seen    map[string]bool
	files   []string // written, for syncAll off Linux
	// unpacked counts every entry's bytes, written or not (the limits)
	unpacked int64
	res      Result
	buf      []byte
	head     []byte
	fr       io.ReadCloser
	crc      hash.Hash32
}

func corrupt(name string, format string, args ...any) error {
	return &CorruptError{Name: name, Err: fmt.Errorf(format, args...)}
}

// readFull reads exactly len(p) bytes: an early end of the stream is a
// truncated archive, any other error is r's own.
func (x *streamer) readFull(name string, p []byte) error {
	_, err := io.ReadFull(x.br, p)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &CorruptError{Name: name, Err: io.ErrUnexpectedEOF}
	}
	return err
}

func (x *streamer) run() error {
	var sig [4]byte
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		if err := x.readFull("", sig[:]); err != nil {
			if len(x.entries) == 0 {
				var ce *CorruptError
				if errors.As(err, &ce) {
					return &CorruptError{Err: zip.ErrFormat}
				}
			}
			return err
		}
		switch binary.LittleEndian.Uint32(sig[:]) {
		case sigLocal:
			if err := x.entry(); err != nil {
				return err
			}
		case sigCentral:
			if err := x.central(); err != nil {
				return err
			}
			return x.refused
		case sigEnd:
			if len(x.entries) != 0 {
				return corrupt("", "end record without central directory")
			}
			return x.end(0, 0, x.br.pos()-4)
		default:
			return &CorruptError{Err: zip.ErrFormat}
		}
	}
}

// entry reads one local header and its data.
func (x *streamer) entry() error {
	var h [26]byte
	start := x.br.pos() - 4
	if err := x.readFull("", h[:]); err != nil {
		return err
	}
	e := localEntry{offset: start}
	e.flags = binary.LittleEndian.Uint16(h[2:])
	e.method = binary.LittleEndian.Uint16(h[4:])
	e.crc = binary.LittleEndian.Uint32(h[10:])
	e.csize = uint64(binary.LittleEndian.Uint32(h[14:]))
	e.usize = uint64(binary.LittleEndian.Uint32(h[18:]))
	nameLen, extraLen := int(binary.LittleEndian.Uint16(h[22:])), int(binary.LittleEndian.Uint16(h[24:]))
	nx := make([]byte, nameLen+extraLen)
	if err := x.readFull("", nx); err != nil {
		return err
	}
	e.rawName = string(nx[:nameLen])
	zip64 := false
	if e.csize == 0xffffffff || e.usize == 0xffffffff {
		u, c, ok := localZip64(nx[nameLen:])
		if !ok {
			return corrupt(e.rawName, "ZIP64 sizes missing")
		}
		e.usize, e.csize, zip64 = u, c, true
	} else if _, _, ok := localZip64(nx[nameLen:]); ok {
		zip64 = true // a data descriptor then has 8-byte sizes
	}
	if len(x.entries) >= x.lim.MaxEntries {
		return &LimitError{What: "entries", Limit: float64(x.lim.MaxEntries), Got: float64(len(x.entries) + 1)}
	}
	name, err := cleanName(e.rawName)
	if err != nil {
		return err
	}
	if e.flags&0x1 != 0 {
		return &CorruptError{Name: e.rawName, Err: zip.ErrAlgorithm} // encrypted
	}
	if e.method != zip.Store && e.method != zip.Deflate {
		return &CorruptError{Name: e.rawName, Err: zip.ErrAlgorithm}
	}
	descriptor := e.flags&0x8 != 0
	if strings.HasSuffix(strings.ReplaceAll(e.rawName, "\\", "/"), "/") {
		e.dir = true
		if err := x.root.MkdirAll(name, 0o755); err != nil {
			return fmt.Errorf("extract %s: %w", name, err)
		}
		if descriptor || e.csize != 0 || e.usize != 0 {
			// A folder with data: read it like a file, write nothing.
			if err := x.data(&e, name, descriptor, zip64, nil); err != nil {
				return err
			}
		}
		x.entries = append(x.entries, e)
		return nil
	}
	key := strings.ToLower(name)
	if x.seen[key] {
		return &UnsafeEntryError{Name: e.rawName, Reason: "duplicate"}
	}
	x.seen[key] = true
	if descriptor && e.method == zip.Store {
		return fmt.Errorf("%w: %q is stored with its size after the data", ErrNeedsRandomAccess, e.rawName)
	}
	if !descriptor {
		if err := checkSize(e.rawName, e.usize, e.csize, x.lim); err != nil {
			return err
		}
		if err := x.checkTotals(e.rawName, e.usize, int64(e.csize)); err != nil {
			return err
		}
	}
	if x.refused != nil {
		if err := x.data(&e, name, descriptor, zip64, nil); err != nil {
			return err
		}
		x.entries = append(x.entries, e)
		return nil
	}
	out, err := x.create(name)
	if err != nil {
		return fmt.Errorf("extract %s: %w", name, err)
	}
	err = x.data(&e, name, descriptor, zip64, out)
	if err == nil && x.o.Sync {
		startWriteback(out)
	}
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("extract %s: %w", name, cerr)
	}
	if err != nil {
		return err
	}
	if strings.EqualFold(path.Ext(name), ".dcm") {
		if err := x.checkDICOM(name, int64(e.usize)); err != nil {
			var pe *transfer.ProtocolError
			if !errors.As(err, &pe) {
				return err
			}
			x.refused = err
		}
	}
	if x.o.Sync {
		x.files = append(x.files, name)
	}
	x.entries = append(x.entries, e)
	x.res.Files++
	return nil
}

// create makes the new file name (a cleaned slash path) and its folders.
// The folder of the last file stays open as a root of its own: the files
// of a series go to one folder, and opening them there saves walking the
// path from the top for each (an openat per component, twice).
func (x *streamer) create(name string) (*os.File, error) {
	d, base := path.Split(name)
	d = strings.TrimSuffix(d, "/")
	if d == "" {
		return x.root.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	}
	if x.sub == nil || x.subName != d {
		if x.sub != nil {
			x.sub.Close()
			x.sub = nil
		}
		if err := x.root.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		sub, err := x.root.OpenRoot(d)
		if err != nil {
			return nil, err
		}
		x.sub, x.subName = sub, d
	}
	return x.sub.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
}

// checkTotals: the total size cap, and the archive-wide ratio of what is
// unpacked to what was read (the archive's size is not known up front).
func (x *streamer) checkTotals(name string, more uint64, moreIn int64) error {
	total := uint64(x.unpacked) + more
	if total > uint64(x.lim.MaxTotalBytes) {
		return &LimitError{Name: name, What: "total size", Limit: float64(x.lim.MaxTotalBytes), Got: float64(total)}
	}
	if int64(total) > x.lim.ArchiveRatioFloor {
		if ratio := float64(total) / float64(max(x.br.pos()+moreIn, 1)); ratio > x.lim.MaxArchiveRatio {
			return &LimitError{What: "archive compression ratio", Limit: x.lim.MaxArchiveRatio, Got: ratio}
		}
	}
	return nil
}

// data copies an entry's bytes into out (nil: discard), checks its size
// and CRC, and reads its data descriptor.
func (x *streamer) data(e *localEntry, name string, descriptor, zip64 bool, out *os.File) error {
	if x.buf == nil {
		x.buf = make([]byte, 1<<20)
		x.head = make([]byte, 0, headKeep)
		x.crc = crc32.NewIEEE()
	}
	x.crc.Reset()
	x.head = x.head[:0]
	start := x.br.pos()
	var src io.Reader
	var lr *io.LimitedReader
	inflate := e.method == zip.Deflate
	if inflate {
		// Straight from the bufio.Reader (the inflater's fast path); it
		// reads no further than its stream, and one that runs past the
		// declared size is refused below.
		src = x.inflater(x.br.Reader)
	} else {
		lr = &io.LimitedReader{R: x.br, N: int64(e.csize)}
		src = lr
	}
	var n int64
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		// Whole buffers: the inflater hands out at most 32 KiB a read,
		// and a write per 32 KiB is a syscall storm.
		m, err := fill(src, x.buf)
		if m > 0 {
			chunk := x.buf[:m]
			n += int64(m)
			if !descriptor && uint64(n) > e.usize {
				return corrupt(e.rawName, "more than the declared %d bytes", e.usize)
			}
			if !descriptor && uint64(x.br.pos()-start) > e.csize {
				return corrupt(e.rawName, "compressed data runs past the declared %d bytes", e.csize)
			}
			if descriptor {
				if n > x.lim.MaxFileBytes {
					return &LimitError{Name: e.rawName, What: "file size", Limit: float64(x.lim.MaxFileBytes), Got: float64(n)}
				}
				if n > x.lim.RatioFloor {
					if ratio := float64(n) / float64(max(x.br.pos()-start, 1)); ratio > x.lim.MaxRatio {
						return &LimitError{Name: e.rawName, What: "compression ratio", Limit: x.lim.MaxRatio, Got: ratio}
					}
				}
				if err := x.checkTotals(e.rawName, uint64(n), 0); err != nil {
					return err
				}
			}
			x.crc.Write(chunk)
			if k := min(len(chunk), cap(x.head)-len(x.head)); k > 0 {
				x.head = append(x.head, chunk[:k]...)
			}
			if out != nil {
				if _, werr := out.Write(chunk); werr != nil {
					return diskspace.Map(x.dir, fmt.Errorf("extract %s: %w", name, werr))
				}
			}
			transfer.Report(x.o.Progress, transfer.Status{State: transfer.StateOpening, Item: name, Done: x.res.Bytes + n})
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			var ce *CorruptError
			if errors.As(err, &ce) {
				return err
			}
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, new(flate.CorruptInputError)) {
				return &CorruptError{Name: e.rawName, Err: err}
			}
			return err // the stream's own error (network, cancel)
		}
	}
	consumed := x.br.pos() - start
	sum := x.crc.Sum32()
	if descriptor {
		if err := x.descriptor(e, zip64, consumed, n); err != nil {
			return err
		}
	} else {
		if lr != nil && lr.N != 0 || uint64(consumed) != e.csize {
			return corrupt(e.rawName, "compressed data ends at %d of the declared %d bytes", consumed, e.csize)
		}
		if uint64(n) != e.usize {
			return corrupt(e.rawName, "%d bytes, declared %d", n, e.usize)
		}
	}
	if sum != e.crc {
		return &CorruptError{Name: e.rawName, Err: zip.ErrChecksum}
	}
	x.unpacked += n
	if out != nil {
		x.res.Bytes += n
	}
	return nil
}

// fill reads into p until it is full or the reader fails or ends.
func fill(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// descriptor reads a data descriptor (signature optional, 4- or 8-byte
// sizes) and checks it against what was read.
func (x *streamer) descriptor(e *localEntry, zip64 bool, consumed, n int64) error {
	var b [24]byte
	if err := x.readFull(e.rawName, b[:4]); err != nil {
		return err
	}
	if binary.LittleEndian.Uint32(b[:4]) == sigDescriptor {
		if err := x.readFull(e.rawName, b[:4]); err != nil {
			return err
		}
	}
	p := b[:4] // the CRC
	wide := zip64 || consumed >= 0xffffffff || n >= 0xffffffff
	size := 8
	if wide {
		size = 16
	}
	if err := x.readFull(e.rawName, b[4:4+size]); err != nil {
		return err
	}
	e.crc = binary.LittleEndian.Uint32(p)
	var c, u uint64
	if wide {
		c, u = binary.LittleEndian.Uint64(b[4:]), binary.LittleEndian.Uint64(b[12:])
	} else {
		c, u = uint64(binary.LittleEndian.Uint32(b[4:])), uint64(binary.LittleEndian.Uint32(b[8:]))
	}
	if c != uint64(consumed) || u != uint64(n) {
		return corrupt(e.rawName, "data descriptor says %d/%d bytes, the data has %d/%d", c, u, consumed, n)
	}
	e.csize, e.usize = c, u
	if n > x.lim.RatioFloor {
		if ratio := float64(n) / float64(max(consumed, 1)); ratio > x.lim.MaxRatio {
			return &LimitError{Name: e.rawName, What: "compression ratio", Limit: x.lim.MaxRatio, Got: ratio}
		}
	}
	return nil
}

// skip reads n bytes that mean nothing here.
func (x *streamer) skip(n int64) error {
	if _, err := io.CopyN(io.Discard, x.br, n); err != nil {
		if err == io.EOF {
			return &CorruptError{Err: io.ErrUnexpectedEOF}
		}
		return err
	}
	return nil
}

func (x *streamer) inflater(r flate.Reader) io.Reader {
	if x.fr == nil {
		x.fr = flate.NewReader(r)
	} else {
		x.fr.(flate.Resetter).Reset(r, nil)
	}
	return x.fr
}

// central reads the central directory (its first signature is read) and
// the end records, and compares them with the local headers.
func (x *streamer) central() error {
	cdStart := x.br.pos() - 4
	count := 0
	var sig [4]byte
	for {
		if count > len(x.entries) {
			return corrupt("", "central directory lists more entries than the archive has")
		}
		if err := x.centralEntry(count); err != nil {
			return err
		}
		count++
		if err := x.readFull("", sig[:]); err != nil {
			return err
		}
		if binary.LittleEndian.Uint32(sig[:]) != sigCentral {
			break
		}
	}
	if count != len(x.entries) {
		return corrupt("", "central directory lists %d entries, the archive has %d", count, len(x.entries))
	}
	cdSize := x.br.pos() - 4 - cdStart
	endAt := x.br.pos() - 4
	switch binary.LittleEndian.Uint32(sig[:]) {
	case sigEnd64:
		var h [52]byte // after the signature: size(8) + 44 bytes of fixed fields
		if err := x.readFull("", h[:]); err != nil {
			return err
		}
		recSize := binary.LittleEndian.Uint64(h[0:])
		if recSize < 44 || recSize > 1<<20 {
			return corrupt("", "bad ZIP64 end record")
		}
		if err := x.skip(int64(recSize - 44)); err != nil {
			return err
		}
		n64 := binary.LittleEndian.Uint64(h[28:])
		size64 := binary.LittleEndian.Uint64(h[36:])
		off64 := binary.LittleEndian.Uint64(h[44:])
		if n64 != uint64(count) || size64 != uint64(cdSize) || off64 != uint64(cdStart) {
			return corrupt("", "ZIP64 end record disagrees with the central directory")
		}
		if err := x.readFull("", sig[:]); err != nil {
			return err
		}
		if binary.LittleEndian.Uint32(sig[:]) == sigEnd64Loc {
			var l [16]byte
			if err := x.readFull("", l[:]); err != nil {
				return err
			}
			if binary.LittleEndian.Uint64(l[4:]) != uint64(endAt) {
				return corrupt("", "ZIP64 locator disagrees")
			}
			if err := x.readFull("", sig[:]); err != nil {
				return err
			}
		}
		if binary.LittleEndian.Uint32(sig[:]) != sigEnd {
			return corrupt("", "no end record")
		}
		return x.end(count, cdSize, cdStart)
	case sigEnd:
		return x.end(count, cdSize, cdStart)
	}
	return corrupt("", "no end record after the central directory")
}

// centralEntry reads central directory record i (its signature is read).
func (x *streamer) centralEntry(i int) error {
	var h [42]byte
	if err := x.readFull("", h[:]); err != nil {
		return err
	}
	flags := binary.LittleEndian.Uint16(h[4:])
	method := binary.LittleEndian.Uint16(h[6:])
	crc := binary.LittleEndian.Uint32(h[12:])
	csize := uint64(binary.LittleEndian.Uint32(h[16:]))
	usize := uint64(binary.LittleEndian.Uint32(h[20:]))
	nameLen := int(binary.LittleEndian.Uint16(h[24:]))
	extraLen := int(binary.LittleEndian.Uint16(h[26:]))
	commentLen := int(binary.LittleEndian.Uint16(h[28:]))
	offset := uint64(binary.LittleEndian.Uint32(h[38:]))
	rest := make([]byte, nameLen+extraLen+commentLen)
	if err := x.readFull("", rest); err != nil {
		return err
	}
	name := string(rest[:nameLen])
	extra := rest[nameLen : nameLen+extraLen]
	if usize == 0xffffffff || csize == 0xffffffff || offset == 0xffffffff {
		z := zip64Extra(extra)
		take := func(v *uint64) bool {
			if len(z) < 8 {
				return false
			}
			*v, z = binary.LittleEndian.Uint64(z), z[8:]
			return true
		}
		if usize == 0xffffffff && !take(&usize) || csize == 0xffffffff && !take(&csize) || offset == 0xffffffff && !take(&offset) {
			return corrupt(name, "ZIP64 fields missing in the central directory")
		}
	}
	if i >= len(x.entries) {
		return corrupt(name, "central directory lists an entry the archive does not have")
	}
	e := x.entries[i]
	if name != e.rawName || method != e.method || offset != uint64(e.offset) || flags&0x9 != e.flags&0x9 ||
		!e.dir && (crc != e.crc || csize != e.csize || usize != e.usize) {
		return corrupt(name, "the central directory disagrees with the local header of %q", e.rawName)
	}
	fh := zip.FileHeader{Name: name, CreatorVersion: binary.LittleEndian.Uint16(h[0:]),
		ExternalAttrs: binary.LittleEndian.Uint32(h[34:])}
	mode := fh.Mode()
	switch {
	case mode&os.ModeSymlink != 0:
		return &UnsafeEntryError{Name: name, Reason: "symlink"}
	case mode&(os.ModeDevice|os.ModeNamedPipe|os.ModeSocket|os.ModeCharDevice|os.ModeIrregular) != 0:
		return &UnsafeEntryError{Name: name, Reason: "special"}
	}
	if mode.IsDir() != e.dir {
		return corrupt(name, "the central directory disagrees with the local header of %q", e.rawName)
	}
	return nil
}

// end reads the end record (its signature is read) and checks its
// counts; what follows its comment must be the end of the stream.
func (x *streamer) end(count int, cdSize, cdStart int64) error {
	var h [18]byte
	if err := x.readFull("", h[:]); err != nil {
		return err
	}
	n := uint64(binary.LittleEndian.Uint16(h[6:]))
	size := uint64(binary.LittleEndian.Uint32(h[8:]))
	off := uint64(binary.LittleEndian.Uint32(h[12:]))
	if n != 0xffff && n != uint64(count) || size != 0xffffffff && size != uint64(cdSize) || off != 0xffffffff && off != uint64(cdStart) {
		return corrupt("", "end record disagrees with the central directory")
	}
	if err := x.skip(int64(binary.LittleEndian.Uint16(h[16:]))); err != nil {
		return err
	}
	// Nothing may follow; a few stray bytes (padding) are tolerated.
	extra, err := io.Copy(io.Discard, io.LimitReader(x.br, 64<<10+1))
	if err != nil {
		return err
	}
	if extra > 64<<10 {
		return corrupt("", "data after the end of the archive")
	}
	return nil
}

// localZip64 reads the sizes of a local header's ZIP64 extra field.
func localZip64(extra []byte) (usize, csize uint64, ok bool) {
	z := zip64Extra(extra)
	if len(z) < 16 {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(z), binary.LittleEndian.Uint64(z[8:]), true
}

// zip64Extra is the body of the ZIP64 extra field (ID 1), nil when absent.
func zip64Extra(extra []byte) []byte {
	for len(extra) >= 4 {
		id, size := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if size > len(extra) {
			return nil
		}
		if id == 1 {
			return extra[:size]
		}
		extra = extra[size:]
	}
	return nil
}

// checkDICOM is checkDICOM on the bytes kept from the stream; only a file
// without the preamble whose header is longer than they are is read again.
func (x *streamer) checkDICOM(name string, size int64) error {
	if len(x.head) >= 132 && string(x.head[128:132]) == "DICM" {
		return nil
	}
	if int64(len(x.head)) == size || len(x.head) < headKeep {
		if dicomHeaderOK(bytes.NewReader(x.head), size) {
			return nil
		}
		return notDICOM(name)
	}
	return checkDICOM(x.root, name, size)
}

func (x *streamer) syncAll() error {
	return syncTree(x.dir, x.root, x.files)
}

// syncFiles is the portable syncTree: each file, then each folder.
func syncFiles(root *os.Root, files []string) error {
	dirs := map[string]bool{".": true}
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, name := range files {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f, err := root.OpenFile(name, os.O_WRONLY, 0)
			if err == nil {
				err = f.Sync()
				f.Close()
			}
			if err != nil {
				mu.Lock()
				first = cmpErr(first, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	for d := range dirs {
		if f, err := root.Open(d); err == nil {
			f.Sync() // not every system syncs folders (Windows); the files are what count
			f.Close()
		}
	}
	return nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// countReader is a buffered reader that knows its offset in the archive:
// what it read from below minus what it holds. It hands the inflater its
// *bufio.Reader, which the inflater reads byte by byte, no further than
// the deflate stream.
type countReader struct {
	*bufio.Reader
	src countingSource
}

type countingSource struct {
	r io.Reader
	n int64
}

func (c *countingSource) Read(p []byte) (int, error) {
	m, err := c.r.Read(p)
	c.n += int64(m)
	return m, err
}

func newCountReader(r io.Reader, size int) *countReader {
	c := &countReader{src: countingSource{r: r}}
	c.Reader = bufio.NewReaderSize(&c.src, size)
	return c
}

// pos is the offset of the next byte.
func (c *countReader) pos() int64 { return c.src.n - int64(c.Buffered()) }
