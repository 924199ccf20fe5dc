// Package safezip extracts ZIP archives from untrusted sources (a DLX
// download, a ZIP a user dropped) safely.
//
// Guarantees: every entry is written through an os.Root, so nothing can
// land outside the destination — no "../", no absolute paths, no drive
// letters, no symbolic links, devices or other special entries are
// created, and modes from the archive are ignored (files 0644, folders
// 0755). The total uncompressed size, the entry count, each entry's size
// and its compression ratio are capped (zip bombs), and so is the
// archive-wide ratio of everything it unpacks to the archive's own size
// (MaxArchiveRatio; many entries each just under the per-entry floor add
// up) — checked against the declared sizes before a byte is written, and
// the sizes the archive declares are enforced while reading, not
// trusted. Every entry named *.dcm must be DICOM (the "DICM" preamble or
// a dataset dicomscan's header reader parses); anything else refuses the
// archive with a *transfer.ProtocolError ("not-dicom"). Extraction
// goes into a temporary folder inside the destination's parent and is
// renamed to the destination only when every entry was written and its
// CRC-32 checked; on any error — a full disk included, reported as
// *diskspace.FullError — nothing is left behind.
//
// ExtractStream does the same for an archive read once, front to back, as
// it downloads (local headers, data descriptors, ZIP64), and checks the
// central directory against every local header at the end.
package safezip

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/internal/stagedir"
)

// Limits cap what Extract accepts; zero fields take the defaults.
type Limits struct {
	MaxTotalBytes int64   // default 64 GiB
	MaxFileBytes  int64   // default 16 GiB
	MaxEntries    int     // default 200000
	MaxRatio      float64 // uncompressed/compressed per entry, default 200 (DICOM compresses ~3:1, zeros up to ~1000:1)
	// RatioFloor: entries smaller than this are not ratio-checked (a
	// tiny file of zeros compresses absurdly well and is harmless).
	RatioFloor int64 // default 1 MiB
	// MaxArchiveRatio caps the declared total over the archive's size
	// (default 50: a study of DICOM compresses 2–5:1, a whole archive of
	// zeros ~1000:1); archives unpacking to less than ArchiveRatioFloor
	// (default 64 MiB) are not checked.
	MaxArchiveRatio   float64
	ArchiveRatioFloor int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = 64 << 30
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = 16 << 30
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 200000
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = 200
	}
	if l.RatioFloor <= 0 {
		l.RatioFloor = 1 << 20
	}
	if l.MaxArchiveRatio <= 0 {
		l.MaxArchiveRatio = 50
	}
	if l.ArchiveRatioFloor <= 0 {
		l.ArchiveRatioFloor = 64 << 20
	}
	return l
}

// UnsafeEntryError: an entry tries to leave the destination or is not a
// plain file or folder.
type UnsafeEntryError struct {
	Name   string
	Reason string // "path", "symlink", "special"
}

func (e *UnsafeEntryError) Error() string {
	return fmt.Sprintf("zip entry %q refused: %s", e.Name, e.Reason)
}

func (e *UnsafeEntryError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.zip.unsafe", i18n.Quote(e.Name)).WithHint("transfer.zip.unsafe.hint")
}

// LimitError: the archive exceeds a limit (a zip bomb, or just too big).
type LimitError struct {
	Name       string // the entry, empty for archive-wide limits
	What       string // "entries", "total size", "file size", "compression ratio"
	Limit, Got float64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("zip %s limit exceeded at %q: %.0f > %.0f", e.What, e.Name, e.Got, e.Limit)
}

// Unwrap is the translated message with the limit and the archive's
// figure.
func (e *LimitError) Unwrap() error {
	var ue *i18n.UserError
	switch e.What {
	case "entries":
		ue = i18n.NewError(i18n.KindRefused, "transfer.zip.limit.entries", int64(e.Got), int64(e.Limit))
	case "total size":
		ue = i18n.NewError(i18n.KindRefused, "transfer.zip.limit.total", i18n.Bytes(e.Limit))
	case "file size":
		ue = i18n.NewError(i18n.KindRefused, "transfer.zip.limit.file", i18n.Bytes(e.Got), i18n.Bytes(e.Limit))
	case "compression ratio", "archive compression ratio":
		ue = i18n.NewError(i18n.KindRefused, "transfer.zip.limit.ratio", e.Got, e.Limit)
	default:
		ue = i18n.NewError(i18n.KindRefused, "transfer.zip.limit")
	}
	return ue.WithHint("transfer.zip.unsafe.hint")
}

