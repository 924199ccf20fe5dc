package app

import (
	"errors"
	"path/filepath"

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

// keyStore is the clinic's private key: OS keyring, or a passphrase-
// protected file in the state dir.
func (c *Core) keyStore() *crypto.KeyStore {
	return &crypto.KeyStore{
		Account:          "clinic",
		File:             filepath.Join(c.stateDir, "keys", "clinic.age"),
		Passphrase:       c.cfg.Passphrase,
		ScryptWorkFactor: c.cfg.ScryptWorkFactor,
	}
}

func keyInfo(id *age.X25519Identity, loc crypto.KeyLocation, created bool) *KeyInfo {
	r := id.Recipient().String()
	return &KeyInfo{Recipient: r, Fingerprint: crypto.Fingerprint(r), Backend: string(loc.Backend), Path: loc.Path, Created: created}
}

// InitClinicKey creates the clinic's key unless one exists, and describes it.
func (c *Core) InitClinicKey() (*KeyInfo, error) {
	id, loc, created, err := c.keyStore().LoadOrCreate()
	if err != nil {
		return nil, err
	}
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

func (c *Core) clinicIdentity() (*age.X25519Identity, crypto.KeyLocation, error) {
	id, loc, err := c.keyStore().Load()
	if errors.Is(err, crypto.ErrNoKey) {
		return nil, loc, i18n.NewError(i18n.KindInput, "app.key-missing").WithHint("app.key-missing.hint").Wrap(err)
	}
	return id, loc, err
}
