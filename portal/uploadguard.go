package portal

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/transfer/diskspace"
)

// Metadata keys the portal adds to an upload's .info file (a client's own
// keys of these names are dropped): the SHA-256 of the creator secret and
// the creator's address key (for the per-address quota).
const (
	metaOwner  = "bildbote-owner"
	metaClient = "bildbote-client"
)

func newUploadSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func secretDigest(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

func newUploadID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// guardUploads stands in front of tusd (paths relative to wire.UploadsPath):
// it caps the metadata header, lets only the creator reach an upload,
// keeps the free-space floor for PATCH, and puts every request body on
// a time and rate budget.
func (s *Server) guardUploads(next http.Handler) http.Handler {
	lim := &s.cfg.Limits
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _, _ := strings.Cut(r.URL.Path, "/")
		// tusd lets a POST stand for another method; so does the guard.
		method := r.Method
		if o := r.Header.Get("X-HTTP-Method-Override"); method == http.MethodPost && o != "" {
			method = o
		}
		switch method {
		case http.MethodPost:
			if len(r.Header.Get("Upload-Metadata")) > lim.MetadataBytes {
				writeLimitError(w, http.StatusRequestEntityTooLarge, "metadata-too-large", "Upload-Metadata is larger than this portal accepts", int64(lim.MetadataBytes), 0)
				return
			}
		case http.MethodHead, http.MethodPatch, http.MethodDelete:
			if id == "" {
				break
			}
			if !s.isCreator(r, method, id) {
				writeError(w, http.StatusNotFound, "unknown-upload", "no such upload")
				return
			}
			if method == http.MethodPatch {
				if qe := s.rereserve(id); qe != nil {
					qe.write(w)
					return
				}
			}
			if method == http.MethodPatch && lim.FreeReserve > 0 {
				if free, err := diskspace.Free(s.cfg.DataDir); err != nil || free < lim.FreeReserve/2 {
					writeError(w, http.StatusInsufficientStorage, "insufficient-storage", "the portal is short of disk space; try again later")
					return
				}
			}
		}
		if r.Body != nil && r.Body != http.NoBody && (method == http.MethodPatch || method == http.MethodPost) {
			stop := s.watchBody(w, r)
			defer stop()
		}
		if method == http.MethodDelete {
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			if sw.status == http.StatusNoContent {
				s.ledger.remove(id)
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isCreator reports whether r carries the creator secret of upload id.
// An unknown id passes (tusd answers 404). Uploads created before creator
// secrets existed have none: a finished one may still be HEAD-ed (a
// client asking whether its last PATCH arrived), anything else is refused,
// so their clients start over with a new upload.
func (s *Server) isCreator(r *http.Request, method, id string) bool {
	up, err := s.uploads.GetUpload(r.Context(), id)
	if err != nil {
		return true
	}
	info, err := up.GetInfo(r.Context())
	if err != nil {
		return true
	}
	want := info.MetaData[metaOwner]
	if want == "" {
		return method == http.MethodHead && !info.SizeIsDeferred && info.Offset == info.Size
	}
	got := secretDigest(r.Header.Get(wire.UploadSecretHeader))
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// slowBodyError cuts a body that broke its time or rate budget. It is a
// timeout to tusd, which keeps the bytes received so far, and counts as
// os.ErrDeadlineExceeded, so tusd does not extend the read deadline
// after it.
type slowBodyError struct{}

func (slowBodyError) Error() string        { return "request body too slow" }
func (slowBodyError) Timeout() bool        { return true }
func (slowBodyError) Temporary() bool      { return true }
func (slowBodyError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

// watchBody wraps r.Body: after BodyTimeout, or when fewer than
// MinBodyRate × MinRateWindow bytes arrived in a window, reads fail and
// the connection's read deadline is set to now, which also ends a read
// that is waiting for the next byte. stop ends the watch; once it
// returns the connection is not touched any more (it may serve the next
// request).
func (s *Server) watchBody(w http.ResponseWriter, r *http.Request) (stop func()) {
	lim := &s.cfg.Limits
	wb := &watchedBody{ReadCloser: r.Body}
	r.Body = wb
	rc := http.NewResponseController(w)
	done := make(chan struct{})
	exited := make(chan struct{})
	cut := func() {
		wb.cut.Store(true)
		rc.SetReadDeadline(time.Now())
	}
	go func() {
		defer close(exited)
		deadline := time.NewTimer(lim.BodyTimeout)
		defer deadline.Stop()
		var tick <-chan time.Time
		if lim.MinBodyRate > 0 {
			t := time.NewTicker(lim.MinRateWindow)
			defer t.Stop()
			tick = t.C
		}
		var last int64
		for {
			select {
			case <-done:
				return
			case <-deadline.C:
				cut()
				return
			case <-tick:
				n := wb.n.Load()
				if wb.eof.Load() {
					return
				}
				if float64(n-last) < float64(lim.MinBodyRate)*lim.MinRateWindow.Seconds() {
					cut()
					return
				}
				last = n
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-exited
	}
}

type watchedBody struct {
	io.ReadCloser
	n   atomic.Int64
	cut atomic.Bool
	eof atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if b.cut.Load() {
		return 0, slowBodyError{}
	}
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	if b.cut.Load() {
		return n, slowBodyError{}
	}
	if errors.Is(err, io.EOF) {
		b.eof.Store(true)
	}
	return n, err
}

// tightenModes makes the files of uploads/ and inbox/ 0600 and their
// folders 0700: tusd and older versions of the portal created them
// group- and world-readable.
func tightenModes(dataDir string) {
	for _, sub := range []string{uploadsDir, inboxDir} {
		filepath.WalkDir(filepath.Join(dataDir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			switch {
			case d.IsDir():
				os.Chmod(p, 0o700)
			case d.Type().IsRegular():
				os.Chmod(p, 0o600)
			}
			return nil
		})
	}
}

// uploadGuard is the upload side's state in the Server: the quota ledger
// and the upload-password lock-outs.
type uploadGuard struct {
	ledger  *ledger
	pwAddr  *backoffLock // per client address
	pwInbox *backoffLock // per inbox, from any address
}

func newUploadGuard(l *Limits) uploadGuard {
	return uploadGuard{
		ledger:  newLedger(),
		pwAddr:  newBackoffLock(l.PasswordAddrFailures, l.PasswordLockout, l.PasswordLockoutMax),
		pwInbox: newBackoffLock(l.PasswordInboxFailures, l.PasswordLockout, l.inboxLockoutMax()),
	}
}
