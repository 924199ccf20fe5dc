package portal

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/wire"
)

// strictDecode decodes body into v, refusing fields v does not know: an
// answer of the portal that carries more (or other) than the contract
// says fails here, before a client meets it.
func strictDecode(t *testing.T, what string, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s does not decode with the wire contract: %v\n%s", what, err, body)
	}
}

// TestWireContract walks the upload and inbox side of the API with raw
// HTTP and decodes every answer with the types of internal/wire, which
// the clients (transfer/tus, transfer/inbox, app) use: community lookup
// and search, the tus creation's secret, the final PATCH's receipt
// header, the receipt, the inbox list, the 460 of a checksum mismatch,
// an error body, the rejection parameter, and the code-expiry header of
// the DLX side.
func TestWireContract(t *testing.T) {
	p := startPortal(t, t.TempDir())
	key := p.addCommunity("bM1X", 1<<20, "")
	auth := hdr("Authorization", "Bearer "+key)

	resp, body := p.do("GET", wire.CommunitiesPath+"/bM1X", nil, nil)
	var c wire.Community
	strictDecode(t, "community", body, &c)
	if resp.StatusCode != 200 || c.Code != "bM1X" || len(c.RecipientStrings()) != 1 ||
		!strings.HasPrefix(c.RecipientStrings()[0], "age1") || c.Recipients[0].Fingerprint == "" ||
		c.UploadURL != p.ts.URL+wire.UploadsPath || c.MaxUploadBytes != 1<<20 || c.PasswordRequired {
		t.Fatalf("community %d %+v", resp.StatusCode, c)
	}
	_, body = p.do("GET", wire.CommunitiesPath+"?q=saarbr", nil, nil)
	var list wire.CommunityList
	strictDecode(t, "community search", body, &list)
	if len(list.Communities) != 1 || list.Communities[0].Code != "bM1X" {
		t.Fatalf("search %+v", list)
	}
	resp, body = p.do("GET", wire.CommunitiesPath+"/nOpE", nil, nil)
	var e wire.Error
	strictDecode(t, "error", body, &e)
	if resp.StatusCode != 404 || e.Error == "" || e.Message == "" {
		t.Fatalf("unknown community %d %+v", resp.StatusCode, e)
	}

	// An upload: creation answers the secret, the last PATCH the receipt.
	envelope := []byte(strings.Repeat("age-encryption.org/v1 wire\n", 100))
	meta := tusMetadata(wire.MetaCommunity, "bM1X", wire.MetaSHA256, sha(envelope), wire.MetaFilename, "envelope.age")
	resp, loc := p.tusCreate(len(envelope), meta)
	if resp.StatusCode != 201 || !strings.HasPrefix(loc, wire.UploadsPath) || len(resp.Header.Get(wire.UploadSecretHeader)) < 43 {
		t.Fatalf("create %d at %q, secret %q", resp.StatusCode, loc, resp.Header.Get(wire.UploadSecretHeader))
	}
	resp, _ = p.tusPatch(loc, 0, envelope)
	rpath := resp.Header.Get(wire.ReceiptHeader)
	if resp.StatusCode != 204 || !strings.HasPrefix(rpath, wire.ReceiptsPath) {
		t.Fatalf("final PATCH %d, receipt %q", resp.StatusCode, rpath)
	}
	_, body = p.do("GET", rpath, nil, nil)
	var rc wire.Receipt
	strictDecode(t, "receipt", body, &rc)
	if rc.Community != "bM1X" || rc.Size != int64(len(envelope)) || rc.SHA256 != sha(envelope) ||
		rc.CommunityName == "" || time.Since(rc.ReceivedAt) > time.Minute || wire.ReceiptsPath+rc.ID != rpath {
		t.Fatalf("receipt %+v", rc)
	}
	_, body = p.do("GET", wire.InboxPath+"bM1X", auth, nil)
	var inbox wire.InboxList
	strictDecode(t, "inbox list", body, &inbox)
	if len(inbox.Items) != 1 || inbox.Items[0].ID != rc.ID || inbox.Items[0].SHA256 != rc.SHA256 || inbox.Items[0].Size != rc.Size {
		t.Fatalf("inbox %+v, receipt %+v", inbox, rc)
	}
	// Every reason the contract lists is one the portal takes.
	for _, reason := range wire.RejectReasons {
		r2, l2 := p.tusCreate(len(envelope), meta)
		if r2.StatusCode != 201 {
			t.Fatalf("create: %d", r2.StatusCode)
		}
		r2, _ = p.tusPatch(l2, 0, envelope)
		id := strings.TrimPrefix(r2.Header.Get(wire.ReceiptHeader), wire.ReceiptsPath)
		r2, b2 := p.do("DELETE", wire.InboxPath+"bM1X/"+id+"?"+wire.RejectParam+"="+reason, auth, nil)
		if r2.StatusCode/100 != 2 {
			t.Fatalf("reject %q: %d %s", reason, r2.StatusCode, b2)
		}
	}
	resp, body = p.do("DELETE", wire.InboxPath+"bM1X/"+rc.ID+"?"+wire.RejectParam+"=because", auth, nil)
	strictDecode(t, "error", body, &e)
	if resp.StatusCode != 400 {
		t.Fatalf("unknown reason: %d %+v", resp.StatusCode, e)
	}

	// A wrong checksum: the last PATCH answers 460 with an error body.
	resp, loc = p.tusCreate(len(envelope), tusMetadata(wire.MetaCommunity, "bM1X", wire.MetaSHA256, sha([]byte("other")), wire.MetaFilename, "x"))
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	resp, _ = p.tusPatch(loc, 0, envelope)
	if resp.StatusCode != wire.StatusChecksumMismatch {
		t.Fatalf("checksum mismatch: %d, want %d", resp.StatusCode, wire.StatusChecksumMismatch)
	}

	// The DLX side's extension header: the code's expiry.
	expires := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	code, _ := p.issuePDFCode("19580214", expires)
	resp, _ = p.do("POST", "/dlx/v1/tokentfa/"+code, http.Header{"Content-Type": {"application/json"}}, answers("1", "19580214"))
	got, err := time.Parse(time.RFC3339, resp.Header.Get(wire.CodeExpiresHeader))
	if resp.StatusCode != 200 || err != nil || !got.Equal(expires) {
		t.Fatalf("tokentfa %d, %s %q: %v", resp.StatusCode, wire.CodeExpiresHeader, resp.Header.Get(wire.CodeExpiresHeader), err)
	}
	resp, body = p.do("GET", wire.HealthPath, nil, nil)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"ok"`)) {
		t.Fatalf("health %d %s", resp.StatusCode, body)
	}
}
