package portal

import (
	"encoding/json"
	"log/slog"
	"os"
	"path"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestInboxRejectAcknowledges: a clinic that cannot open an envelope
// acknowledges it with ?rejected=REASON; the inbox drains, the envelope
// file is gone, the receipt records the reason and time, the log names
// the item and the reason. An unknown reason is a 400 and changes
// nothing; the plain acknowledgement still works.
func TestInboxRejectAcknowledges(t *testing.T) {
	var logs lockedBuffer
	p := startPortal(t, t.TempDir(), func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	key := p.addCommunity("bM1X", 1<<20, "")
	auth := hdr("Authorization", "Bearer "+key)
	upload := func(body string) string {
		data := []byte(body)
		_, loc := p.tusCreate(len(data), tusMetadata("community", "bM1X", "sha256", sha(data), "filename", "CD.zip.age"))
		if resp, b := p.tusPatch(loc, 0, data); resp.StatusCode != 204 {
			t.Fatalf("patch: %d %s", resp.StatusCode, b)
		}
		return path.Base(loc)
	}
	bad, good := upload("garbage, not an age file"), upload("another envelope")

	for _, q := range []string{"?rejected=", "?rejected=../../x", "?rejected=Not-For-Us"} {
		if resp, body := p.do("DELETE", "/api/v1/inbox/bM1X/"+bad+q, auth, nil); resp.StatusCode != 400 || !strings.Contains(string(body), "bad-reason") {
			t.Errorf("DELETE %s: %d %s, want 400 bad-reason", q, resp.StatusCode, body)
		}
	}
	if resp, _ := p.do("DELETE", "/api/v1/inbox/bM1X/"+bad+"?rejected=corrupt", nil, nil); resp.StatusCode != 401 {
		t.Errorf("reject without the API key: %d", resp.StatusCode)
	}
	if resp, body := p.do("DELETE", "/api/v1/inbox/bM1X/"+bad+"?rejected=corrupt", auth, nil); resp.StatusCode != 204 {
		t.Fatalf("reject: %d %s", resp.StatusCode, body)
	}
	if resp, _ := p.do("DELETE", "/api/v1/inbox/bM1X/"+bad+"?rejected=corrupt", auth, nil); resp.StatusCode != 404 {
		t.Errorf("second reject: %d, want 404 (gone)", resp.StatusCode)
	}
	if _, err := os.Stat(p.srv.inboxPath("bM1X", bad)); !os.IsNotExist(err) {
		t.Errorf("rejected envelope still on disk: %v", err)
	}
	if resp, _ := p.do("DELETE", "/api/v1/inbox/bM1X/"+good, auth, nil); resp.StatusCode != 204 {
		t.Errorf("plain acknowledgement: %d", resp.StatusCode)
	}
	_, body := p.do("GET", "/api/v1/inbox/bM1X", auth, nil)
	if !strings.Contains(string(body), `"items":[]`) {
		t.Errorf("inbox after reject and ack: %s", body)
	}

	var stored map[string]any
	p.srv.store.db.View(func(tx *bolt.Tx) error {
		return json.Unmarshal(tx.Bucket(bucketReceipts).Get([]byte(bad)), &stored)
	})
	if stored["rejected"] != "corrupt" || stored["rejectedAt"] == nil || stored["acknowledged"] != true || stored["sha256"] == nil {
		t.Errorf("rejected receipt as stored: %v", stored)
	}
	var plain map[string]any
	p.srv.store.db.View(func(tx *bolt.Tx) error {
		return json.Unmarshal(tx.Bucket(bucketReceipts).Get([]byte(good)), &plain)
	})
	if _, ok := plain["rejected"]; ok || plain["acknowledged"] != true {
		t.Errorf("acknowledged receipt as stored: %v", plain)
	}
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "rejected by the clinic") {
			json.Unmarshal([]byte(l), &line)
		}
	}
	if line["item"] != bad || line["reason"] != "corrupt" || line["community"] != "bM1X" {
		t.Errorf("log line for the rejection: %v\n%s", line, logs.String())
	}
}
