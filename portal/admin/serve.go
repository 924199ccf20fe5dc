package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
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
	trustedProxies := f.String("trusted-proxies", "", "CIDRs of reverse proxies whose Forwarded / X-Forwarded-* headers give the public address (e.g. 127.0.0.1/32,::1/128)")
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
	pub, proxies, err := checkAddressFlags(*listen, *publicURL, *trustedProxies)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return e.serveUntil(ctx, serveOptions{
		cfg: cfg, data: *data, listen: *listen, certFile: *certFile, keyFile: *keyFile, publicURL: pub, proxies: proxies,
	}, nil)
}

type serveOptions struct {
	cfg                                        portal.Config
	data, listen, certFile, keyFile, publicURL string
	proxies                                    []netip.Prefix
}

// checkAddressFlags checks --public-url and --trusted-proxies. Off
// loopback one of them is required: the listen address (0.0.0.0:443) is
// no address a patient or a client can use, and behind a load balancer
// only the proxy knows the public one.
func checkAddressFlags(listen, publicURL, trustedProxies string) (string, []netip.Prefix, error) {
	var pub string
	if publicURL != "" {
		u, err := portal.CheckPublicURL(publicURL)
		if err != nil {
			return "", nil, i18n.NewError(i18n.KindInput, "portalproxy.err.public_url", publicURL).WithHint("portalproxy.hint.public_url").Wrap(err)
		}
		pub = u
	}
	var proxies []netip.Prefix
	if trustedProxies != "" {
		p, err := portal.ParseTrustedProxies(trustedProxies)
		if err != nil {
			return "", nil, i18n.NewError(i18n.KindInput, "portalproxy.err.trusted_proxies", err.Error()).WithHint("portalproxy.hint.trusted_proxies").Wrap(err)
		}
		proxies = p
	}
	if pub == "" && proxies == nil && !isLoopback(listen) {
		return "", nil, i18n.NewError(i18n.KindRefused, "portalproxy.err.no_public_url", listen).WithHint("portalproxy.hint.no_public_url")
	}
	return pub, proxies, nil
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
	cfg.TrustedProxies = o.proxies
	cfg.LocalURL = portal.ListenURL(scheme, ln.Addr())
	// What code sheets print (publicURL): the public URL, else the listen
	// address; behind trusted proxies without one nothing (code issue
	// then asks for --public-url).
	sheetURL := cfg.PublicURL
	if sheetURL == "" && cfg.TrustedProxies == nil {
		sheetURL = cfg.LocalURL
	}
	readyURL := cfg.PublicURL
	if readyURL == "" {
		readyURL = cfg.LocalURL
	}
	cfg.Logger = log
	cfg.StoreTimeout = 10 * time.Second
	srv, err := portal.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	os.WriteFile(filepath.Join(o.data, publicURLFile), []byte(sheetURL+"\n"), 0o600)
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
	log.Info("listening", "addr", ln.Addr().String(), "url", readyURL, "tls", useTLS, "trustedProxies", len(cfg.TrustedProxies))
	if ready != nil {
		ready(readyURL)
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

// publicURL returns the address for code sheets: the flag (checked as
// serve checks it), else what the last serve used, else the default
// listen address. A serve behind trusted proxies without --public-url
// left an empty file: the sheet then needs the flag.
func publicURL(dataDir, flagValue string) (string, error) {
	if flagValue != "" {
		u, err := portal.CheckPublicURL(flagValue)
		if err != nil {
			return "", i18n.NewError(i18n.KindInput, "portalproxy.err.public_url", flagValue).WithHint("portalproxy.hint.public_url").Wrap(err)
		}
		return u, nil
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, publicURLFile)); err == nil {
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", i18n.NewError(i18n.KindInput, "portalproxy.err.sheet_url").WithHint("portalproxy.hint.sheet_url")
		}
		return s, nil
	}
	return "http://127.0.0.1:8080", nil
}
