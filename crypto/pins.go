package crypto

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/bildbote/bildbote/internal/fileutil"
	"github.com/bildbote/bildbote/internal/i18n"
)

// KeyChangedError: a community presents a key other than the one pinned.
// Sending is refused; only a person who checked the new fingerprint with
// the clinic (by phone) may Forget the old pin, and a policy pin can only
// be changed by the clinic's IT.
type KeyChangedError struct {
	Community string
	Pinned    string // fingerprint as pinned
	Got       string // fingerprint now presented
	Policy    bool   // the pin comes from the policy file
}

func (e *KeyChangedError) Error() string {
	return fmt.Sprintf("the key of community %s changed: pinned %s, got %s", e.Community, e.Pinned, e.Got)
}

// Unwrap gives the translated user error, so i18n.AsUserError finds it.
func (e *KeyChangedError) Unwrap() error {
	hint := "crypto.pin.changed.hint"
	if e.Policy {
		hint = "crypto.pin.changed.policy_hint"
	}
	return i18n.NewError(i18n.KindRefused, "crypto.pin.changed", e.Community, e.Pinned, e.Got).WithHint(hint)
}

// PinStorage persists learnt pins (community code → fingerprint).
type PinStorage interface {
	LoadPins() (map[string]string, error)
	SavePins(map[string]string) error
}

// PinFile is a PinStorage in a JSON file {"bM1X": "FINGERPRINT", ...}.
type PinFile string

// LoadPins reads the file; a missing file is no pins.
func (f PinFile) LoadPins() (map[string]string, error) {
	data, err := os.ReadFile(string(f))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pins: %w", err)
	}
	pins := map[string]string{}
	if err := json.Unmarshal(data, &pins); err != nil {
		return nil, fmt.Errorf("pins file %s: %w", string(f), err)
	}
	return pins, nil
}

// SavePins writes the file atomically.
func (f PinFile) SavePins(pins map[string]string) error {
	data, err := json.MarshalIndent(pins, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(string(f)), 0o700); err != nil {
		return err
	}
	return fileutil.WriteFile(string(f), append(data, '\n'), 0o600)
}

// PinStore pins community keys: trust on first use, refuse on change.
// Pins from the policy file take precedence over learnt ones and are
// never written or forgotten.
type PinStore struct {
	mu      sync.Mutex
	storage PinStorage
	policy  map[string]string
}

// NewPinStore returns a store persisting learnt pins in storage (nil: in
// memory only), with the policy's pinned_keys (may be nil).
func NewPinStore(storage PinStorage, policy map[string]string) *PinStore {
	if storage == nil {
		storage = &memoryPins{pins: map[string]string{}}
	}
	return &PinStore{storage: storage, policy: policy}
}

type memoryPins struct{ pins map[string]string }

func (m *memoryPins) LoadPins() (map[string]string, error) {
	out := make(map[string]string, len(m.pins))
	for k, v := range m.pins {
		out[k] = v
	}
	return out, nil
}

func (m *memoryPins) SavePins(pins map[string]string) error {
	m.pins = pins
	return nil
}

func (p *PinStore) load() (map[string]string, error) { return p.storage.LoadPins() }

// Pinned returns the fingerprint pinned for community, and whether it
// comes from the policy.
func (p *PinStore) Pinned(community string) (fingerprint string, policy bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if fp, ok := p.policy[community]; ok {
		return fp, true, nil
	}
	pins, err := p.load()
	if err != nil {
		return "", false, err
	}
	return pins[community], false, nil
}

// Check compares the community's recipients with its pin. With no pin it
// pins them (trust on first use) and returns firstUse true: the caller
// shows the fingerprint once. On a change it returns *KeyChangedError.
func (p *PinStore) Check(community string, recipients []string) (firstUse bool, err error) {
	if len(recipients) == 0 {
		return false, fmt.Errorf("community %s: no recipients", community)
	}
	got := CommunityFingerprint(recipients)
	p.mu.Lock()
	defer p.mu.Unlock()
	if fp, ok := p.policy[community]; ok {
		if !FingerprintsEqual(fp, got) {
			return false, &KeyChangedError{Community: community, Pinned: fp, Got: got, Policy: true}
		}
		return false, nil
	}
	pins, err := p.load()
	if err != nil {
		return false, err
	}
	if fp, ok := pins[community]; ok {
		if !FingerprintsEqual(fp, got) {
			return false, &KeyChangedError{Community: community, Pinned: fp, Got: got}
		}
		return false, nil
	}
	pins[community] = got
	if err := p.storage.SavePins(pins); err != nil {
		return false, fmt.Errorf("save pin: %w", err)
	}
	return true, nil
}

// Forget removes a learnt pin after a person confirmed the new key. A
// policy pin cannot be forgotten.
func (p *PinStore) Forget(community string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.policy[community]; ok {
		return i18n.NewError(i18n.KindRefused, "crypto.pin.policy_locked", community)
	}
	pins, err := p.load()
	if err != nil {
		return err
	}
	delete(pins, community)
	return p.storage.SavePins(pins)
}