// CorruptError: the archive cannot be read (truncated, bad CRC, not a ZIP).
type CorruptError struct {
	Name string
	Err  error
}

func (e *CorruptError) Error() string { return fmt.Sprintf("zip damaged at %q: %v", e.Name, e.Err) }

func (e *CorruptError) Unwrap() error {
	return i18n.NewError(i18n.KindRefused, "transfer.zip.corrupt").WithHint("transfer.zip.corrupt.hint").Wrap(e.Err)
}

// Result describes an extraction.
type Result struct {
	Files int
	Bytes int64
}

// ExtractFile extracts the ZIP file at src into the new directory dst.
func ExtractFile(ctx context.Context, src, dst string, lim Limits, progress transfer.Progress) (*Result, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return Extract(ctx, f, st.Size(), dst, lim, progress)
}

// Extract extracts the ZIP in r (size bytes) into the new directory dst
// (it must not exist; its parent must).
func Extract(ctx context.Context, r io.ReaderAt, size int64, dst string, lim Limits, progress transfer.Progress) (*Result, error) {
	lim = lim.withDefaults()
	dst = filepath.Clean(dst)
	if err := stagedir.CheckAbsent("extract", dst); err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, &CorruptError{Err: err}
	}
	total, err := plan(zr, lim)
	if err != nil {
		return nil, err
	}
	if total > lim.ArchiveRatioFloor {
		if ratio := float64(total) / float64(max(size, 1)); ratio > lim.MaxArchiveRatio {
			return nil, &LimitError{What: "archive compression ratio", Limit: lim.MaxArchiveRatio, Got: ratio}
		}
	}
	var res *Result
	err = stagedir.Create("extract", dst, total, func(tmp string) (err error) {
		res, err = extractInto(ctx, zr, tmp, total, lim, progress)
		return err
	})
	if err != nil {
		return nil, err
	}
	transfer.Report(progress, transfer.Status{State: transfer.StateDone, Done: res.Bytes, Total: res.Bytes})
	return res, nil
}

// plan checks every entry's name, type and declared sizes before anything
// is written, and returns the declared total.
func plan(zr *zip.Reader, lim Limits) (int64, error) {
	if len(zr.File) > lim.MaxEntries {
		return 0, &LimitError{What: "entries", Limit: float64(lim.MaxEntries), Got: float64(len(zr.File))}
	}
	var total int64
	seen := map[string]bool{}
	for _, f := range zr.File {
		name, err := cleanName(f.Name)
		if err != nil {
			return 0, err
		}
		if err := checkType(f); err != nil {
			return 0, err
		}
		if f.FileInfo().IsDir() {
			continue
		}
		key := strings.ToLower(name)
		if seen[key] {
			return 0, &UnsafeEntryError{Name: f.Name, Reason: "duplicate"}
		}
		seen[key] = true
		if err := checkSize(f.Name, f.UncompressedSize64, f.CompressedSize64, lim); err != nil {
			return 0, err
		}
		total += int64(f.UncompressedSize64)
		if total > lim.MaxTotalBytes {
			return 0, &LimitError{Name: f.Name, What: "total size", Limit: float64(lim.MaxTotalBytes), Got: float64(total)}
		}
	}
	return total, nil
}

func checkSize(name string, uncompressed, compressed uint64, lim Limits) error {
	if uncompressed > uint64(lim.MaxFileBytes) {
		return &LimitError{Name: name, What: "file size", Limit: float64(lim.MaxFileBytes), Got: float64(uncompressed)}
	}
	if int64(uncompressed) > lim.RatioFloor {
		ratio := float64(uncompressed) / float64(max(compressed, 1))
		if ratio > lim.MaxRatio {
			return &LimitError{Name: name, What: "compression ratio", Limit: lim.MaxRatio, Got: ratio}
		}
	}
	return nil
}

// cleanName maps an entry name to a safe relative slash path, or refuses.
func cleanName(name string) (string, error) {
	n := strings.ReplaceAll(name, "\\", "/")
	if n == "" || strings.HasPrefix(n, "/") || strings.Contains(n, ":") || strings.ContainsRune(n, 0) {
		return "", &UnsafeEntryError{Name: name, Reason: "path"}
	}
	n = strings.TrimSuffix(n, "/")
	for _, part := range strings.Split(n, "/") {
		if part == ".." || part == "" && n != "" {
			return "", &UnsafeEntryError{Name: name, Reason: "path"}
		}
	}
	clean := path.Clean(n)
	if clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", &UnsafeEntryError{Name: name, Reason: "path"}
	}
	return clean, nil
}

