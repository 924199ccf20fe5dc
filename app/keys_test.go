package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/i18n"
)

// writeKeyFile writes id the way age-keygen does: comments, then the key.
func writeKeyFile(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	id, err := crypto.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	text := "# created: 2026-11-23T10:00:00Z\n# public key: " + id.Recipient().String() + "\n" + id.String() + "\n"
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, id.Recipient().String()
}

// An imported key (keyring off) opens envelopes the real portal delivers;
// a different key is refused unless forced; the keyring is never touched.
func TestImportClinicKeyReceives(t *testing.T) {
	t.Setenv(crypto.PassphraseEnv, "demo")
	p := startPortal(t, t.TempDir())
	dir := t.TempDir()
	keyFile, recipient := writeKeyFile(t, dir, "clinic.key")
	clinic := openCore(t, app.Config{NoKeyring: true})
	info, err := clinic.ImportClinicKey(keyFile, false)
	if err != nil || !info.Created || info.Recipient != recipient || info.Backend != "file" {
		t.Fatalf("import: %+v %v", info, err)
	}
	if s, err := keyring.Get(crypto.KeyringService, "clinic"); err == nil && strings.Contains(string(mustRead(t, keyFile)), s) {
		t.Fatal("the imported key went into the keyring despite NoKeyring")
	}
	again, err := clinic.ImportClinicKey(keyFile, false)
	if err != nil || again.Created || again.Recipient != recipient {
		t.Fatalf("import again: %+v %v", again, err)
	}

	apiKey := p.addCommunity("bM1X", "Klinik Süd", recipient)
	cdDir, _ := generateCD(t, 12)
	practice := openCore(t, app.Config{})
	job, err := send(t, practice, p.url, "bM1X", cdDir, true)
	if err != nil {
		t.Fatal(err)
	}
	if j := wait(t, practice, job); j.State != app.StateDone {
		t.Fatalf("send: %+v", j.Error)
	}
	ij, err := clinic.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: apiKey, ToDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if ij = wait(t, clinic, ij); ij.State != app.StateDone {
		t.Fatalf("import with the imported key: %+v", ij.Error)
	}

	other, otherRecipient := writeKeyFile(t, dir, "other.key")
	_, err = clinic.ImportClinicKey(other, false)
	var ue *i18n.UserError
	if !errors.As(err, &ue) || ue.Kind != i18n.KindRefused {
		t.Fatalf("a different key was not refused: %v", err)
	}
	if k, _ := clinic.ClinicKey(); k.Recipient != recipient {
		t.Fatal("the refused import replaced the key")
	}
	if k, err := clinic.ImportClinicKey(other, true); err != nil || k.Recipient != otherRecipient {
		t.Fatalf("forced import: %+v %v", k, err)
	}
	if _, err := clinic.ImportClinicKey(filepath.Join(dir, "missing.key"), false); !isKind(err, i18n.KindInput) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := clinic.ImportClinicKey(filepath.Join(clinic.StateDir(), "jobs.db"), false); !isKind(err, i18n.KindInput) {
		t.Errorf("not a key file: %v", err)
	}
}

// BILDBOTE_KEYRING=off has the same effect as Config.NoKeyring.
func TestKeyringOffEnv(t *testing.T) {
	t.Setenv(crypto.PassphraseEnv, "demo")
	t.Setenv(app.KeyringEnv, "off")
	core := openCore(t, app.Config{})
	k, err := core.InitClinicKey()
	if err != nil || k.Backend != "file" || k.Path != filepath.Join(core.StateDir(), "keys", "clinic.age") {
		t.Fatalf("InitClinicKey with the keyring off: %+v %v", k, err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A key file's passphrase is asked once per process: listing the inbox
// (whose summaries need the key) twice and importing do not ask again.
func TestClinicKeyPassphraseAskedOnce(t *testing.T) {
	t.Setenv(crypto.PassphraseEnv, "")
	p := startPortal(t, t.TempDir())
	var asked atomic.Int32
	prompt := func() (string, error) { asked.Add(1); return "Korrekt Pferd", nil }
	state := t.TempDir()
	first := openCore(t, app.Config{StateDir: state, NoKeyring: true, Passphrase: crypto.Passphrase{Prompt: prompt}})
	key, err := first.InitClinicKey()
	if err != nil || key.Backend != "file" {
		t.Fatalf("init: %+v %v", key, err)
	}
	first.Close()
	apiKey := p.addCommunity("bM1X", "Klinik Süd", key.Recipient)
	cdDir, _ := generateCD(t, 12)
	practice := openCore(t, app.Config{})
	job, err := send(t, practice, p.url, "bM1X", cdDir, true)
	if err != nil {
		t.Fatal(err)
	}
	if j := wait(t, practice, job); j.State != app.StateDone {
		t.Fatalf("send: %+v", j.Error)
	}

	asked.Store(0)
	clinic := openCore(t, app.Config{StateDir: state, NoKeyring: true, Passphrase: crypto.Passphrase{Prompt: prompt}})
	for range 2 {
		items, err := clinic.InboxList(context.Background(), p.url, "bM1X", apiKey)
		if err != nil || len(items) != 1 || items[0].Summary == nil {
			t.Fatalf("inbox: %+v %v", items, err)
		}
	}
	ij, err := clinic.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: apiKey, ToDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if ij = wait(t, clinic, ij); ij.State != app.StateDone {
		t.Fatalf("import: %+v", ij.Error)
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the passphrase was asked %d times, want once", n)
	}
}
