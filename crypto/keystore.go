package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/bildbote/bildbote/internal/fileutil"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/zalando/go-keyring"
)

// KeyringService is the service name of Bildbote's entries in the OS keyring.
const KeyringService = "Bildbote"

// PassphraseEnv names the environment variable read for unattended use of
// a key file (a service, a scheduled import).
const PassphraseEnv = "BILDBOTE_KEY_PASSPHRASE"

// keyringSecretLimit is the smallest cap of a supported keyring (Windows
// Credential Manager: 2560 bytes). An X25519 identity is 74 bytes.
const keyringSecretLimit = 2560

// Backend says where a private key lives.
type Backend string

const (
	// BackendKeyring: the OS keyring (Secret Service, Keychain, Credential Manager).
	BackendKeyring Backend = "keyring"
	// BackendFile: an age passphrase-encrypted (scrypt) file, used where no
	// keyring is available (headless Linux without Secret Service).
	BackendFile Backend = "file"
)

// KeyLocation says which backend holds a key, and the file for BackendFile.
type KeyLocation struct {
	Backend Backend
	Path    string // key file, for BackendFile
}

// Message tells a person where the key is kept.
func (l KeyLocation) Message(lang i18n.Lang) string {
	if l.Backend == BackendKeyring {
		return i18n.T(lang, "crypto.key.in_keyring", KeyringService)
	}
	return i18n.T(lang, "crypto.key.in_file", l.Path)
}

// ErrNoKey is returned by Load when neither backend holds a key.
var ErrNoKey = errors.New("no private key stored")

// Passphrase says where a key file's passphrase comes from, in this order:
// the environment variable BILDBOTE_KEY_PASSPHRASE, the file File (first
// line), Prompt (an interactive question). Never the command line: argv is
// visible to every user of the machine.
type Passphrase struct {
	File   string
	Prompt func() (string, error)
}

