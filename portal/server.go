package portal

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/bildbote/bildbote/internal/wire"
)

// Config configures a Server. Zero values take the defaults named.
type Config struct {
	// DataDir holds all state (see the package doc).
	DataDir string
	// PublicURL is the portal's address as patients and clients reach it,
	// e.g. "https://portal.example"; it goes into api_info and code sheets.
	// When set it wins over everything else (see publicurl.go).
	PublicURL string
	// TrustedProxies are the peers whose Forwarded and X-Forwarded-*
	// headers say the public address (when PublicURL is empty) and the
	// client's address (for lock-outs); any other peer's are ignored.
	TrustedProxies []netip.Prefix
	// LocalURL is the address when neither PublicURL nor a trusted proxy
	// says one, e.g. "http://127.0.0.1:8080" (serve: the listen address);
	// empty: the request's own scheme and Host.
	LocalURL string
	// JWTLifetime is how long a DLX session token is valid (10 minutes).
	JWTLifetime time.Duration
	// Retention is how long an expired or revoked code and its files are
	// kept before the sweep deletes them (7 days). During that time the
	// right answers get 403 (expired) instead of 401.
	Retention time.Duration
	// AbandonAfter is how long an unfinished upload may rest before it is
	// deleted, and how long a finished one stays resumable (24 hours).
	AbandonAfter time.Duration
	// SweepInterval is how often expired codes and abandoned uploads are
	// looked for (10 minutes).
	SweepInterval time.Duration
	// PrepareEagerly starts building the ZIPs of a new code as soon as it
	// is issued instead of at the first download.
	PrepareEagerly bool
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// StoreTimeout is how long to wait for the state database's file lock
	// (1 second).
	StoreTimeout time.Duration
	// Limits bound hashing, disk use and slow bodies on the upload side
	// (see Limits).
	Limits Limits
	// Answers bounds the guessing of codes and answers (see AnswerLimits).
	Answers AnswerLimits
	// Now is the clock of lock-outs, the answer budget and code expiry
	// (time.Now); tests set it.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.JWTLifetime <= 0 {
		c.JWTLifetime = 10 * time.Minute
	}
	if c.Retention <= 0 {
		c.Retention = 7 * 24 * time.Hour
	}
	if c.AbandonAfter <= 0 {
		c.AbandonAfter = 24 * time.Hour
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 10 * time.Minute
	}
	if c.StoreTimeout <= 0 {
		c.StoreTimeout = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	c.LocalURL = strings.TrimSuffix(c.LocalURL, "/")
	c.Limits.setDefaults()
	c.Answers.setDefaults()
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Server is the portal: DLX download API, community inboxes with tus
// uploads, and the admin socket. It owns the data dir's database while it
// runs.
type Server struct {
	cfg     Config
	store   *Store
	tus     *tusd.Handler
	uploads filestore.FileStore
	locker  tusLocker
	prep    *preparer
	guard   *answerGuard // lock-outs and budget of answer checks (lockout.go)
	// hashSlots bounds parallel password hashes, answers and upload
	// passwords alike (argon2id uses 19 MiB each); see hashSlot.
	hashSlots chan struct{}
	handler   http.Handler
	// uploadGuard: quotas and upload-password lock-outs (uploadguard.go).
	uploadGuard

	mu           sync.Mutex
	adminSrv     *http.Server
	adminCleanup func()
	stopSweeper  context.CancelFunc
	sweepDone    chan struct{}
}

// New opens the data dir and builds the server. It fails with ErrLocked
// when another server holds the data dir.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	store, err := OpenStore(cfg.DataDir, cfg.StoreTimeout)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: store, hashSlots: make(chan struct{}, cfg.Limits.HashSlots)}
	s.uploadGuard = newUploadGuard(&cfg.Limits)
	s.guard = newAnswerGuard(cfg.Answers)
	s.prep = newPreparer(s)
	removeUnfinishedBuilds(cfg.DataDir)
	s.removeStoredSheets()
	if err := s.setupUploads(); err != nil {
		store.Close()
		return nil, err
	}
	s.handler = s.withOrigin(s.logRequests(s.routes()))
	return s, nil
}

