package inbox_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/faultproxy"
	"github.com/bildbote/bildbote/portal"
	"github.com/bildbote/bildbote/transfer/envelope"
	"github.com/bildbote/bildbote/transfer/inbox"
	"github.com/bildbote/bildbote/transfer/internal/retry"
	"github.com/bildbote/bildbote/transfer/tus"
)

type testPortal struct {
	srv *portal.Server
	ts  *httptest.Server
}

func startPortal(t *testing.T) *testPortal {
	t.Helper()
	srv, err := portal.New(portal.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return &testPortal{srv: srv, ts: ts}
}

func fast() retry.Policy {
	return retry.Policy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}
}

// sealed seals two of pydicom's files into an envelope for recipient.
func sealed(t *testing.T, recipient string) (string, *envelope.SealResult) {
	t.Helper()
	dir := t.TempDir()
	ix := &dicomscan.Index{}
	st := &dicomscan.Study{InstanceUID: "1.2.3", Series: []*dicomscan.Series{{InstanceUID: "1.2.3.1"}}}
	for i, name := range []string{"CT_small.dcm", "MR_small.dcm"} {
		data, err := os.ReadFile(corpus.PydicomFile(t, name))
		if err != nil {
			t.Fatal(err)
		}
		rel := "DICOM/IM" + string(rune('1'+i))
		if err := os.MkdirAll(filepath.Join(dir, "DICOM"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), data, 0o644); err != nil {
			t.Fatal(err)
		}
		st.Series[0].Instances = append(st.Series[0].Instances, &dicomscan.Instance{SOPInstanceUID: "1.2.3.1." + rel, Path: rel, Size: int64(len(data))})
	}
	ix.Patients = []*dicomscan.Patient{{Name: "Müller^Jürgen", ID: "4711", Studies: []*dicomscan.Study{st}}}
	ix.SetFS(os.DirFS(dir))
	spool := filepath.Join(t.TempDir(), "send.age")
	res, err := envelope.Seal(context.Background(), envelope.SealInput{Index: ix, Recipients: []string{recipient},
		Sender: envelope.Sender{Name: "Praxis"}, Patient: envelope.Patient{Name: "Müller^Jürgen"}}, spool, nil)
	if err != nil {
		t.Fatal(err)
	}
	return spool, res
}

