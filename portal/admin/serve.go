package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/portal"
)

// publicURLFile remembers the last --public-url of serve, so code sheets
// printed later carry the right address.
const publicURLFile = "public-url.txt"

func (e *env) serve(args []string) error {
	f := e.newFlags("serve")
	data := f.dataDir()
	listen := f.String("listen", "127.0.0.1:8080", "address to listen on")
	certFile := f.String("tls-cert", "", "TLS certificate (PEM)")
	keyFile := f.String("tls-key", "", "TLS private key (PEM)")
	publicURL := f.String("public-url", "", "the portal's address as patients reach it")
	cfg := portal.Config{PrepareEagerly: true}
	f.Var(durationFlag{&cfg.JWTLifetime}, "jwt-lifetime", "lifetime of DLX session tokens (default 10m)")
	f.Var(durationFlag{&cfg.Retention}, "retention", "keep expired codes this long before deleting (default 7d)")
	f.Var(durationFlag{&cfg.AbandonAfter}, "abandon-after", "delete unfinished uploads idle this long (default 24h)")
	f.Var(durationFlag{&cfg.SweepInterval}, "sweep-interval", "how often to look for expired data (default 10m)")
	limitFlags(f, &cfg.Limits)
	f.Float64Var(&cfg.Answers.Rate, "answer-rate", 0, "answer checks per second over all clients (default 2; negative: no budget)")
	f.IntVar(&cfg.Answers.Burst, "answer-burst", 0, "answer checks at once beyond the rate (default 40)")
	if _, err := f.parseData(args, data); err != nil {
		return err
	}
	useTLS := *certFile != "" || *keyFile != ""
	if useTLS && (*certFile == "" || *keyFile == "") {
		fmt.Fprintln(e.stderr, i18n.T(e.lang, "portal.usage.tls_pair"))
		return errUsage
	}
	if !useTLS && !isLoopback(*listen) {
		return i18n.NewError(i18n.KindRefused, "portal.err.plain_http", *listen).WithHint("portal.hint.plain_http")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return e.serveUntil(ctx, serveOptions{
		cfg: cfg, data: *data, listen: *listen, certFile: *certFile, keyFile: *keyFile, publicURL: *publicURL,
	}, nil)
}

type serveOptions struct {
	cfg                                        portal.Config
	data, listen, certFile, keyFile, publicURL string
}

// serveUntil runs the portal until ctx ends, then shuts down gracefully:
// no new connections, running requests get 30 seconds, then the database
// is closed. ready, when set, is told the public URL once requests are
// accepted.
func (e *env) serveUntil(ctx context.Context, o serveOptions, ready func(url string)) error {
	useTLS := o.certFile != ""
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))
	if !useTLS {
		log.Warn(i18n.T(i18n.EN, "portal.warn.plain_http"))
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	cfg := o.cfg
	cfg.DataDir = o.data
	cfg.PublicURL = o.publicURL
	if cfg.PublicURL == "" {
		cfg.PublicURL = scheme + "://" + ln.Addr().String()
	}
	cfg.Logger = log
	cfg.StoreTimeout = 10 * time.Second
	srv, err := portal.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	os.WriteFile(filepath.Join(o.data, publicURLFile), []byte(cfg.PublicURL+"\n"), 0o600)
	if err := srv.ListenAdmin(); err != nil {
		return err
	}
	srv.Start()

	// Headers stay small (the upload metadata is capped at a few KiB).
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	errc := make(chan error, 1)
	go func() {
		if useTLS {
			errc <- hs.ServeTLS(ln, o.certFile, o.keyFile)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	log.Info("listening", "addr", ln.Addr().String(), "url", cfg.PublicURL, "tls", useTLS)
	if ready != nil {
		ready(cfg.PublicURL)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// isLoopback reports whether a listen address binds only the loopback
// interface (an empty host binds all interfaces).
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// publicURL returns the address for code sheets: the flag, else what the
// last serve used, else the default listen address.
func publicURL(dataDir, flagValue string) string {
	if flagValue != "" {
		return strings.TrimSuffix(flagValue, "/")
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, publicURLFile)); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s
		}
	}
	return "http://127.0.0.1:8080"
}
