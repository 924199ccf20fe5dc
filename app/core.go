package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/httpclient"
	"github.com/bildbote/bildbote/transfer/ratelimit"
)

// StateEnv overrides the state directory (tests, portable installs).
const StateEnv = "BILDBOTE_STATE"

// Config says where the core keeps its state and which explicit values the
// caller (a command-line flag) sets. Empty fields take their defaults.
type Config struct {
	// StateDir holds settings.json, the job store and the send spool.
	// Default: $BILDBOTE_STATE, else the user config dir + "/Bildbote".
	StateDir string
	// LibraryDir and PortalURL, when set, override the user's settings
	// (but never the policy).
	LibraryDir string
	PortalURL  string
	// PolicyPath: "" = $BILDBOTE_POLICY, else the OS's policy path.
	PolicyPath string
	// HTTPClient for every request; nil = httpclient.New (its redirect
	// and TLS policies, timeouts) with the proxy below. A client given
	// here keeps its own proxy.
	HTTPClient *http.Client
	// Proxy is an explicit proxy (--proxy; else $BILDBOTE_PROXY): above
	// the user's setting, below a policy's proxy (see Core.Proxy).
	// ProxyUser and ProxyPassword are the proxy's Basic login, memory only.
	Proxy, ProxyUser, ProxyPassword string
	// ProxyPAC is a PAC file's address (--proxy-pac; else
	// $BILDBOTE_PROXY_PAC), ranked like Proxy (see proxydiscovery.go).
	ProxyPAC string
	// CABundle is an extra CA bundle (--ca-bundle; else
	// $BILDBOTE_CA_BUNDLE) and HTTP1Only turns HTTP/2 off (--http1; else
	// $BILDBOTE_HTTP1): above the user's settings, below the policy's
	// ca_bundle and http1_only (see Core.TLS).
	CABundle  string
	HTTP1Only bool
	// MaxParallel bounds the jobs running at once (default 2).
	MaxParallel int
	// Passphrase protects the clinic's key file where no OS keyring is
	// available (env BILDBOTE_KEY_PASSPHRASE, a file, or a prompt).
	Passphrase crypto.Passphrase
	// NoKeyring keeps the clinic key only in the passphrase-protected file
	// in the state dir, never in the OS keyring (also env BILDBOTE_KEYRING=off).
	// The keyring entry is shared by all state dirs of an OS user, so a demo
	// or a second installation sets this to stay away from the real key.
	NoKeyring bool
	// ScryptWorkFactor for new key files (0 = age's default; tests lower it).
	ScryptWorkFactor int
	// RetryInitial is the first wait after a network error (default 1 s,
	// doubling); tests shorten it.
	RetryInitial time.Duration
	// LookupTimeout bounds a look-up a person waits for (default
	// DefaultLookupTimeout): a code's questions, the answers, an inbox.
	LookupTimeout time.Duration
	// GiveUpAfter ends a job's retries after this long without progress
	// (0 = DefaultNetworkWait, 4 h; negative = never). The job then fails
	// with "gave up after …" and stays resumable: a laptop offline for a
	// night resumes with Resume ("jobs resume") when back.
	GiveUpAfter time.Duration
}

// DefaultStateDir is $BILDBOTE_STATE or <user config dir>/Bildbote.
func DefaultStateDir() (string, error) {
	if d := os.Getenv(StateEnv); d != "" {
		return d, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config dir: %w", err)
	}
	return filepath.Join(base, "Bildbote"), nil
}

func defaultLibraryDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return "Bildbote"
	}
	return filepath.Join(home, "Bildbote")
}

// Core is the application: settings, jobs, events and the three flows.
// All methods are safe for concurrent use.
type Core struct {
	cfg      Config
	stateDir string
	client   *http.Client
	db       *bolt.DB
	jobs     *jobStore
	bus      *eventBus

	mu       sync.Mutex
	settings *settingsStore
	running  map[string]*jobRun
	secrets  map[string]string // inbox code → API key, memory only
	sessions map[string]*RedeemSession
	// clinicID is the clinic key once loaded (memory only).
	clinicID  *age.X25519Identity
	clinicLoc crypto.KeyLocation
	// summaries caches inbox manifests by item ID + SHA-256 (memory only).
	summaries map[string]*InboxSummary
	media     map[*dicomscan.Index]*dicomscan.Medium
	sources   map[*dicomscan.Index][]string
	// jobIndexes hands a scanned index to the send job that seals it.
	jobIndexes map[string]*dicomscan.Index
	proxy      atomic.Pointer[proxyChoice]
	login      loginState // the proxy login: proxylogin.go
	tlsNow     atomic.Pointer[tlsChoice]
	// tlsBase is the transport httpclient.New made, under any layer
	// put around c.client later: setTLS switches it in place.
	tlsBase    http.RoundTripper
	bucket     *ratelimit.Bucket
	bucketKbps int

	// pacsTLSFlags are the command line's DICOM TLS files (PACSTLS).
	pacsTLSFlags PACSTLSFiles

	sem      chan struct{}
	ctx      context.Context // cancelled by Close
	stop     context.CancelFunc
	wg       sync.WaitGroup
	closeErr error
	closed   bool
}

