package deid

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"

	"github.com/bildbote/bildbote/internal/dicomvr"
)

// implementationClassUID identifies Bildbote as the writer of a file it
// de-identified (the same root as the PDI writer's).
const (
	implementationClassUID = "2.25.163312069855286155530404436390486553101"
	implementationVersion  = "BILDBOTE_DEID_1"
)

// Buffers and deflate writers are reused across files: a send rewrites
// thousands of them.
var (
	bufPool   = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 256<<10) }}
	flatePool = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.DefaultCompression); return w }}
)

// writer encodes elements to a buffered stream and keeps the first error.
type writer struct {
	w   *bufio.Writer
	err error
	hdr [12]byte
}

func (w *writer) write(p []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(p)
	}
}

func (w *writer) tagLen(t uint32, vr string, length uint32, e enc) {
	o := e.order()
	h := w.hdr[:]
	o.PutUint16(h, uint16(t>>16))
	o.PutUint16(h[2:], uint16(t))
	if !e.explicit || t>>16 == 0xFFFE {
		o.PutUint32(h[4:], length)
		w.write(h[:8])
		return
	}
	h[4], h[5] = vr[0], vr[1]
	if dicomvr.LongLength(vr) {
		h[6], h[7] = 0, 0
		o.PutUint32(h[8:], length)
		w.write(h[:12])
		return
	}
	o.PutUint16(h[6:], uint16(length))
	w.write(h[:8])
}

func (w *writer) dataset(ds *dataset) {
	e := ds.enc
	for _, el := range ds.elems {
		vr := el.vr
		if e.explicit && (len(vr) != 2 || !validVR([]byte(vr))) {
			vr = "UN"
		}
		switch {
		case el.isSQ:
			itemEnc := e
			if el.unSQ {
				itemEnc = enc{}
			}
			w.tagLen(el.tag, vr, undefined, e)
			for _, it := range el.items {
				it.enc = itemEnc
				w.tagLen(tagItem, "", undefined, itemEnc)
				w.dataset(it)
				w.tagLen(tagItemEnd, "", 0, itemEnc)
			}
			w.tagLen(tagSeqEnd, "", 0, itemEnc)
		case el.encapsulated:
			w.tagLen(el.tag, vr, undefined, e)
			w.write(el.value)
		default:
			v := el.value
			if e.explicit && !dicomvr.LongLength(vr) && len(v) > 0xFFFF {
				// Cannot happen for values read from a file; a value the
				// engine made is short. Keep the file valid regardless.
				vr = "UN"
			}
			w.tagLen(el.tag, vr, uint32(len(v)), e)
			w.write(v)
		}
	}
}

// writeFile writes a Part 10 file: a zeroed preamble, the meta group with
// its group length recomputed, and the data set in the transfer syntax it
// was read in (deflated again when it was deflated).
func writeFile(dst io.Writer, f *file) error {
	bw := bufPool.Get().(*bufio.Writer)
	bw.Reset(dst)
	defer func() { bw.Reset(nil); bufPool.Put(bw) }()
	w := &writer{w: bw}
	var pre [132]byte
	copy(pre[128:], "DICM")
	w.write(pre[:])
	le := enc{explicit: true}
	var meta []*element
	for _, el := range f.meta {
		if el.tag != 0x00020000 {
			meta = append(meta, el)
		}
	}
	size := 0
	for _, el := range meta {
		vr := el.vr
		if !validVR([]byte(vr)) {
			vr = "UN"
			el.vr = vr
		}
		if dicomvr.LongLength(vr) {
			size += 12
		} else {
			size += 8
		}
		size += len(el.value)
	}
	var gl [4]byte
	binary.LittleEndian.PutUint32(gl[:], uint32(size))
	w.dataset(&dataset{enc: le, elems: append([]*element{{tag: 0x00020000, vr: "UL", value: gl[:]}}, meta...)})
	if w.err != nil {
		return w.err
	}
	if f.ts == tsDeflated {
		if err := bw.Flush(); err != nil {
			return err
		}
		fw := flatePool.Get().(*flate.Writer)
		fw.Reset(dst)
		defer flatePool.Put(fw)
		bw.Reset(fw)
		dw := &writer{w: bw}
		dw.dataset(f.ds)
		if dw.err == nil {
			dw.err = dw.w.Flush()
		}
		if dw.err == nil {
			dw.err = fw.Close()
		}
		if dw.err != nil {
			return fmt.Errorf("writing the deflated data set: %w", dw.err)
		}
		return nil
	}
	w.dataset(f.ds)
	if w.err != nil {
		return w.err
	}
	return bw.Flush()
}
