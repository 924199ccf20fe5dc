package envelope

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/workpool"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/diskspace"
	"github.com/klauspost/compress/zstd"
)

// SealInput is what goes into an envelope.
type SealInput struct {
	// Index is the scanned medium; its FS() must be set (the files are
	// read from it).
	Index *dicomscan.Index
	// Studies selects studies by Study Instance UID; empty means all.
	Studies []string
	// Documents selects Index.Documents by path to include (PDF reports).
	Documents []string

	Sender   Sender
	Patient  Patient
	Referrer Referrer
	Message  string
	// Recipients are the community's age recipients ("age1…").
	Recipients []string
	// Created is the manifest time; zero means now.
	Created time.Time
}

// SealResult describes the written spool file.
type SealResult struct {
	Size     int64  // bytes of the envelope (ciphertext)
	SHA256   string // lower-case hex over the envelope, for the upload
	Manifest *Manifest
}

// EstimateSize is the upper bound of an envelope holding files of the given
// total size and count, used for the free-space check: zstd adds at most 3
// bytes per 128 KiB block on incompressible input (< 0.01 %), tar 512
// bytes of header plus up to 511 bytes of padding per file, age 16 bytes
// per 64 KiB chunk (0.025 %) plus a header below 1 KiB. We reserve 1 % of
// the data, 1 KiB per file and 1 MiB for the manifest and headers.
func EstimateSize(totalBytes int64, files int) int64 {
	return totalBytes + totalBytes/100 + int64(files)*1024 + 1<<20
}

// hashWorkers bounds how many files are read at once in the hashing pass:
// a CD drive or USB stick is slower with more.
var hashWorkers = min(4, max(2, runtime.GOMAXPROCS(0)))

// Seal writes an envelope to spoolPath (replacing it atomically): it reads
// every selected file twice — once to hash it for the manifest, which
// comes first in the stream, then to compress and encrypt it, checking
// that it still reads the same (see filePrints). Plaintext never touches
// the disk.
func Seal(ctx context.Context, in SealInput, spoolPath string, progress transfer.Progress) (*SealResult, error) {
	if in.Index == nil || in.Index.FS() == nil {
		return nil, errors.New("seal: index without file system")
	}
	recipients, err := crypto.ParseRecipients(in.Recipients)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	m, err := buildManifest(in)
	if err != nil {
		return nil, err
	}
	total := m.TotalBytes()
	dir := filepath.Dir(spoolPath)
	if err := diskspace.Check(dir, EstimateSize(total, len(m.Files))); err != nil {
		return nil, err
	}
	prints := newPrints(len(m.Files))
	if err := hashFiles(ctx, in.Index.FS(), m, prints, progress); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(spoolPath)+".*.partial")
	if err != nil {
		return nil, diskspace.Map(dir, fmt.Errorf("seal: %w", err))
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	sum := sha256.New()
	counter := &countingWriter{w: io.MultiWriter(tmp, sum)}
	if err := writeEnvelope(ctx, counter, recipients, in.Index.FS(), m, prints, progress); err != nil {
		return nil, diskspace.Map(dir, err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, diskspace.Map(dir, fmt.Errorf("seal: sync: %w", err))
	}
	if err := tmp.Close(); err != nil {
		return nil, diskspace.Map(dir, fmt.Errorf("seal: %w", err))
	}
	if err := os.Rename(tmp.Name(), spoolPath); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	ok = true
	transfer.Report(progress, transfer.Status{State: transfer.StateDone, Done: total, Total: total})
	return &SealResult{Size: counter.n, SHA256: hex.EncodeToString(sum.Sum(nil)), Manifest: m}, nil
}

func buildManifest(in SealInput) (*Manifest, error) {
	created := in.Created
	if created.IsZero() {
		created = time.Now()
	}
	m := &Manifest{Format: FormatName, Version: FormatVersion, Created: created.UTC().Truncate(time.Second),
		Sender: in.Sender, Patient: in.Patient, Referrer: in.Referrer, Message: in.Message}
	want := map[string]bool{}
	for _, uid := range in.Studies {
		want[uid] = true
	}
	found := map[string]bool{}
	for _, p := range in.Index.Patients {
		for _, st := range p.Studies {
			if len(want) > 0 && !want[st.InstanceUID] {
				continue
			}
			found[st.InstanceUID] = true
			s := Study{StudyInstanceUID: st.InstanceUID, PatientName: p.Name, PatientID: p.ID, Date: st.Date, Time: st.Time,
				Description: st.Description, AccessionNumber: st.AccessionNumber, Modalities: st.Modalities, Series: len(st.Series)}
			for _, se := range st.Series {
				for _, inst := range se.Instances {
					m.Files = append(m.Files, File{Path: inst.Path, Size: inst.Size, SOPInstanceUID: inst.SOPInstanceUID, StudyUID: st.InstanceUID})
					s.Instances++
					s.Bytes += inst.Size
				}
			}
			m.Studies = append(m.Studies, s)
		}
	}
	for uid := range want {
		if !found[uid] {
			return nil, fmt.Errorf("seal: study %s not in the index", uid)
		}
	}
	docs := map[string]dicomscan.Document{}
	for _, d := range in.Index.Documents {
		docs[d.Path] = d
	}
	for _, p := range in.Documents {
		d, ok := docs[p]
		if !ok {
			return nil, fmt.Errorf("seal: document %q not in the index", p)
		}
		m.Files = append(m.Files, File{Path: d.Path, Size: d.Size})
	}
	if len(m.Files) == 0 {
		return nil, errors.New("seal: nothing selected")
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if err := checkPath(f.Path); err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("seal: %q listed twice in the index", f.Path)
		}
		seen[f.Path] = true
	}
	return m, nil
}

