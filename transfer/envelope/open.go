package envelope

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/diskspace"
	"github.com/bildbote/bildbote/transfer/internal/stagedir"
	"github.com/klauspost/compress/zstd"
)

// Limits bound what Open accepts; a zero field takes its default.
type Limits struct {
	MaxTotalBytes    int64 // default 256 GiB
	MaxFileBytes     int64 // default 32 GiB
	MaxFiles         int   // default 500000
	MaxManifestBytes int64 // default 64 MiB
}

func (l Limits) withDefaults() Limits {
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = 256 << 30
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = 32 << 30
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = 500000
	}
	if l.MaxManifestBytes <= 0 {
		l.MaxManifestBytes = 64 << 20
	}
	return l
}

// zstd decoder bounds: the encoder's fastest level uses windows far below
// this; a hostile stream cannot make us allocate more.
const maxZstdWindow = 64 << 20

// stream is an opened envelope: the tar reader over the decrypted,
// decompressed data, and the layers needed to finish authentication.
type stream struct {
	src *sourceReader
	age io.Reader
	zr  *zstd.Decoder
	tr  *tar.Reader
}

func openStream(r io.Reader, identities []age.Identity) (*stream, error) {
	src := &sourceReader{r: r}
	ar, err := age.Decrypt(src, identities...)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return nil, &NotForUsError{Err: err}
		}
		return nil, classify(src, "header", err)
	}
	zr, err := zstd.NewReader(ar, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, err
	}
	return &stream{src: src, age: ar, zr: zr, tr: tar.NewReader(zr)}, nil
}

func (s *stream) close() { s.zr.Close() }

// classify tells a failing source (network, disk: the caller may retry)
// from a failing envelope (authentication, format: corrupt).
func classify(src *sourceReader, what string, err error) error {
	if src.err != nil && !errors.Is(src.err, io.EOF) {
		return fmt.Errorf("read envelope: %w", src.err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ce *CorruptError
	if errors.As(err, &ce) {
		return err
	}
	return &CorruptError{Reason: what, Err: err}
}

func (s *stream) readManifest(lim Limits) (*Manifest, error) {
	hdr, err := s.tr.Next()
	if err != nil {
		return nil, classify(s.src, "manifest", err)
	}
	if hdr.Name != ManifestName || hdr.Typeflag != tar.TypeReg {
		return nil, corrupt("first entry is %q, not %s", hdr.Name, ManifestName)
	}
	if hdr.Size > lim.MaxManifestBytes {
		return nil, &LimitError{What: "manifest size", Limit: lim.MaxManifestBytes, Got: hdr.Size}
	}
	data, err := io.ReadAll(s.tr)
	if err != nil {
		return nil, classify(s.src, "manifest", err)
	}
	m, err := decodeManifest(data)
	if err != nil {
		return nil, err
	}
	if err := m.validate(lim); err != nil {
		return nil, err
	}
	m.clean()
	return m, nil
}

// ReadManifest decrypts only as far as the manifest and returns it (for an
// inbox view). The rest of the envelope is neither read nor authenticated.
func ReadManifest(ctx context.Context, r io.Reader, identities []age.Identity) (*Manifest, error) {
	s, err := openStream(ctxReader{ctx, r}, identities)
	if err != nil {
		return nil, err
	}
	defer s.close()
	return s.readManifest(Limits{}.withDefaults())
}

// Open decrypts the envelope read from r, extracts it into the new
// directory dst (which must not exist; its parent must) and returns the
// manifest. dst then holds manifest.json and files/<path> for every file.
//
// Extraction goes into a temporary directory beside dst, through an
// os.Root (no "..", absolute paths or links can escape), checking every
// entry against the manifest and the limits. Only after every file's size
// and SHA-256 matched, no file was missing or extra, and the age stream
// authenticated to its end, is the directory renamed to dst. On any error
// nothing is left.
func Open(ctx context.Context, r io.Reader, identities []age.Identity, dst string, lim Limits, progress transfer.Progress) (*Manifest, error) {
	lim = lim.withDefaults()
	dst = filepath.Clean(dst)
	if err := stagedir.CheckAbsent("open envelope", dst); err != nil {
		return nil, err
	}
	s, err := openStream(ctxReader{ctx, r}, identities)
	if err != nil {
		return nil, err
	}
	defer s.close()
	m, err := s.readManifest(lim)
	if err != nil {
		return nil, err
	}
	err = stagedir.Create("open envelope", dst, m.TotalBytes()+1<<20, func(tmp string) error {
		return s.extract(ctx, tmp, m, progress)
	})
	if err != nil {
		return nil, err
	}
	transfer.Report(progress, transfer.Status{State: transfer.StateDone, Done: m.TotalBytes(), Total: m.TotalBytes()})
	return m, nil
}

func (s *stream) extract(ctx context.Context, dir string, m *Manifest, progress transfer.Progress) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	want := make(map[string]File, len(m.Files))
	for _, f := range m.Files {
		want[f.Path] = f
	}
	total := m.TotalBytes()
	var done int64
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := s.tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return classify(s.src, "archive", err)
		}
		f, err := checkEntry(hdr, want)
		if err != nil {
			return err
		}
		delete(want, f.Path)
		if err := writeVerified(root, s, f, buf, func(n int64) {
			done += n
			transfer.Report(progress, transfer.Status{State: transfer.StateOpening, Done: done, Total: total})
		}); err != nil {
			return err
		}
	}
	if len(want) > 0 {
		return &VerifyError{Path: sortedPaths(want)[0], Problem: "missing"}
	}
	if err := s.finish(); err != nil {
		return err
	}
	return writeManifestFile(root, m)
}

