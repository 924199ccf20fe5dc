package crypto

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
)

func recipient(t *testing.T) string {
	t.Helper()
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String()
}

func TestPinStoreTrustOnFirstUse(t *testing.T) {
	path := PinFile(filepath.Join(t.TempDir(), "pins.json"))
	a, b := recipient(t), recipient(t)

	store := NewPinStore(path, nil)
	first, err := store.Check("bM1X", []string{a})
	if err != nil || !first {
		t.Fatalf("first use: %v %v", first, err)
	}
	first, err = store.Check("bM1X", []string{a})
	if err != nil || first {
		t.Fatalf("same key again: %v %v", first, err)
	}

	// A new process reads the pins from the file.
	store = NewPinStore(path, nil)
	_, err = store.Check("bM1X", []string{b})
	var kc *KeyChangedError
	if !errors.As(err, &kc) || kc.Community != "bM1X" || kc.Pinned != Fingerprint(a) || kc.Got != Fingerprint(b) || kc.Policy {
		t.Fatalf("changed key: %v", err)
	}
	if ue, ok := i18n.AsUserError(err); !ok || ue.Kind != i18n.KindRefused || ue.HintKey != "crypto.pin.changed.hint" {
		t.Fatalf("not a refused user error: %v", err)
	}
	// An added recipient is a change too.
	if _, err := store.Check("bM1X", []string{a, b}); !errors.As(err, &kc) {
		t.Fatalf("added recipient: %v", err)
	}
	// After the person confirmed the new key by phone.
	if err := store.Forget("bM1X"); err != nil {
		t.Fatal(err)
	}
	if first, err := store.Check("bM1X", []string{b}); err != nil || !first {
		t.Fatalf("after forget: %v %v", first, err)
	}
	data, _ := os.ReadFile(string(path))
	if len(data) == 0 {
		t.Fatal("pins not persisted")
	}
}

func TestPinStorePolicyWins(t *testing.T) {
	a, b := recipient(t), recipient(t)
	path := PinFile(filepath.Join(t.TempDir(), "pins.json"))
	// The user's own pin says b, the policy says a (spaced differently).
	path.SavePins(map[string]string{"bM1X": Fingerprint(b)})
	store := NewPinStore(path, map[string]string{"bM1X": CompactFingerprint(Fingerprint(a))})
	if _, err := store.Check("bM1X", []string{a}); err != nil {
		t.Fatalf("policy key: %v", err)
	}
	_, err := store.Check("bM1X", []string{b})
	var kc *KeyChangedError
	if !errors.As(err, &kc) || !kc.Policy {
		t.Fatalf("policy pin not enforced: %v", err)
	}
	if ue, _ := i18n.AsUserError(err); ue.HintKey != "crypto.pin.changed.policy_hint" {
		t.Errorf("hint %q", ue.HintKey)
	}
	if err := store.Forget("bM1X"); err == nil {
		t.Error("a policy pin was forgotten")
	}
	fp, policy, err := store.Pinned("bM1X")
	if err != nil || !policy || !FingerprintsEqual(fp, Fingerprint(a)) {
		t.Errorf("Pinned = %q %v %v", fp, policy, err)
	}
}

func TestPinStoreInMemoryAndBadFile(t *testing.T) {
	store := NewPinStore(nil, nil)
	a, b := recipient(t), recipient(t)
	store.Check("x", []string{a})
	if _, err := store.Check("x", []string{b}); err == nil {
		t.Error("in-memory pin forgotten")
	}
	bad := filepath.Join(t.TempDir(), "pins.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewPinStore(PinFile(bad), nil).Check("x", []string{a}); err == nil {
		t.Error("a corrupt pins file was ignored")
	}
	if _, err := store.Check("x", nil); err == nil {
		t.Error("no recipients accepted")
	}
}
