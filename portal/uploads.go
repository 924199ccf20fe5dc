package portal

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/fileutil"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"
)

type tusLocker = *orderedLocker

func (s *Server) setupUploads() error {
	dir := filepath.Join(s.cfg.DataDir, uploadsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("uploads dir: %w", err)
	}
	s.uploads = filestore.New(dir)
	s.uploads.DirModePerm, s.uploads.FileModePerm = 0o700, 0o600
	tightenModes(s.cfg.DataDir)
	if err := s.rebuildLedger(context.Background()); err != nil {
		return fmt.Errorf("upload ledger: %w", err)
	}
	// Release requests pass the lock holder's gate (tuslock.go: a data
	// race in tusd otherwise).
	s.locker = newOrderedLocker()
	composer := tusd.NewStoreComposer()
	gatedStore{FileStore: s.uploads, locker: s.locker}.UseIn(composer)
	s.locker.UseIn(composer)
	// tusd builds Location from the request's Host; publicTus
	// (publicurl.go) puts publicBase in front of the upload's ID, so it
	// is right behind a TLS reverse proxy too. tusd's own
	// RespectForwardedHeaders stays off: it would believe any peer.
	h, err := tusd.NewHandler(tusd.Config{
		StoreComposer:             composer,
		BasePath:                  wire.UploadsPath,
		DisableDownload:           true,
		DisableConcatenation:      true,
		PreUploadCreateCallback:   s.checkNewUpload,
		PreFinishResponseCallback: s.finishUpload,
		// The body's own budget is watchBody's; this only ends reads
		// that see no byte at all for this long.
		NetworkTimeout: min(s.cfg.Limits.BodyTimeout, s.cfg.Limits.MinRateWindow),
		// tusd logs upload metadata (passwords, file names): keep it quiet.
		Logger: expslog.New(expslog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return fmt.Errorf("tus handler: %w", err)
	}
	s.tus = h
	return nil
}

// tusError is an error answer of the tus endpoint with the API's JSON body.
func tusError(status int, code, message string) tusd.Error {
	return tusLimitError(status, code, message, 0, 0)
}

// tusLimitError is tusError for a limit (wire.Error's Limit and Held).
func tusLimitError(status int, code, message string, limit, held int64) tusd.Error {
	body, _ := json.Marshal(wire.Error{Error: code, Message: message, Limit: limit, Held: held})
	return tusd.Error{
		ErrorCode: code,
		Message:   message,
		HTTPResponse: tusd.HTTPResponse{
			StatusCode: status,
			Body:       string(body),
			Header:     tusd.HTTPHeader{"Content-Type": "application/json"},
		},
	}
}

// tusRetryError is a tusError with a Retry-After.
func tusRetryError(status int, code, message string, wait time.Duration) tusd.Error {
	e := tusError(status, code, message)
	e.HTTPResponse.Header["Retry-After"] = retryAfter(wait)
	return e
}

// checkPassword checks an upload password through the hash pool, with
// lock-outs per client address and per inbox.
func (s *Server) checkPassword(hook tusd.HookEvent, c *community, password string) error {
	now := s.cfg.Now() // the lock-outs' clock, as for DLX answers (tests move it)
	addr := throttleKey(clientOf(hook.Context, hook.HTTPRequest.RemoteAddr))
	inbox := strings.ToLower(c.Code)
	locked := func(wait time.Duration) error {
		return tusRetryError(http.StatusTooManyRequests, "locked",
			"too many wrong upload passwords; try again after Retry-After seconds", wait)
	}
	if wait, ok := s.pwAddr.begin(addr, now); !ok {
		return locked(wait)
	}
	if wait, ok := s.pwInbox.begin(inbox, now); !ok {
		s.pwAddr.undo(addr)
		return locked(wait)
	}
	release, err := s.hashSlot(hook.Context)
	if err != nil {
		s.pwAddr.undo(addr)
		s.pwInbox.undo(inbox)
		return tusRetryError(http.StatusServiceUnavailable, "busy", "too many checks at once, try again shortly", s.cfg.Limits.HashWait)
	}
	ok := c.Password.matches(password)
	release()
	if ok {
		s.pwAddr.undo(addr)
		s.pwInbox.undo(inbox)
		return nil
	}
	e := tusError(http.StatusForbidden, "wrong-password", "missing or wrong upload password")
	if wait := max(s.pwAddr.lockedFor(addr, now), s.pwInbox.lockedFor(inbox, now)); wait > 0 {
		e.HTTPResponse.Header["Retry-After"] = retryAfter(wait)
	}
	return e
}

// checkMetadataSizes applies MetadataKeys and MetadataValueBytes (the
// guard already capped the whole header).
func (s *Server) checkMetadataSizes(meta tusd.MetaData) error {
	lim := &s.cfg.Limits
	if len(meta) > lim.MetadataKeys {
		return tusError(http.StatusRequestEntityTooLarge, "metadata-too-large",
			fmt.Sprintf("at most %d metadata keys", lim.MetadataKeys))
	}
	for _, v := range meta {
		if len(v) > lim.MetadataValueBytes {
			return tusLimitError(http.StatusRequestEntityTooLarge, "metadata-too-large",
				fmt.Sprintf("a metadata value may have at most %d bytes", lim.MetadataValueBytes), int64(lim.MetadataValueBytes), 0)
		}
	}
	return nil
}

// clientAddrOf is clientAddr for a tusd hook's RemoteAddr.
func clientAddrOf(remote string) string {
	return clientAddr(&http.Request{RemoteAddr: remote})
}

// checkNewUpload validates the metadata of an upload before it is created:
// a known community, a SHA-256, the size within the community's limit, the
// password when the community has one.
func (s *Server) checkNewUpload(hook tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
	var none tusd.HTTPResponse
	var keep tusd.FileInfoChanges
	meta := hook.Upload.MetaData
	if err := s.checkMetadataSizes(meta); err != nil {
		return none, keep, err
	}
	c, err := s.store.communityByCode(meta[wire.MetaCommunity])
	if err != nil {
		return none, keep, tusError(http.StatusNotFound, "unknown-community", "no community with this code")
	}
	if !validSHA256(meta[wire.MetaSHA256]) {
		return none, keep, tusError(http.StatusBadRequest, "bad-sha256", "metadata sha256 must be 64 hex digits")
	}
	if hook.Upload.SizeIsDeferred {
		return none, keep, tusError(http.StatusBadRequest, "length-required", "Upload-Length is required")
	}
	if hook.Upload.Size > c.MaxUploadBytes {
		return none, keep, tusLimitError(http.StatusRequestEntityTooLarge, "too-large",
			fmt.Sprintf("this inbox accepts at most %d bytes", c.MaxUploadBytes), c.MaxUploadBytes, 0)
	}
	if c.Password != nil {
		if err := s.checkPassword(hook, c, meta["password"]); err != nil {
			return none, keep, err
		}
	}
	id := newUploadID()
	addr := throttleKey(clientOf(hook.Context, hook.HTTPRequest.RemoteAddr))
	if qe := s.reserveUpload(id, strings.ToLower(c.Code), addr, hook.Upload.Size); qe != nil {
		return none, keep, qe.tus()
	}
	// The password has done its job: do not store it in the .info file.
	changed := tusd.FileInfoChanges{ID: id, MetaData: tusd.MetaData{}}
	for k, v := range meta {
		if k != "password" && k != metaOwner && k != metaClient {
			changed.MetaData[k] = v
		}
	}
	changed.MetaData[wire.MetaCommunity] = c.Code
	changed.MetaData[wire.MetaSHA256] = strings.ToLower(meta[wire.MetaSHA256])
	secret := newUploadSecret()
	changed.MetaData[metaOwner] = secretDigest(secret)
	changed.MetaData[metaClient] = addr
	resp := tusd.HTTPResponse{Header: tusd.HTTPHeader{wire.UploadSecretHeader: secret, "Cache-Control": "no-store"}}
	return resp, changed, nil
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// finishUpload runs when the last byte arrived: verify the SHA-256, then
// file the envelope into the inbox. On a mismatch the upload is deleted
// and the final PATCH fails with 460.
func (s *Server) finishUpload(hook tusd.HookEvent) (tusd.HTTPResponse, error) {
	rec, err := s.fileUpload(hook.Context, hook.Upload)
	if errors.Is(err, errChecksum) {
		return tusd.HTTPResponse{}, tusError(wire.StatusChecksumMismatch, "checksum-mismatch",
			"the SHA-256 of the received data does not match the sha256 metadata; the upload was discarded")
	}
	if err != nil {
		s.cfg.Logger.Error("file upload", "err", err)
		return tusd.HTTPResponse{}, tusError(http.StatusInternalServerError, "internal", "could not file the upload")
	}
	return tusd.HTTPResponse{Header: tusd.HTTPHeader{wire.ReceiptHeader: wire.ReceiptsPath + rec.ID}}, nil
}

var errChecksum = errors.New("checksum mismatch")

// fileUpload verifies a complete upload and links it into the inbox. The
// tus upload stays (finished, resumable HEAD answers) until the sweep
// removes it after AbandonAfter.
func (s *Server) fileUpload(ctx context.Context, info tusd.FileInfo) (*receiptRecord, error) {
	if rec, err := s.store.receipt(info.ID); err == nil {
		return rec, nil // filed before (a restart between filing and answering)
	}
	src := info.Storage["Path"]
	sum, err := fileutil.SHA256(src)
	if err != nil {
		return nil, err
	}
	if sum != info.MetaData[wire.MetaSHA256] {
		if err := s.terminateUpload(ctx, info.ID); err != nil {
			s.cfg.Logger.Error("discard upload", "err", err)
		}
		return nil, errChecksum
	}
	c, err := s.store.communityByCode(info.MetaData[wire.MetaCommunity])
	if err != nil {
		return nil, fmt.Errorf("community of upload: %w", err)
	}
	dst := s.inboxPath(c.Code, info.ID)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return nil, err
	}
	if err := linkOrCopy(src, dst); err != nil {
		return nil, fmt.Errorf("file into inbox: %w", err)
	}
	rec := &receiptRecord{
		Receipt: Receipt{
			ID: info.ID, Community: c.Code, CommunityName: c.Name, Size: info.Size,
			SHA256: sum, ReceivedAt: time.Now().UTC().Truncate(time.Second),
		},
		Filename: info.MetaData[wire.MetaFilename],
	}
	if err := s.store.putReceipt(rec); err != nil {
		return nil, err
	}
	s.ledger.finish(info.ID)
	return rec, nil
}

// linkOrCopy hard-links src to dst (no extra space, no copy time), and
// copies where the file system cannot link.
func linkOrCopy(src, dst string) error {
	os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return fileutil.WriteFunc(dst, 0o600, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// terminateUpload deletes a tus upload through the store.
func (s *Server) terminateUpload(ctx context.Context, id string) error {
	up, err := s.uploads.GetUpload(ctx, id)
	if err != nil {
		return err
	}
	s.ledger.remove(id)
	return s.uploads.AsTerminatableUpload(up).Terminate(ctx)
}

// sweepUploads removes abandoned partial uploads and finished uploads older
// than AbandonAfter, and files finished uploads that a crash left unfiled.
// Each upload is locked first so an active PATCH is never cut.
func (s *Server) sweepUploads(ctx context.Context, now time.Time) {
	dir := filepath.Join(s.cfg.DataDir, uploadsDir)
	infos, _ := filepath.Glob(filepath.Join(dir, "*.info"))
	for _, p := range infos {
		id := strings.TrimSuffix(filepath.Base(p), ".info")
		s.sweepUpload(ctx, id, now)
	}
	s.ledger.dropStale(now)
	s.pwAddr.forget(now)
	s.pwInbox.forget(now)
}

func (s *Server) sweepUpload(ctx context.Context, id string, now time.Time) {
	lock, err := s.locker.NewLock(id)
	if err != nil {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := lock.Lock(lctx, func() {}); err != nil {
		return // busy: an upload is running
	}
	defer lock.Unlock()
	up, err := s.uploads.GetUpload(ctx, id)
	if err != nil {
		return
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		return
	}
	st, err := os.Stat(info.Storage["Path"])
	if err != nil {
		return
	}
	idle := now.Sub(st.ModTime())
	complete := !info.SizeIsDeferred && info.Offset == info.Size
	if complete {
		if _, err := s.store.receipt(id); err != nil {
			if _, err := s.fileUpload(ctx, info); err != nil && !errors.Is(err, errChecksum) {
				s.cfg.Logger.Error("file finished upload", "err", err)
			}
			return
		}
	}
	if idle > s.cfg.AbandonAfter {
		if err := s.uploads.AsTerminatableUpload(up).Terminate(ctx); err != nil {
			s.cfg.Logger.Error("remove abandoned upload", "err", err)
			return
		}
		if !complete {
			s.ledger.remove(id)
		}
		s.cfg.Logger.Info("removed upload", "complete", complete, "idle_hours", int(idle.Hours()))
	}
}