// finish reads both layers to their ends, so age checks the final chunk:
// only then is a truncated envelope detected.
func (s *stream) finish() error {
	if _, err := io.Copy(io.Discard, s.zr); err != nil {
		return classify(s.src, "end of stream", err)
	}
	if _, err := io.Copy(io.Discard, s.age); err != nil {
		return classify(s.src, "end of stream", err)
	}
	return nil
}

func checkEntry(hdr *tar.Header, want map[string]File) (File, error) {
	if hdr.Typeflag != tar.TypeReg {
		return File{}, corrupt("entry %q is not a regular file", hdr.Name)
	}
	rel, ok := strings.CutPrefix(hdr.Name, FilesPrefix)
	if !ok {
		return File{}, &VerifyError{Path: hdr.Name, Problem: "extra"}
	}
	if err := checkPath(rel); err != nil {
		return File{}, err
	}
	f, ok := want[rel]
	if !ok {
		return File{}, &VerifyError{Path: rel, Problem: "extra"}
	}
	if hdr.Size != f.Size {
		return File{}, &VerifyError{Path: rel, Problem: "size"}
	}
	return f, nil
}

func writeVerified(root *os.Root, s *stream, f File, buf []byte, advance func(int64)) error {
	if dir := path.Dir(f.Path); dir != "." {
		if err := root.MkdirAll(path.Join("files", dir), 0o755); err != nil {
			return fmt.Errorf("open envelope: %w", err)
		}
	} else if err := root.MkdirAll("files", 0o755); err != nil {
		return fmt.Errorf("open envelope: %w", err)
	}
	out, err := root.OpenFile(path.Join("files", f.Path), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return &VerifyError{Path: f.Path, Problem: "duplicate"}
		}
		return fmt.Errorf("open envelope: %w", err)
	}
	h := sha256.New()
	_, err = io.CopyBuffer(io.MultiWriter(out, h), &progressReader{r: s.tr, advance: advance}, buf)
	cerr := out.Close()
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) || diskspace.IsFull(err) {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		return classify(s.src, f.Path, err)
	}
	if cerr != nil {
		return fmt.Errorf("write %s: %w", f.Path, cerr)
	}
	if hexSum(h) != f.SHA256 {
		return &VerifyError{Path: f.Path, Problem: "hash"}
	}
	return nil
}

func writeManifestFile(root *os.Root, m *Manifest) error {
	data, err := marshalManifest(m)
	if err != nil {
		return err
	}
	return root.WriteFile(ManifestName, data, 0o644)
}

// sourceReader remembers the error of the envelope's own source, to tell
// a network failure from a damaged envelope.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil {
		s.err = err
	}
	return n, err
}