// The whole way of a shipment through the real portal: look up the inbox,
// check and pin its key, upload with tus, fetch the receipt; the clinic
// lists its inbox, downloads through a flaky line, opens and verifies the
// envelope, acknowledges.
func TestShipmentThroughPortal(t *testing.T) {
	p := startPortal(t)
	ctx := context.Background()
	clinicKey, _ := crypto.GenerateIdentity()
	added, err := p.srv.Store().AddCommunity(ctx, portal.AddCommunityRequest{Code: "bM1X", Name: "Klinikum Süd Radiologie",
		Recipients: []string{clinicKey.Recipient().String()}})
	if err != nil {
		t.Fatal(err)
	}

	// Practice side.
	practice := &inbox.Client{Portal: p.ts.URL, Retry: fast()}
	cm, err := practice.Community(ctx, "bM1X")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Name != "Klinikum Süd Radiologie" || cm.UploadURL != p.ts.URL+"/api/v1/uploads/" || len(cm.Recipients) != 1 {
		t.Fatalf("community: %+v", cm)
	}
	if !crypto.FingerprintsEqual(cm.Recipients[0].Fingerprint, added.Fingerprint) {
		t.Fatalf("fingerprint %q, admin saw %q", cm.Recipients[0].Fingerprint, added.Fingerprint)
	}
	pins := crypto.NewPinStore(nil, map[string]string{"bM1X": added.Fingerprint})
	if _, err := pins.Check("bM1X", cm.RecipientStrings()); err != nil {
		t.Fatal(err)
	}
	found, err := practice.Search(ctx, "süd")
	if err != nil || len(found) != 1 || found[0].Code != "bM1X" {
		t.Fatalf("Search: %+v %v", found, err)
	}

	spool, sealedRes := sealed(t, cm.Recipients[0].Recipient)
	f, _ := os.Open(spool)
	defer f.Close()
	up, err := (&tus.Client{ChunkSize: 64 << 10, Retry: fast()}).Upload(ctx, tus.Job{Endpoint: cm.UploadURL, File: f, Size: sealedRes.Size,
		Metadata: map[string]string{"community": cm.Code, "sha256": sealedRes.SHA256, "filename": "Müller.age"}})
	if err != nil {
		t.Fatal(err)
	}
	receipt, err := practice.Receipt(ctx, up.ID)
	if err != nil {
		t.Fatal(err)
	}
	if receipt.SHA256 != sealedRes.SHA256 || receipt.Size != sealedRes.Size || receipt.CommunityName != cm.Name {
		t.Fatalf("receipt %+v", receipt)
	}
	if up.Receipt != "/api/v1/receipts/"+up.ID {
		t.Errorf("receipt header %q", up.Receipt)
	}

	// Clinic side, through a line that drops three times.
	proxy, err := faultproxy.New(p.ts.Listener.Addr().String(), faultproxy.Options{Cuts: 3, MinBytes: 2 << 10, MaxBytes: 40 << 10, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	clinic := &inbox.Client{Portal: "http://" + proxy.Addr(), APIKey: added.APIKey, Retry: fast()}
	items, err := clinic.List(ctx, "bM1X")
	if err != nil || len(items) != 1 || items[0].ID != up.ID || items[0].SHA256 != sealedRes.SHA256 {
		t.Fatalf("List: %+v %v", items, err)
	}
	dst := filepath.Join(t.TempDir(), "item.age")
	if _, err := clinic.Download(ctx, "bM1X", items[0], dst); err != nil {
		t.Fatal(err)
	}
	ef, _ := os.Open(dst)
	defer ef.Close()
	m, err := envelope.Open(ctx, ef, []age.Identity{clinicKey}, filepath.Join(t.TempDir(), "opened"), envelope.Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Patient.Name != "Müller^Jürgen" || len(m.Files) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	if err := clinic.Ack(ctx, "bM1X", up.ID); err != nil {
		t.Fatal(err)
	}
	if items, _ := clinic.List(ctx, "bM1X"); len(items) != 0 {
		t.Fatalf("after ack: %+v", items)
	}
	if err := clinic.Ack(ctx, "bM1X", up.ID); err != nil {
		t.Fatalf("second ack: %v", err)
	}
}

func TestTypedErrors(t *testing.T) {
	p := startPortal(t)
	ctx := context.Background()
	key, _ := crypto.GenerateIdentity()
	if _, err := p.srv.Store().AddCommunity(ctx, portal.AddCommunityRequest{Code: "pw1", Name: "Mit Passwort",
		Recipients: []string{key.Recipient().String()}, Password: "geheim", MaxUploadBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	c := &inbox.Client{Portal: p.ts.URL, APIKey: "falsch", Retry: fast()}

	_, err := c.Community(ctx, "nope")
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "transfer.inbox.unknown_community" || ue.Kind != i18n.KindInput {
		t.Fatalf("unknown community: %v", err)
	}
	_, err = c.List(ctx, "pw1")
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "transfer.inbox.bad_api_key" {
		t.Fatalf("bad API key: %v", err)
	}
	if strings.Contains(err.Error(), "falsch") {
		t.Fatal("API key in the error text")
	}

	cm, err := c.Community(ctx, "pw1")
	if err != nil || !cm.PasswordRequired {
		t.Fatalf("pw1: %+v %v", cm, err)
	}
	spool, res := sealed(t, cm.Recipients[0].Recipient)
	f, _ := os.Open(spool)
	defer f.Close()
	up := &tus.Client{Retry: fast()}
	job := tus.Job{Endpoint: cm.UploadURL, File: f, Size: res.Size, Metadata: map[string]string{"community": "pw1", "sha256": res.SHA256, "password": "rate"}}
	_, err = up.Upload(ctx, job)
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "transfer.tus.password" {
		t.Fatalf("wrong password: %v", err)
	}
	// The right password but a wrong checksum: all bytes arrive, the
	// portal's verdict is 460, permanent.
	job.Metadata = map[string]string{"community": "pw1", "sha256": strings.Repeat("0", 64), "password": "geheim"}
	_, err = up.Upload(ctx, job)
	var ce *tus.ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("checksum mismatch: %v", err)
	}
	job.Metadata["sha256"] = res.SHA256
	job.Size = 2 << 20 // more than the inbox accepts
	_, err = up.Upload(ctx, job)
	if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "transfer.tus.too_large_limit" ||
		ue.Message(i18n.DE) != "Die Sendung (2,1 MB) ist größer als die 1,0 MB, die dieses Postfach annimmt." {
		t.Fatalf("too large: %v", err)
	}
}
