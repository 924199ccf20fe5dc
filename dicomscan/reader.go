package dicomscan

import (
	"errors"
	"fmt"
	"io"
)

// errTruncated: the data ended inside an element. It is what every broken
// or cut-off file turns into, so callers can tell "short file" from I/O errors.
var errTruncated = errors.New("file ends inside an element")

// errTooLong: an element declares more bytes than the file (or our limit) holds.
var errTooLong = errors.New("element length exceeds the file")

// headerChunk is the first read of every file. Scanner headers are mostly
// 1-6 KiB up to the attributes the index needs; longer ones are read on
// (values past the header are skipped by seeking).
const headerChunk = 8 << 10

// maxKeptValue bounds a value the reader copies into memory. Every value
// the index needs is a short string; longer ones are skipped, never read.
const maxKeptValue = 64 << 10

// byteReader is a small buffered reader that tracks its absolute position
// and knows how many bytes remain, so that a declared length can be checked
// against the file before anything is allocated or skipped.
type byteReader struct {
	r          io.Reader
	buf        []byte
	start, end int
	pos        int64 // absolute offset of buf[start]
	size       int64 // total size of the stream, or -1 when unknown
}

// maxUnsizedStream bounds how much of a stream of unknown size (a deflated
// dataset, or a caller's reader) or of a stream it cannot seek in (a ZIP
// entry) the header reader consumes, so that a deflate bomb or an endless
// reader cannot keep it busy: headers are kilobytes, and 64 MiB inflate in
// well under a second.
const maxUnsizedStream = 64 << 20

func newByteReader(r io.Reader, size int64, buf []byte) *byteReader {
	if cap(buf) < 4096 {
		buf = make([]byte, headerChunk)
	}
	if _, seekable := r.(io.Seeker); size < 0 || !seekable {
		// Without seeking, a skip reads (and for a ZIP entry inflates) every
		// byte: bound it too.
		r = io.LimitReader(r, maxUnsizedStream)
	}
	return &byteReader{r: r, buf: buf[:cap(buf)], size: size}
}

// remaining returns how many bytes are left, or -1 when unknown.
func (b *byteReader) remaining() int64 {
	if b.size < 0 {
		return -1
	}
	return b.size - b.pos
}

// fill makes at least n bytes available in buf[start:end]. n must be at most
// maxKeptValue+16.
func (b *byteReader) fill(n int) error {
	if b.end-b.start >= n {
		return nil
	}
	if rem := b.remaining(); rem >= 0 && int64(n) > rem {
		return errTruncated
	}
	if n > len(b.buf) {
		nb := make([]byte, n)
		copy(nb, b.buf[b.start:b.end])
		b.end -= b.start
		b.start = 0
		b.buf = nb
	} else if b.start > 0 {
		copy(b.buf, b.buf[b.start:b.end])
		b.end -= b.start
		b.start = 0
	}
	got, err := io.ReadAtLeast(b.r, b.buf[b.end:], n-(b.end-b.start))
	b.end += got
	if b.end-b.start >= n {
		return nil
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF || err == nil {
		return errTruncated
	}
	return &readError{err}
}

// readError is a failure of the medium (a bad sector, a vanished file), as
// opposed to a malformed file.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

func isReadError(err error) bool {
	var re *readError
	return errors.As(err, &re)
}

// peek returns the next n bytes without consuming them.
func (b *byteReader) peek(n int) ([]byte, error) {
	if err := b.fill(n); err != nil {
		return nil, err
	}
	return b.buf[b.start : b.start+n], nil
}

// next consumes n bytes; the slice is valid until the next call.
func (b *byteReader) next(n int) ([]byte, error) {
	if n > maxKeptValue+16 {
		return nil, errTooLong
	}
	if err := b.fill(n); err != nil {
		return nil, err
	}
	p := b.buf[b.start : b.start+n]
	b.start += n
	b.pos += int64(n)
	return p, nil
}

// skip discards n bytes, seeking when the source allows it.
func (b *byteReader) skip(n int64) error {
	if n < 0 {
		return errTooLong
	}
	if rem := b.remaining(); rem >= 0 && n > rem {
		return errTooLong
	}
	if have := int64(b.end - b.start); n <= have {
		b.start += int(n)
		b.pos += n
		return nil
	}
	n -= int64(b.end - b.start)
	b.pos += int64(b.end - b.start)
	b.start, b.end = 0, 0
	if s, ok := b.r.(io.Seeker); ok && b.size >= 0 {
		if _, err := s.Seek(n, io.SeekCurrent); err != nil {
			return &readError{fmt.Errorf("seek: %w", err)}
		}
		b.pos += n
		return nil
	}
	got, err := io.CopyN(io.Discard, b.r, n)
	b.pos += got
	if got < n {
		if err == nil || err == io.EOF {
			return errTruncated
		}
		return &readError{err}
	}
	return nil
}

// atEOF reports whether no byte is left.
func (b *byteReader) atEOF() bool {
	if b.end > b.start {
		return false
	}
	if rem := b.remaining(); rem >= 0 {
		return rem == 0
	}
	return b.fill(1) != nil
}