// hashFiles fills in every file's SHA-256 (and its real size: an index may
// be older than the medium) and its print with a few readers in parallel.
func hashFiles(ctx context.Context, fsys fs.FS, m *Manifest, prints *filePrints, progress transfer.Progress) error {
	total := m.TotalBytes()
	var mu sync.Mutex
	var done int64
	return workpool.Run(ctx, len(m.Files), hashWorkers, func() func(int) error {
		buf := make([]byte, 256<<10) // one per worker: 2000 files made 500 MB of garbage
		return func(i int) error {
			f := &m.Files[i]
			sum, print, n, err := hashFile(ctx, fsys, f.Path, prints.seed, buf)
			if err != nil {
				return err
			}
			if n != f.Size {
				return &SourceChangedError{Path: f.Path}
			}
			f.SHA256 = sum
			prints.sums[i] = print
			mu.Lock()
			done += n
			transfer.Report(progress, transfer.Status{State: transfer.StateHashing, Done: done, Total: total})
			mu.Unlock()
			return nil
		}
	})
}

func hashFile(ctx context.Context, fsys fs.FS, p string, seed maphash.Seed, buf []byte) (string, uint64, int64, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return "", 0, 0, fmt.Errorf("seal: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	var print maphash.Hash
	print.SetSeed(seed)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return "", 0, 0, err
		}
		k, err := f.Read(buf)
		h.Write(buf[:k])
		print.Write(buf[:k])
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", 0, 0, fmt.Errorf("seal: read %s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), print.Sum64(), n, nil
}

// filePrints are the files' prints from the hashing pass: a keyed 64-bit
// hash (hash/maphash, AES-based, ~10 GB/s) with a seed drawn for this Seal.
// The packing pass compares the bytes it streams against them instead of
// computing SHA-256 a second time — a third of Seal's CPU on a 2-core
// machine. A changed file goes unnoticed with probability 2^-64, and the
// seed never leaves the process, so nobody can aim for a collision; and
// Open verifies every file's SHA-256 anyway, so an envelope whose bytes
// do not match its manifest is refused at the clinic in any case: the
// check here only makes the sender fail early with SourceChangedError.
type filePrints struct {
	seed maphash.Seed
	sums []uint64
}

func newPrints(files int) *filePrints {
	return &filePrints{seed: maphash.MakeSeed(), sums: make([]uint64, files)}
}

// writeEnvelope streams age(zstd(tar)) into w.
func writeEnvelope(ctx context.Context, w io.Writer, recipients []age.Recipient, fsys fs.FS, m *Manifest, prints *filePrints, progress transfer.Progress) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc, err := age.Encrypt(bw, recipients...)
	if err != nil {
		return fmt.Errorf("seal: encrypt: %w", err)
	}
	// Compression runs on every core, encryption and writing in one more
	// goroutine: reading, compressing and encrypting overlap, as in a
	// shell pipeline.
	zw, err := newFrameWriter(enc, sealWorkers(), zstdOptions()...)
	if err != nil {
		return err
	}
	if err := writeTar(ctx, zw, fsys, m, prints, progress); err != nil {
		zw.abort()
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("seal: compress: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("seal: encrypt: %w", err)
	}
	return bw.Flush()
}

