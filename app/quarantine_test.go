package app_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/envelope"
	"github.com/bildbote/bildbote/transfer/tus"
)

// craftEnvelope builds an envelope by hand (age → zstd → tar with the
// manifest first), to send what Seal never writes. manifestPad, when > 0,
// makes the manifest entry that many zero bytes: a zstd bomb.
func craftEnvelope(t testing.TB, recipient age.Recipient, m *envelope.Manifest, files map[string]string, manifestPad int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipient)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := zstd.NewWriter(w)
	tw := tar.NewWriter(zw)
	data, _ := json.Marshal(m)
	if manifestPad > 0 {
		data = make([]byte, manifestPad)
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: envelope.ManifestName, Size: int64(len(data)), Mode: 0o644})
	tw.Write(data)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(body)), Mode: 0o644})
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	w.Close()
	return buf.Bytes()
}

func manifestOf(files map[string]string) *envelope.Manifest {
	m := &envelope.Manifest{Format: envelope.FormatName, Version: envelope.FormatVersion, Created: time.Now()}
	for p, data := range files {
		s := sha256.Sum256([]byte(data))
		m.Files = append(m.Files, envelope.File{Path: p, Size: int64(len(data)), SHA256: hex.EncodeToString(s[:])})
	}
	return m
}

// upload puts data into inbox code of the real portal over tus, as any
// sender could.
func upload(t *testing.T, p *testPortal, code string, data []byte) {
	t.Helper()
	s := sha256.Sum256(data)
	_, err := (&tus.Client{}).Upload(context.Background(), tus.Job{Endpoint: p.url + "/api/v1/uploads/", File: bytes.NewReader(data), Size: int64(len(data)),
		Metadata: map[string]string{"community": code, "sha256": hex.EncodeToString(s[:])}})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
}

// TestUnopenableEnvelopesQuarantined: five crafted envelopes that cannot
// be opened (sealed to a foreign key, garbage, truncated, a zstd bomb, a
// "../" path in the manifest) arrive beside a good one at the real portal.
// One receive imports the good one, moves the five — byte for byte as
// uploaded, still encrypted — into the quarantine with their reasons,
// acknowledges them as rejected and fails once, naming them; the portal's
// inbox is then empty and a second receive has nothing to do. The clinic
// lists the quarantine and deletes from it.
func TestUnopenableEnvelopesQuarantined(t *testing.T) {
	p := startPortal(t, t.TempDir())
	cl := newClinic(t, p, "bM1X")
	own, err := age.ParseX25519Recipient(cl.key.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := age.GenerateX25519Identity()
	good := map[string]string{"files/a.dcm": "hallo"}
	sealedGood := craftEnvelope(t, own, manifestOf(good), good, 0)
	bad := map[string][]byte{
		"foreign key": craftEnvelope(t, foreign.Recipient(), manifestOf(good), good, 0),
		"garbage":     []byte(strings.Repeat("not an age file at all\n", 200)),
		"truncated":   sealedGood[:len(sealedGood)*2/3],
		"zstd bomb":   craftEnvelope(t, own, nil, nil, 256<<20),
		"dotdot":      craftEnvelope(t, own, manifestOf(map[string]string{"../evil": "x"}), map[string]string{"files/../evil": "x"}, 0),
	}
	wantReason := map[string]string{"foreign key": "not-for-us", "garbage": "", "truncated": "corrupt", "zstd bomb": "", "dotdot": "corrupt"}
	bySHA := map[string]string{}
	for name, data := range bad {
		upload(t, p, "bM1X", data)
		s := sha256.Sum256(data)
		bySHA[hex.EncodeToString(s[:])] = name
		if len(data) > 1<<20 {
			t.Errorf("%s: %d bytes uploaded, the bomb should be small", name, len(data))
		}
	}
	cdDir, _ := generateCD(t, gencd.MinFiles)
	practice := openCore(t, app.Config{})
	if j, err := send(t, practice, p.url, "bM1X", cdDir, true); err != nil {
		t.Fatal(err)
	} else if j = wait(t, practice, j); j.State != app.StateDone {
		t.Fatalf("send: %s %+v", j.State, j.Error)
	}

	to := t.TempDir()
	ij, err := cl.core.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: cl.apiKey, ToDir: to})
	if err != nil {
		t.Fatal(err)
	}
	ij = wait(t, cl.core, ij)
	if ij.State != app.StateFailed || ij.Error == nil || ij.Error.Key != "app.quarantined.many" || ij.Error.Kind != i18n.KindRefused {
		t.Fatalf("first receive: %s %+v, want failed with app.quarantined.many", ij.State, ij.Error)
	}
	if ij.Receipt == nil || len(ij.Receipt.Imported) == 0 || !ij.Receipt.Imported[0].Acked || len(ij.Receipt.Quarantined) != len(bad) {
		t.Fatalf("receipt %+v", ij.Receipt)
	}
	if items, err := cl.core.InboxList(context.Background(), p.url, "bM1X", cl.apiKey); err != nil || len(items) != 0 {
		t.Fatalf("inbox after the receive: %v %v, want empty", items, err)
	}

	qs, err := cl.core.Quarantine()
	if err != nil || len(qs) != len(bad) {
		t.Fatalf("quarantine: %d items, %v", len(qs), err)
	}
	for _, q := range qs {
		name := bySHA[q.SHA256]
		data, err := os.ReadFile(q.File)
		if err != nil || !bytes.Equal(data, bad[name]) {
			t.Errorf("%s: the quarantined file is not the envelope as uploaded (%v)", name, err)
		}
		if want := wantReason[name]; (want != "" && q.Reason != want) || q.Reason == "" || !q.Rejected || q.Inbox != "bM1X" || q.Size != int64(len(bad[name])) {
			t.Errorf("%s: record %+v, want reason %q", name, q, want)
		}
		if txt := q.ReasonText(i18n.DE); txt == "" || strings.HasPrefix(txt, "app.") {
			t.Errorf("%s: reason text %q", name, txt)
		}
		t.Logf("%-12s %8d bytes → quarantined: %s (%s)", name, q.Size, q.Reason, q.ReasonText(i18n.EN))
	}

	// The second receive has nothing left: exit 0, no error.
	if j, err := cl.core.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: cl.apiKey, ToDir: to}); err != nil || j != nil {
		t.Fatalf("second receive: %v %v, want nothing to do", j, err)
	}

	// Delete one; an unknown or path-like ID is refused.
	if err := cl.core.DeleteQuarantined(qs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(qs[0].File); !os.IsNotExist(err) {
		t.Errorf("deleted envelope still there: %v", err)
	}
	for _, id := range []string{qs[0].ID, "../keys/clinic", "", strings.Repeat("a", 20)} {
		if err := cl.core.DeleteQuarantined(id); !isKind(err, i18n.KindInput) {
			t.Errorf("DeleteQuarantined(%q): %v, want KindInput", id, err)
		}
	}
	if left, _ := cl.core.Quarantine(); len(left) != len(bad)-1 {
		t.Errorf("after delete: %d left", len(left))
	}
}
