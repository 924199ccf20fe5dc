package app

import (
	"errors"

	"github.com/bildbote/bildbote/crypto"
)

// KeyStatus is whether a clinic key is installed, learnt without asking
// for a passphrase (the settings screen reads it when it opens).
type KeyStatus struct {
	// Installed is true when a key exists in the keyring or a key file.
	Installed bool
	// Info describes the key when it could be read without a prompt (a
	// keyring entry, a key already loaded, a passphrase from the
	// environment or a file); nil for a key file that needs the
	// passphrase typed: Path then names the file.
	Info *KeyInfo
	Path string
}

// ClinicKeyStatus says whether this computer has the clinic key. It never
// prompts for a passphrase and never creates a key.
func (c *Core) ClinicKeyStatus() KeyStatus {
	c.mu.Lock()
	id, loc := c.clinicID, c.clinicLoc
	c.mu.Unlock()
	if id != nil {
		return KeyStatus{Installed: true, Info: keyInfo(id, loc, false)}
	}
	ks := c.keyStore()
	ks.Passphrase.Prompt = nil // not here: only when the key is used
	id, loc, err := ks.Load()
	switch {
	case err == nil:
		c.rememberClinicKey(id, loc)
		return KeyStatus{Installed: true, Info: keyInfo(id, loc, false)}
	case errors.Is(err, crypto.ErrNoKey):
		return KeyStatus{}
	case loc.Path != "":
		return KeyStatus{Installed: true, Path: loc.Path} // locked by its passphrase
	}
	return KeyStatus{}
}

// Overridden reports whether a start option (Config.PortalURL, the GUI's
// and CLI's -portal; Config.LibraryDir) sets the setting name for this
// process: the user's value is saved but not used until a start without
// it. The GUI shows such a setting read-only, saying so.
func (c *Core) Overridden(name string) bool {
	if c.Locked(name) {
		return false // the policy's note says more
	}
	switch name {
	case SettingPortalURL:
		return c.cfg.PortalURL != ""
	case SettingLibraryDir:
		return c.cfg.LibraryDir != ""
	}
	return false
}