// checkType allows plain files and folders only.
func checkType(f *zip.File) error {
	mode := f.Mode()
	switch {
	case mode&os.ModeSymlink != 0:
		return &UnsafeEntryError{Name: f.Name, Reason: "symlink"}
	case mode&(os.ModeDevice|os.ModeNamedPipe|os.ModeSocket|os.ModeCharDevice|os.ModeIrregular) != 0:
		return &UnsafeEntryError{Name: f.Name, Reason: "special"}
	}
	return nil
}

func extractInto(ctx context.Context, zr *zip.Reader, dir string, total int64, lim Limits, progress transfer.Progress) (*Result, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	res := &Result{}
	buf := make([]byte, 256<<10)
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name, _ := cleanName(f.Name) // checked in plan
		if f.FileInfo().IsDir() {
			if err := root.MkdirAll(name, 0o755); err != nil {
				return nil, fmt.Errorf("extract %s: %w", name, err)
			}
			continue
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("extract %s: %w", name, err)
			}
		}
		_, err := extractFile(root, f, name, buf, func(n int64) {
			res.Bytes += n
			transfer.Report(progress, transfer.Status{State: transfer.StateOpening, Item: name, Done: res.Bytes, Total: total})
		})
		if err != nil {
			return nil, err
		}
		if res.Bytes > lim.MaxTotalBytes {
			return nil, &LimitError{Name: f.Name, What: "total size", Limit: float64(lim.MaxTotalBytes), Got: float64(res.Bytes)}
		}
		res.Files++
	}
	return res, nil
}

// extractFile copies one entry, reading at most its declared size plus
// one byte: archive/zip checks the CRC and the declared size at EOF.
func extractFile(root *os.Root, f *zip.File, name string, buf []byte, advance func(int64)) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, &CorruptError{Name: f.Name, Err: err}
	}
	defer rc.Close()
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, fmt.Errorf("extract %s: %w", name, err)
	}
	src := &countingReader{r: io.LimitReader(rc, int64(f.UncompressedSize64)+1), advance: advance}
	n, err := io.CopyBuffer(out, src, buf)
	cerr := out.Close()
	if err != nil {
		if src.readErr != nil {
			return n, &CorruptError{Name: f.Name, Err: src.readErr}
		}
		return n, fmt.Errorf("extract %s: %w", name, err)
	}
	if cerr != nil {
		return n, fmt.Errorf("extract %s: %w", name, cerr)
	}
	if uint64(n) != f.UncompressedSize64 {
		return n, &CorruptError{Name: f.Name, Err: fmt.Errorf("%d bytes, declared %d", n, f.UncompressedSize64)}
	}
	if strings.EqualFold(path.Ext(name), ".dcm") {
		if err := checkDICOM(root, name, n); err != nil {
			return n, err
		}
	}
	return n, nil
}

// checkDICOM: a file named *.dcm has the Part 10 preamble or parses as a
// dataset.
func checkDICOM(root *os.Root, name string, size int64) error {
	f, err := root.Open(name)
	if err != nil {
		return fmt.Errorf("extract %s: %w", name, err)
	}
	defer f.Close()
	head := make([]byte, 132)
	if n, _ := io.ReadFull(f, head); n == 132 && string(head[128:]) == "DICM" {
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if dicomHeaderOK(f, size) {
		return nil
	}
	return notDICOM(name)
}

// dicomHeaderOK: r holds a dataset dicomscan's header reader parses.
func dicomHeaderOK(r io.Reader, size int64) bool {
	_, err := dicomscan.ReadHeader(r, size)
	return err == nil
}

func notDICOM(name string) error {
	return &transfer.ProtocolError{Op: "extract", What: "not-dicom", Detail: fmt.Sprintf("%s is not DICOM", name), Args: []any{i18n.Quote(name)}}
}

type countingReader struct {
	r       io.Reader
	advance func(int64)
	readErr error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.advance(int64(n))
	}
	if err != nil && err != io.EOF {
		c.readErr = err
	}
	return n, err
}
