package envelope

import (
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// frameSize is how much input goes into one zstd frame. Frames are
// compressed independently, so a match cannot reach into the previous
// frame; at 4 MiB that costs ~0.1 % of envelope size on the generator's CD.
const frameSize = 4 << 20

// errFramesAborted is what a frameWriter reports after abort.
var errFramesAborted = errors.New("seal: compression aborted")

// frameWriter compresses its input as a sequence of independent zstd
// frames of frameSize bytes on several goroutines and writes the frames to
// w in order from one more goroutine. A zstd stream may hold any number of
// frames (RFC 8878, section 3) and decoders read them as one stream, so
// the envelope format does not change — but both cores compress at once,
// as `zstd -T2` does, while the caller reads and hashes the next files and
// the writing goroutine encrypts and stores the previous frames.
//
// Memory is bounded: at most workers+3 frames (input and output) exist.
type frameWriter struct {
	w   io.Writer
	enc *zstd.Encoder // EncodeAll may run concurrently, on its own encoder each

	buf   []byte         // the frame being filled
	jobs  chan *frameJob // to the compressing workers
	order chan *frameJob // to the writing goroutine, in stream order
	ins   chan []byte    // free input buffers
	outs  chan []byte    // free output buffers

	workers sync.WaitGroup
	written chan struct{} // closed when the writing goroutine ends

	mu  sync.Mutex
	err error // first write error, or errFramesAborted
}

type frameJob struct {
	in, out []byte
	ready   chan struct{} // closed when out holds the compressed frame
}

func newFrameWriter(w io.Writer, workers int, opts ...zstd.EOption) (*frameWriter, error) {
	opts = append(opts, zstd.WithEncoderConcurrency(workers))
	enc, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		return nil, err
	}
	f := &frameWriter{w: w, enc: enc,
		jobs: make(chan *frameJob, workers), order: make(chan *frameJob, workers),
		ins: make(chan []byte, workers+3), outs: make(chan []byte, workers+3),
		written: make(chan struct{})}
	for range workers {
		f.workers.Add(1)
		go f.compress()
	}
	go f.write()
	return f, nil
}

func (f *frameWriter) compress() {
	defer f.workers.Done()
	for j := range f.jobs {
		if f.failed() == nil {
			j.out = f.enc.EncodeAll(j.in, get(f.outs, f.enc.MaxEncodedSize(frameSize)))
		}
		close(j.ready)
	}
}

func (f *frameWriter) write() {
	defer close(f.written)
	for j := range f.order {
		<-j.ready
		if f.failed() == nil {
			if _, err := f.w.Write(j.out); err != nil {
				f.fail(err)
			}
		}
		put(f.ins, j.in)
		put(f.outs, j.out)
	}
}

func (f *frameWriter) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *frameWriter) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

// Write buffers p and hands every full frame on; it reports the first
// error of an earlier frame's write.
func (f *frameWriter) Write(p []byte) (int, error) {
	if err := f.failed(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		if f.buf == nil {
			f.buf = get(f.ins, frameSize)
		}
		k := min(len(p), frameSize-len(f.buf))
		f.buf = append(f.buf, p[:k]...)
		p = p[k:]
		if len(f.buf) == frameSize {
			f.flush()
		}
	}
	return n, nil
}

// readFrom reads up to n bytes from r straight into the frames (no copy
// through a caller's buffer), handing every slice read to seen before it
// can be compressed. It returns how many bytes it read: fewer than n when
// r ended first.
func (f *frameWriter) readFrom(r io.Reader, n int64, seen func([]byte)) (int64, error) {
	var total int64
	for total < n {
		if err := f.failed(); err != nil {
			return total, err
		}
		if f.buf == nil {
			f.buf = get(f.ins, frameSize)
		}
		at := len(f.buf)
		k, err := r.Read(f.buf[at : at+int(min(int64(frameSize-at), n-total))])
		if k > 0 {
			seen(f.buf[at : at+k])
			f.buf = f.buf[:at+k]
			total += int64(k)
			if len(f.buf) == frameSize {
				f.flush()
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (f *frameWriter) flush() {
	if len(f.buf) == 0 {
		return
	}
	j := &frameJob{in: f.buf, ready: make(chan struct{})}
	f.buf = nil
	f.order <- j // first: the writer learns the order before a worker can finish
	f.jobs <- j
}

// Close compresses what is buffered, waits until every frame is written
// and returns the first error.
func (f *frameWriter) Close() error {
	if f.failed() == nil {
		f.flush()
	}
	close(f.jobs)
	close(f.order)
	f.workers.Wait()
	<-f.written
	f.enc.Close()
	return f.failed()
}

// abort stops compressing and writing and releases the goroutines; the
// output is incomplete.
func (f *frameWriter) abort() {
	f.fail(errFramesAborted)
	f.Close()
}

// get takes a free buffer or makes one of the given capacity.
func get(pool chan []byte, capacity int) []byte {
	select {
	case b := <-pool:
		return b[:0]
	default:
		return make([]byte, 0, capacity)
	}
}

func put(pool chan []byte, b []byte) {
	if b == nil {
		return
	}
	select {
	case pool <- b:
	default:
	}
}
