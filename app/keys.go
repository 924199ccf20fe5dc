package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/i18n"
)

// KeyInfo describes the clinic's key: the public half to give to the
// portal (community add) and its fingerprint to read out by phone.
type KeyInfo struct {
	Recipient   string `json:"recipient"`
	Fingerprint string `json:"fingerprint"`
	// Backend is "keyring" or "file"; Path is the key file for "file".
	Backend string `json:"backend"`
	Path    string `json:"path,omitempty"`
	// Created is true when this call made the key.
	Created bool `json:"created,omitempty"`
}

// KeyringEnv set to "off" keeps the clinic key out of the OS keyring
// (same as Config.NoKeyring).
const KeyringEnv = "BILDBOTE_KEYRING"

// keyringOff reports whether the OS keyring must not be used.
func (c *Core) keyringOff() bool {
	return c.cfg.NoKeyring || strings.EqualFold(os.Getenv(KeyringEnv), "off")
}

// keyStore is the clinic's private key: OS keyring, or a passphrase-
// protected file in the state dir. The keyring entry (service "Bildbote",
// account "clinic") belongs to the OS user, not to the state dir: every
// state dir of that user shares it unless the keyring is switched off.
func (c *Core) keyStore() *crypto.KeyStore {
	return &crypto.KeyStore{
		Account:          "clinic",
		File:             filepath.Join(c.stateDir, "keys", "clinic.age"),
		Passphrase:       c.cfg.Passphrase,
		ScryptWorkFactor: c.cfg.ScryptWorkFactor,
		FileOnly:         c.keyringOff(),
	}
}

func keyInfo(id *age.X25519Identity, loc crypto.KeyLocation, created bool) *KeyInfo {
	r := id.Recipient().String()
	return &KeyInfo{Recipient: r, Fingerprint: crypto.Fingerprint(r), Backend: string(loc.Backend), Path: loc.Path, Created: created}
}

// InitClinicKey creates the clinic's key unless one exists, and describes it.
func (c *Core) InitClinicKey() (*KeyInfo, error) {
	if id, loc, err := c.clinicIdentity(); err == nil {
		return keyInfo(id, loc, false), nil
	} else if !errors.Is(err, crypto.ErrNoKey) {
		return nil, err // e.g. a wrong passphrase: never replace the key
	}
	id, loc, created, err := c.keyStore().LoadOrCreate()
	if err != nil {
		return nil, err
	}
	c.rememberClinicKey(id, loc)
	return keyInfo(id, loc, created), nil
}

// ClinicKey describes the clinic's key; a KeyInput UserError when there is none.
func (c *Core) ClinicKey() (*KeyInfo, error) {
	id, loc, err := c.clinicIdentity()
	if err != nil {
		return nil, err
	}
	return keyInfo(id, loc, false), nil
}

// clinicIdentity loads the clinic key once per process and keeps it in
// memory: a key file's passphrase is asked once, not at every inbox
// refresh (whose summaries need the key) and again for the import.
func (c *Core) clinicIdentity() (*age.X25519Identity, crypto.KeyLocation, error) {
	c.mu.Lock()
	id, loc := c.clinicID, c.clinicLoc
	c.mu.Unlock()
	if id != nil {
		return id, loc, nil
	}
	id, loc, err := c.keyStore().Load()
	if errors.Is(err, crypto.ErrNoKey) {
		return nil, loc, i18n.NewError(i18n.KindInput, "app.key-missing").WithHint("app.key-missing.hint").Wrap(err)
	}
	if err == nil {
		c.rememberClinicKey(id, loc)
	}
	return id, loc, err
}

func (c *Core) rememberClinicKey(id *age.X25519Identity, loc crypto.KeyLocation) {
	c.mu.Lock()
	c.clinicID, c.clinicLoc = id, loc
	c.mu.Unlock()
}

// ImportClinicKey reads an age identity file (the output of age-keygen:
// comment lines and one AGE-SECRET-KEY-1… line) and stores it as the
// clinic's key. Importing the key already stored is a no-op; a different
// stored key is kept (KindRefused) unless force, since replacing it makes
// every envelope sealed to the old key unreadable.
func (c *Core) ImportClinicKey(path string, force bool) (*KeyInfo, error) {
	id, err := readIdentityFile(path)
	if err != nil {
		return nil, err
	}
	ks := c.keyStore()
	old, loc, err := ks.Load()
	switch {
	case err == nil && old.String() == id.String():
		return keyInfo(old, loc, false), nil
	case err == nil && !force:
		r := old.Recipient().String()
		return nil, i18n.NewError(i18n.KindRefused, "app.key-import-different", crypto.Fingerprint(r)).WithHint("app.key-import-different.hint")
	case err != nil && !errors.Is(err, crypto.ErrNoKey) && !force:
		return nil, err
	}
	loc, err = ks.Save(id)
	if err != nil {
		return nil, fmt.Errorf("store the imported key: %w", err)
	}
	c.rememberClinicKey(id, loc)
	return keyInfo(id, loc, true), nil
}

// readIdentityFile parses exactly one X25519 identity from an age key file.
func readIdentityFile(path string) (*age.X25519Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, i18n.NewError(i18n.KindInput, "app.key-import-unreadable", path).Wrap(err)
	}
	ids, err := age.ParseIdentities(strings.NewReader(string(data)))
	if err != nil || len(ids) != 1 {
		if err == nil {
			err = fmt.Errorf("%d identities, want 1", len(ids))
		}
		return nil, i18n.NewError(i18n.KindInput, "app.key-import-invalid", path).WithHint("app.key-import-invalid.hint").Wrap(err)
	}
	id, ok := ids[0].(*age.X25519Identity)
	if !ok {
		return nil, i18n.NewError(i18n.KindInput, "app.key-import-invalid", path).WithHint("app.key-import-invalid.hint")
	}
	return id, nil
}