// writeTar writes the manifest and every file as a tar stream. The
// headers come from archive/tar; the files' bytes are read straight into
// the compression frames (frameWriter.readFrom), one copy fewer than
// through tar.Writer, and the stream is the one tar.Writer writes.
func writeTar(ctx context.Context, zw *frameWriter, fsys fs.FS, m *Manifest, prints *filePrints, progress transfer.Progress) error {
	manifest, err := marshalManifest(m)
	if err != nil {
		return err
	}
	if err := writeEntry(zw, ManifestName, int64(len(manifest)), m.Created); err != nil {
		return err
	}
	if _, err := zw.Write(manifest); err != nil {
		return err
	}
	if err := padEntry(zw, int64(len(manifest))); err != nil {
		return err
	}
	total := m.TotalBytes()
	var done int64
	for i, f := range m.Files {
		want := filePrint{seed: prints.seed, sum: prints.sums[i]}
		if err := copyFile(ctx, zw, fsys, f, want, m.Created, func(n int64) {
			done += n
			transfer.Report(progress, transfer.Status{State: transfer.StateSealing, Done: done, Total: total})
		}); err != nil {
			return err
		}
	}
	// The end of the archive: two zero blocks, as tar.Writer.Close writes.
	_, err = zw.Write(make([]byte, 2*blockSize))
	return err
}

const blockSize = 512 // tar's

// writeEntry writes the header of one regular file, as tar.Writer does.
func writeEntry(w io.Writer, name string, size int64, mod time.Time) error {
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr) // never closed: only the header is wanted
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: mod, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := w.Write(hdr.Bytes())
	return err
}

// padEntry fills the last block of an entry of size bytes with zeros.
func padEntry(w io.Writer, size int64) error {
	if pad := -size & (blockSize - 1); pad > 0 {
		_, err := w.Write(make([]byte, pad))
		return err
	}
	return nil
}

type filePrint struct {
	seed maphash.Seed
	sum  uint64
}

// copyFile streams one file into the tar and checks that it still has the
// size and print the hashing pass saw.
func copyFile(ctx context.Context, zw *frameWriter, fsys fs.FS, f File, want filePrint, mod time.Time, advance func(int64)) error {
	src, err := fsys.Open(f.Path)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	defer src.Close()
	if err := writeEntry(zw, FilesPrefix+f.Path, f.Size, mod); err != nil {
		return err
	}
	var h maphash.Hash
	h.SetSeed(want.seed)
	n, err := zw.readFrom(ctxReader{ctx, src}, f.Size, func(b []byte) {
		h.Write(b)
		advance(int64(len(b)))
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("seal: %s: %w", f.Path, err)
	}
	if n != f.Size || h.Sum64() != want.sum {
		return &SourceChangedError{Path: f.Path}
	}
	// A file that grew since the hashing pass has more to read.
	var more [1]byte
	if k, _ := io.ReadFull(src, more[:]); k > 0 {
		return &SourceChangedError{Path: f.Path}
	}
	return padEntry(zw, f.Size)
}

func marshalManifest(m *Manifest) ([]byte, error) { return json.MarshalIndent(m, "", " ") }

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type progressReader struct {
	r       io.Reader
	advance func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.advance(int64(n))
	}
	return n, err
}

// ctxReader stops a copy loop when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// sortedPaths is used by tests and Open to report missing files stably.
func sortedPaths(m map[string]File) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// sealWorkers is how many goroutines compress: every core, at least two
// so compression overlaps even on one, at most four to bound memory
// (two frames of frameSize per worker).
func sealWorkers() int { return min(4, max(2, runtime.GOMAXPROCS(0))) }

// zstdOptions: the fastest level compresses uncompressed CT/MR to ~45 %, as
// well as `zstd -1`, at the same CPU cost; a 1 MiB window costs < 0.05 %
// of size against the default 4 MiB and keeps each worker's history small.
// No frame checksum (xxhash64, 4 % of the compression's CPU): age
// authenticates every byte of the stream and the manifest lists every
// file's SHA-256, which Open checks.
func zstdOptions() []zstd.EOption {
	return []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(1 << 20), zstd.WithEncoderCRC(false)}
}