// Handler is the portal's public HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the server's state (for the admin socket and tests).
func (s *Server) Store() *Store { return s.store }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// DLX v1 (download side).
	mux.HandleFunc("GET /dlx/v1/api_info", s.handleAPIInfo)
	mux.HandleFunc("GET /dlx/v1/token/{value}", s.handleToken)
	mux.HandleFunc("POST /dlx/v1/tokentfa/{value}", s.handleTokenTFA)
	mux.HandleFunc("GET /dlx/v1/list", s.handleList)
	mux.HandleFunc("GET /dlx/v1/download/{id}", s.handleDownload)
	mux.HandleFunc("GET /dlx/v1/downloadall", s.handleDownloadAll)
	mux.HandleFunc("GET /c", s.handleCodeURL)
	// Community inboxes (upload side).
	mux.HandleFunc("GET "+wire.CommunitiesPath+"/{code}", s.handleCommunity)
	mux.HandleFunc("GET "+wire.CommunitiesPath, s.handleCommunitySearch)
	mux.Handle(wire.UploadsPath, http.StripPrefix(wire.UploadsPath, s.guardUploads(s.publicTus(s.tus))))
	mux.HandleFunc("GET "+wire.ReceiptsPath+"{id}", s.handleReceipt)
	mux.HandleFunc("GET "+wire.InboxPath+"{code}", s.handleInboxList)
	mux.HandleFunc("GET "+wire.InboxPath+"{code}/{id}", s.handleInboxGet)
	mux.HandleFunc("DELETE "+wire.InboxPath+"{code}/{id}", s.handleInboxDelete)
	mux.HandleFunc("GET "+wire.HealthPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

// Start runs the background work: the sweeper (expired codes, abandoned
// uploads) and, with PrepareEagerly, ZIPs that are still missing.
func (s *Server) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.stopSweeper = cancel
	s.sweepDone = make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(s.sweepDone)
		s.sweepLoop(ctx)
	}()
	if s.cfg.PrepareEagerly {
		s.prepareAllMissing()
	}
}

// Close stops background work, the admin socket and closes the store.
// In-flight HTTP requests are the caller's http.Server's business.
func (s *Server) Close() error {
	s.mu.Lock()
	stop, done, admin, adminCleanup := s.stopSweeper, s.sweepDone, s.adminSrv, s.adminCleanup
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	if admin != nil {
		admin.Close()
		adminCleanup()
	}
	s.prep.stop()
	return s.store.Close()
}

// --- JSON helpers ---

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers with the API's error body (wire.Error). A refusal
// for a limit (writeLimitError) names it in bytes and, for a quota, what
// is held against it already, so a client can say it in its reader's
// language.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, wire.Error{Error: code, Message: message})
}

// writeLimitError is writeError for a limit: limit and held in bytes.
func writeLimitError(w http.ResponseWriter, status int, code, message string, limit, held int64) {
	writeJSON(w, status, wire.Error{Error: code, Message: message, Limit: limit, Held: held})
}

// --- request log ---

// statusWriter remembers the status and size of a response. Unwrap lets
// http.ResponseController (used by tusd) reach the real writer.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// logRequests writes one line per request. It logs the route pattern,
// never the raw path or query: those carry access codes, tokens and IDs.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "(unmatched)"
		}
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.cfg.Logger.Info("request",
			"method", r.Method,
			"route", route,
			"status", sw.status,
			"bytes", sw.bytes,
			"ms", time.Since(start).Milliseconds(),
			"client", clientAddr(r))
	})
}

// clientAddr is the TCP peer's IP address (no port), as logged; lock-outs
// and quotas use requestClient, which believes a trusted proxy's for=.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// --- throttling of wrong answers per client address ---

// throttleKey is the unit a lock-out applies to: an IPv4 address, or the
// /64 network of an IPv6 address (one host can use a whole /64).
func throttleKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil || ip.To4() != nil {
		return addr
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
