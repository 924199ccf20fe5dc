package crypto

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/zalando/go-keyring"
)

func TestKeyStoreKeyring(t *testing.T) {
	keyring.MockInit()
	t.Setenv(PassphraseEnv, "")
	ks := &KeyStore{Account: "identity", File: filepath.Join(t.TempDir(), "k.age")}
	if _, _, err := ks.Load(); !errors.Is(err, ErrNoKey) {
		t.Fatalf("empty store: %v", err)
	}
	id, loc, created, err := ks.LoadOrCreate()
	if err != nil || !created || loc.Backend != BackendKeyring {
		t.Fatalf("LoadOrCreate = %v %v %v", loc, created, err)
	}
	if _, err := os.Stat(ks.File); !errors.Is(err, os.ErrNotExist) {
		t.Error("a key file was written although the keyring worked")
	}
	again, loc2, created2, err := ks.LoadOrCreate()
	if err != nil || created2 || loc2.Backend != BackendKeyring || again.String() != id.String() {
		t.Fatalf("second load: %v %v %v", loc2, created2, err)
	}
	if !strings.Contains(loc.Message(i18n.EN), "keyring") || !strings.Contains(loc.Message(i18n.DE), "Schlüsselbund") {
		t.Errorf("message: %q / %q", loc.Message(i18n.EN), loc.Message(i18n.DE))
	}
	if err := ks.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.Load(); !errors.Is(err, ErrNoKey) {
		t.Fatalf("after delete: %v", err)
	}
}

// Headless Linux: the keyring answers with an error (no Secret Service),
// the key goes into the passphrase-protected file — really on disk, really
// scrypt-encrypted.
func TestKeyStoreFileFallback(t *testing.T) {
	keyring.MockInitWithError(errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	defer keyring.MockInit()
	dir := t.TempDir()
	passFile := filepath.Join(dir, "pass.txt")
	if err := os.WriteFile(passFile, []byte("Korrekt Pferd Batterie\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(PassphraseEnv, "")
	ks := &KeyStore{Account: "community/bM1X", File: filepath.Join(dir, "keys", "bM1X.age"),
		Passphrase: Passphrase{File: passFile}, ScryptWorkFactor: 10}

	id, loc, created, err := ks.LoadOrCreate()
	if err != nil || !created || loc.Backend != BackendFile || loc.Path != ks.File {
		t.Fatalf("LoadOrCreate = %+v %v %v", loc, created, err)
	}
	data, err := os.ReadFile(ks.File)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "AGE-SECRET-KEY") || !strings.HasPrefix(string(data), "age-encryption.org/v1\n-> scrypt") {
		t.Fatalf("key file is not an age scrypt file: %.60q", data)
	}
	if fi, _ := os.Stat(ks.File); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode())
	}
	if !strings.Contains(loc.Message(i18n.EN), ks.File) {
		t.Errorf("message does not name the file: %q", loc.Message(i18n.EN))
	}

	// The environment variable works as well (unattended use) and wins.
	ks2 := &KeyStore{Account: ks.Account, File: ks.File}
	t.Setenv(PassphraseEnv, "Korrekt Pferd Batterie")
	got, loc2, err := ks2.Load()
	if err != nil || got.String() != id.String() || loc2.Backend != BackendFile {
		t.Fatalf("load with env: %v %v", loc2, err)
	}

	t.Setenv(PassphraseEnv, "falsch")
	_, _, err = ks2.Load()
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "crypto.passphrase.wrong" {
		t.Fatalf("wrong passphrase: %v", err)
	}

	t.Setenv(PassphraseEnv, "")
	_, _, err = ks2.Load()
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "crypto.passphrase.missing" || ue.Hint(i18n.EN) == "" {
		t.Fatalf("missing passphrase: %v", err)
	}
	prompted := &KeyStore{Account: ks.Account, File: ks.File,
		Passphrase: Passphrase{Prompt: func() (string, error) { return "Korrekt Pferd Batterie", nil }}}
	if got, _, err := prompted.Load(); err != nil || got.String() != id.String() {
		t.Fatalf("prompt: %v", err)
	}
}

func TestPassphraseFileProblems(t *testing.T) {
	t.Setenv(PassphraseEnv, "")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, key := range map[string]string{empty: "crypto.passphrase.file_empty", filepath.Join(dir, "none"): "crypto.passphrase.file_unreadable"} {
		_, err := Passphrase{File: file}.Get()
		if ue, ok := i18n.AsUserError(err); !ok || ue.Key != key || ue.Kind != i18n.KindInput {
			t.Errorf("%s: %v", file, err)
		}
	}
}

func TestDefaultKeyFile(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	p, err := DefaultKeyFile("community/bM1X")
	if err != nil || p != "/cfg/Bildbote/keys/community_bM1X.age" {
		t.Fatalf("DefaultKeyFile = %q, %v", p, err)
	}
}

// FileOnly: a working keyring is neither read nor written; the key goes
// into the file, and a key another store put into the keyring under the
// same account stays invisible and untouched.
func TestKeyStoreFileOnly(t *testing.T) {
	keyring.MockInit()
	t.Setenv(PassphraseEnv, "demo")
	other, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if err := keyring.Set(KeyringService, "clinic", other.String()); err != nil {
		t.Fatal(err)
	}
	ks := &KeyStore{Account: "clinic", File: filepath.Join(t.TempDir(), "clinic.age"), FileOnly: true, ScryptWorkFactor: 10}
	if _, _, err := ks.Load(); !errors.Is(err, ErrNoKey) {
		t.Fatalf("FileOnly load saw the keyring entry: %v", err)
	}
	id, loc, created, err := ks.LoadOrCreate()
	if err != nil || !created || loc.Backend != BackendFile || loc.Path != ks.File {
		t.Fatalf("LoadOrCreate = %+v %v %v", loc, created, err)
	}
	got, loc2, err := ks.Load()
	if err != nil || loc2.Backend != BackendFile || got.String() != id.String() {
		t.Fatalf("reload: %+v %v", loc2, err)
	}
	if err := ks.Delete(); err != nil {
		t.Fatal(err)
	}
	if s, err := keyring.Get(KeyringService, "clinic"); err != nil || s != other.String() {
		t.Fatalf("the keyring entry changed: %v", err)
	}
}