// Get returns the passphrase or a *i18n.UserError when there is none.
func (p Passphrase) Get() (string, error) {
	if v := os.Getenv(PassphraseEnv); v != "" {
		return v, nil
	}
	if p.File != "" {
		data, err := os.ReadFile(p.File)
		if err != nil {
			return "", i18n.NewError(i18n.KindInput, "crypto.passphrase.file_unreadable", p.File).Wrap(err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		line = strings.TrimRight(line, "\r")
		if line == "" {
			return "", i18n.NewError(i18n.KindInput, "crypto.passphrase.file_empty", p.File)
		}
		return line, nil
	}
	if p.Prompt != nil {
		v, err := p.Prompt()
		if err != nil {
			return "", fmt.Errorf("read passphrase: %w", err)
		}
		if v == "" {
			return "", i18n.NewError(i18n.KindInput, "crypto.passphrase.empty")
		}
		return v, nil
	}
	return "", i18n.NewError(i18n.KindInput, "crypto.passphrase.missing").WithHint("crypto.passphrase.missing.hint")
}

// KeyStore keeps one private age identity, in the OS keyring when one is
// available, else in a passphrase-encrypted file.
type KeyStore struct {
	// Account is the keyring entry's user name, e.g. "identity" or
	// "community/bM1X". Required.
	Account string
	// File is the fallback key file; DefaultKeyFile(Account) when empty.
	File string
	// Passphrase protects the key file.
	Passphrase Passphrase
	// ScryptWorkFactor is log2 of scrypt's N for new key files (0 = age's
	// default, 18). Tests lower it.
	ScryptWorkFactor int
	// FileOnly never touches the OS keyring: the key lives only in File.
	// Keyring entries are per user and Account, not per File, so two
	// stores with the same Account share one keyring entry; a demo or a
	// test that must not read or write the user's real key sets this.
	FileOnly bool
}

// DefaultKeyFile is the key file for account under the user config dir:
// <config>/Bildbote/keys/<account>.age ("/" in account becomes "_").
func DefaultKeyFile(account string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("user config dir: %w", err)
	}
	name := strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(account)
	return filepath.Join(dir, "Bildbote", "keys", name+".age"), nil
}

func (s *KeyStore) file() (string, error) {
	if s.File != "" {
		return s.File, nil
	}
	return DefaultKeyFile(s.Account)
}

// Load returns the stored identity and where it was found, or ErrNoKey.
// The keyring is asked first; a key file is used when the keyring has no
// entry or is unavailable.
func (s *KeyStore) Load() (*age.X25519Identity, KeyLocation, error) {
	if s.Account == "" {
		return nil, KeyLocation{}, errors.New("key store: no account")
	}
	if secret, err := s.keyringGet(); err == nil {
		id, perr := age.ParseX25519Identity(strings.TrimSpace(secret))
		if perr != nil {
			return nil, KeyLocation{}, fmt.Errorf("key in keyring (%s/%s): %w", KeyringService, s.Account, perr)
		}
		return id, KeyLocation{Backend: BackendKeyring}, nil
	}
	path, ferr := s.file()
	if ferr != nil {
		return nil, KeyLocation{}, ferr
	}
	if _, serr := os.Stat(path); serr != nil {
		if errors.Is(serr, os.ErrNotExist) {
			return nil, KeyLocation{}, ErrNoKey
		}
		return nil, KeyLocation{}, fmt.Errorf("key file: %w", serr)
	}
	id, err := s.readFile(path)
	return id, KeyLocation{Backend: BackendFile, Path: path}, err
}

// Save stores id: in the keyring when it accepts the secret, otherwise in
// the key file (encrypted with the passphrase).
func (s *KeyStore) Save(id *age.X25519Identity) (KeyLocation, error) {
	if s.Account == "" {
		return KeyLocation{}, errors.New("key store: no account")
	}
	secret := id.String()
	if !s.FileOnly && len(secret) <= keyringSecretLimit {
		if err := keyring.Set(KeyringService, s.Account, secret); err == nil {
			return KeyLocation{Backend: BackendKeyring}, nil
		}
		// No usable keyring (no Secret Service, locked, denied): fall back.
	}
	path, err := s.file()
	if err != nil {
		return KeyLocation{}, err
	}
	if err := s.writeFile(path, id); err != nil {
		return KeyLocation{}, err
	}
	return KeyLocation{Backend: BackendFile, Path: path}, nil
}

// LoadOrCreate loads the identity, creating and saving a new one when none
// is stored. created reports a new key (its fingerprint must be shown).
func (s *KeyStore) LoadOrCreate() (id *age.X25519Identity, loc KeyLocation, created bool, err error) {
	id, loc, err = s.Load()
	if err == nil || !errors.Is(err, ErrNoKey) {
		return id, loc, false, err
	}
	id, err = GenerateIdentity()
	if err != nil {
		return nil, KeyLocation{}, false, err
	}
	loc, err = s.Save(id)
	return id, loc, err == nil, err
}

// Delete removes the key from the keyring and the key file.
func (s *KeyStore) Delete() error {
	kerr := keyring.ErrNotFound
	if !s.FileOnly {
		kerr = keyring.Delete(KeyringService, s.Account)
	}
	path, err := s.file()
	if err != nil {
		return err
	}
	ferr := os.Remove(path)
	if ferr != nil && !errors.Is(ferr, os.ErrNotExist) {
		return fmt.Errorf("remove key file: %w", ferr)
	}
	if kerr != nil && errors.Is(ferr, os.ErrNotExist) && errors.Is(kerr, keyring.ErrNotFound) {
		return ErrNoKey
	}
	return nil
}

// keyringGet reads the keyring entry; keyring.ErrNotFound when FileOnly.
func (s *KeyStore) keyringGet() (string, error) {
	if s.FileOnly {
		return "", keyring.ErrNotFound
	}
	return keyring.Get(KeyringService, s.Account)
}

func (s *KeyStore) readFile(path string) (*age.X25519Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	pass, err := s.Passphrase.Get()
	if err != nil {
		return nil, err
	}
	sid, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(bytes.NewReader(data), sid)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) || errors.Is(err, age.ErrIncorrectIdentity) {
			return nil, i18n.NewError(i18n.KindInput, "crypto.passphrase.wrong", path).Wrap(err)
		}
		return nil, fmt.Errorf("decrypt key file %s: %w", path, err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return nil, fmt.Errorf("decrypt key file %s: %w", path, err)
	}
	id, err := age.ParseX25519Identity(strings.TrimSpace(string(plain)))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return id, nil
}

func (s *KeyStore) writeFile(path string, id *age.X25519Identity) error {
	pass, err := s.Passphrase.Get()
	if err != nil {
		return err
	}
	rcp, err := age.NewScryptRecipient(pass)
	if err != nil {
		return err
	}
	if s.ScryptWorkFactor > 0 {
		rcp.SetWorkFactor(s.ScryptWorkFactor)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rcp)
	if err != nil {
		return err
	}
	io.WriteString(w, id.String()+"\n")
	if err := w.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("key dir: %w", err)
	}
	return fileutil.WriteFile(path, buf.Bytes(), 0o600)
}