// Open loads the policy and settings, opens the job store and marks jobs a
// previous process left running as interrupted (paused, resumable). A
// malformed policy or settings file is an error here, never a silent
// default. Only one process can hold a state dir at a time.
func Open(cfg Config) (*Core, error) {
	stateDir := cfg.StateDir
	if stateDir == "" {
		d, err := DefaultStateDir()
		if err != nil {
			return nil, err
		}
		stateDir = d
	}
	if err := os.MkdirAll(filepath.Join(stateDir, "spool"), 0o700); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	policy, err := LoadPolicy(cfg.PolicyPath)
	if err != nil {
		return nil, err
	}
	var override settingsLayer
	if cfg.PortalURL != "" {
		override.PortalURL = &cfg.PortalURL
	}
	if cfg.LibraryDir != "" {
		override.LibraryDir = &cfg.LibraryDir
	}
	defaults := Settings{LibraryDir: defaultLibraryDir()}
	settings, err := loadSettingsStore(filepath.Join(stateDir, "settings.json"), defaults, override, policy)
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(stateDir, "jobs.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, i18n.NewError(i18n.KindRefused, "app.state-busy", stateDir).WithHint("app.state-busy.hint").Wrap(err)
	}
	if err != nil {
		return nil, fmt.Errorf("open job store: %w", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketJobs, bucketCodes} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open job store: %w", err)
	}
	proxy, err := resolveProxy(cfg, settings)
	if err != nil {
		db.Close()
		return nil, err
	}
	tlsc, err := resolveTLS(cfg, settings, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	if cfg.MaxParallel <= 0 {
		cfg.MaxParallel = 2
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &Core{
		cfg: cfg, stateDir: stateDir, client: cfg.HTTPClient, db: db,
		jobs: &jobStore{db: db}, bus: newEventBus(), settings: settings,
		running: map[string]*jobRun{}, secrets: map[string]string{},
		sessions: map[string]*RedeemSession{}, summaries: map[string]*InboxSummary{}, media: map[*dicomscan.Index]*dicomscan.Medium{},
		sources: map[*dicomscan.Index][]string{}, jobIndexes: map[string]*dicomscan.Index{},
		sem: make(chan struct{}, cfg.MaxParallel), ctx: ctx, stop: stop,
	}
	c.tlsNow.Store(&tlsc)
	if proxy.disc != nil {
		proxy.disc.useTrust(c.currentTLS) // PAC/WPAD fetches: the CA bundle too
	}
	c.proxy.Store(&proxy)
	if c.client == nil {
		c.client = httpclient.New(httpclient.Options{Proxy: c.proxyFunc, TLS: tlsc.tls})
		c.tlsBase = c.client.Transport
		c.installDiscovery() // PAC lists: the next proxy when one refuses (proxydiscovery.go)
	}
	if err := c.markInterrupted(); err != nil {
		db.Close()
		return nil, err
	}
	c.wg.Add(1)
	go c.progressTicker()
	return c, nil
}

// Close pauses running jobs (they stay resumable, marked Interrupted),
// ends every subscription and closes the job store.
func (c *Core) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.closeErr
	}
	c.closed = true
	runs := make([]*jobRun, 0, len(c.running))
	for _, r := range c.running {
		runs = append(runs, r)
	}
	c.mu.Unlock()
	for _, r := range runs {
		r.cancel(errShutdown)
	}
	for _, r := range runs {
		<-r.done
	}
	c.stop()
	c.wg.Wait()
	c.mu.Lock()
	for ix, m := range c.media {
		m.Close()
		delete(c.media, ix)
		delete(c.sources, ix)
	}
	c.mu.Unlock()
	c.bus.closeAll()
	c.closeErr = c.db.Close()
	return c.closeErr
}

// StateDir is the directory the core keeps its state in.
func (c *Core) StateDir() string { return c.stateDir }

// HTTPClient is the client the core uses for every request.
func (c *Core) HTTPClient() *http.Client { return c.client }

// Subscribe returns a subscription to every event from now on. Close it
// when done; Close of the core closes it too.
func (c *Core) Subscribe() *Subscription { return c.bus.subscribe() }

func (c *Core) publish(ev Event) { c.bus.publish(ev) }

// Notify publishes a notification event.
func (c *Core) notify(n Notification) { c.publish(Event{Type: EventNotification, Note: &n}) }

// Settings returns the effective settings (default < user < config < policy).
func (c *Core) Settings() Settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.settings.effective()
}

// Policy returns the loaded policy (Path "" when there is none).
func (c *Core) Policy() *Policy {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.settings.policy
}

// Locked reports whether the policy locks the setting name (see the
// Setting* constants). The GUI shows locked settings read-only.
func (c *Core) Locked(name string) bool { return c.Policy().Locks(name) }

// SaveSettings stores s as the user's settings. Changing a value the policy
// locks fails with an *i18n.UserError (KindRefused) wrapping a *LockedError
// (errors.Is(err, ErrLocked)); nothing is saved then.
func (c *Core) SaveSettings(s Settings) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.settings.save(s); err != nil {
		return err
	}
	if err := c.setTLS(); err != nil {
		return err
	}
	return c.setProxy()
}

// UpdateSettings applies change to the current settings and saves them.
func (c *Core) UpdateSettings(change func(*Settings)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.settings.effective()
	change(&s)
	if err := c.settings.save(s); err != nil {
		return err
	}
	if err := c.setTLS(); err != nil {
		return err
	}
	return c.setProxy()
}

// SetInboxKey keeps a clinic's inbox API key in memory for imports and
// their resumption. It is never written to disk or logged.
func (c *Core) SetInboxKey(inbox, apiKey string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secrets[inbox] = apiKey
}

func (c *Core) inboxKey(inbox string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.secrets[inbox]
}
