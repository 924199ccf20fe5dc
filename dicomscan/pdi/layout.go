package pdi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
)

// Layout plans the file-set of idx without copying a single instance: it
// reads each instance's header for the directory records and returns what
// WriteDir would have written, with the small root files (DICOMDIR,
// README.TXT, INDEX.HTM) in memory. The caller moves each Result.Written
// source to its Path itself (a rename, when the sources are its own fresh
// copies, as de-identified files are): a file-set of 1 GB then costs no
// second gigabyte of writing. The instances keep their own file meta
// information, so they must already be valid Part-10 files with the
// attributes the index holds; documents are not part of a layout.
func Layout(ctx context.Context, idx *dicomscan.Index, opts Options) (*Result, map[string][]byte, error) {
	opts.IncludeDocuments = false
	ls := &layoutSink{root: map[string][]byte{}}
	res, err := write(ctx, idx, opts, ls)
	if err != nil {
		return nil, nil, err
	}
	return res, ls.root, nil
}

// layoutSink keeps the root files and discards everything else; the
// writer skips instance bodies for it (see commit).
type layoutSink struct {
	root map[string][]byte
	name string
	buf  *bytes.Buffer
}

func (l *layoutSink) create(name string, _ bool, _ time.Time) (io.Writer, error) {
	if strings.Contains(name, "/") {
		l.name, l.buf = "", nil
		return io.Discard, nil
	}
	l.name, l.buf = name, &bytes.Buffer{}
	return l.buf, nil
}

func (l *layoutSink) closeFile() error {
	if l.buf != nil {
		l.root[l.name] = l.buf.Bytes()
	}
	l.name, l.buf = "", nil
	return nil
}

func (l *layoutSink) rename(from, to string) error { return errors.New("layout: rename unsupported") }
