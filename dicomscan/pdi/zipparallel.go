package pdi

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"time"
)

// Deflating is what a ZIP costs (about 60 MB/s per core against GB/s for
// reading), so WriteZip deflates instances on every CPU while one
// goroutine writes the entries in order. Memory stays bounded: at most
// 2×workers instances are in flight, each at most maxDeflateAhead bytes;
// larger instances are streamed by the writing goroutine. The bytes are
// the same whatever the number of workers (one worker is the same path).

const maxDeflateAhead = 8 << 20

func (w *writer) writeInstancesParallel(zs *zipSink, list []*planInstance) error {
	ctx, cancel := context.WithCancel(w.ctx)
	n := zs.workers
	results := make([]chan *prepared, len(list))
	for i := range results {
		results[i] = make(chan *prepared, 1)
	}
	window := make(chan struct{}, 2*n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, copyChunk)
			for j := range jobs {
				p := w.prepare(ctx, list[j])
				if p.err == nil && p.skip == nil && fileSize(p) <= zs.aheadLimit {
					deflateAhead(ctx, p, buf)
				}
				results[j] <- p
			}
		}()
	}
	go func() { // hand out the instances in order, at most len(window) ahead
		defer close(jobs)
		for j := range list {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	next := 0
	defer func() {
		cancel()
		wg.Wait()
		for ; next < len(list); next++ { // close what was prepared but not written
			select {
			case p := <-results[next]:
				if p.f != nil {
					p.f.Close()
				}
			default:
			}
		}
	}()
	for ; next < len(list); next++ {
		var p *prepared
		select {
		case p = <-results[next]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-window
		err := w.commit(p)
		if err != nil {
			return err
		}
	}
	return nil
}

// fileSize is the source's size as the file system tells, else as the
// Index says.
func fileSize(p *prepared) int64 {
	if st, err := p.f.Stat(); err == nil && st.Mode().IsRegular() {
		return st.Size()
	}
	return p.pi.inst.Size
}

// deflateAhead reads the rest of a prepared instance and deflates meta +
// data set into memory, closing the source.
func deflateAhead(ctx context.Context, p *prepared, buf []byte) {
	defer func() {
		p.f.Close()
		p.f = nil
	}()
	var out bytes.Buffer
	out.Grow(int(fileSize(p) / 2))
	fw, err := newPooledFlate(&out)
	if err != nil {
		p.err = err
		return
	}
	crc := crc32.NewIEEE()
	dst := io.MultiWriter(fw, crc)
	dst.Write(p.meta) // bytes.Buffer and crc32 never fail
	size := int64(len(p.meta))
	for {
		if err := ctx.Err(); err != nil {
			fw.Close()
			p.err = err
			return
		}
		n, rerr := p.br.Read(buf)
		if n > 0 {
			dst.Write(buf[:n])
			size += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			fw.Close()
			p.err = fmt.Errorf("pdi: read %s: %w", p.pi.inst.Path, rerr)
			return
		}
	}
	if err := fw.Close(); err != nil {
		p.err = err
		return
	}
	p.deflated, p.crc, p.size = &out, crc.Sum32(), size
}

// writeDeflated writes an instance deflated ahead as a raw ZIP entry: sizes
// and CRC in the local header, no data descriptor.
func (w *writer) writeDeflated(p *prepared) (int64, error) {
	zs := w.sink.(*zipSink)
	h := &zip.FileHeader{
		Name:               p.name,
		Method:             zip.Deflate,
		CRC32:              p.crc,
		CompressedSize64:   uint64(p.deflated.Len()),
		UncompressedSize64: uint64(p.size),
	}
	setModified(h, w.opts.Time)
	out, err := zs.zw.CreateRaw(h)
	if err != nil {
		return 0, fmt.Errorf("pdi: create %s: %w", p.name, err)
	}
	if _, err := out.Write(p.deflated.Bytes()); err != nil {
		return 0, fmt.Errorf("pdi: write %s: %w", p.name, err)
	}
	w.progress(0, p.size)
	return p.size, nil
}

// setModified fills the MS-DOS time fields and the extended timestamp the
// way zip.Writer.CreateHeader does for Modified (CreateRaw does not).
func setModified(h *zip.FileHeader, t time.Time) {
	if t.Year() < 1980 {
		t = time.Date(1980, 1, 1, 0, 0, 0, 0, t.Location())
	}
	//lint:ignore SA1019 the MS-DOS fields are what readers without the extended timestamp see
	h.ModifiedDate = uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	//lint:ignore SA1019 as above
	h.ModifiedTime = uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	extra := make([]byte, 0, 9)
	extra = binary.LittleEndian.AppendUint16(extra, 0x5455) // extended timestamp
	extra = binary.LittleEndian.AppendUint16(extra, 5)
	extra = append(extra, 1) // flags: modification time
	extra = binary.LittleEndian.AppendUint32(extra, uint32(t.Unix()))
	h.Extra = extra
}
