package inbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/inbox"
)

// TestUploadEndpointStaysOnThePortal: a portal whose community names an
// upload endpoint on another host, port or scheme (or one that does not
// parse) is refused at the lookup, before a password or a file could go
// there; the portal's own path, and its own host upgraded to https, pass.
func TestUploadEndpointStaysOnThePortal(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	rcpt := id.Recipient().String()
	var uploadURL string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"code": "bM1X", "name": "Klinik", "uploadURL": uploadURL,
			"recipients": []map[string]string{{"recipient": rcpt, "fingerprint": crypto.Fingerprint(rcpt)}}})
	}))
	defer ts.Close()
	host := strings.TrimPrefix(ts.URL, "http://")
	c := &inbox.Client{Portal: ts.URL, Retry: fast()}
	for _, tc := range []struct {
		uploadURL string
		ok        bool
	}{
		{"/api/v1/uploads/", true},
		{ts.URL + "/files/", true},
		{"https://" + host + "/files/", true},
		{"http://evil.example/files/", false},
		{"//evil.example/files/", false},
		{"http://" + strings.Replace(host, "127.0.0.1", "localhost", 1) + "/files/", false},
		{"ftp://" + host + "/files/", false},
		{"http://[::1%EVIL/files/", false},
	} {
		uploadURL = tc.uploadURL
		cm, err := c.Community(context.Background(), "bM1X")
		if tc.ok {
			if err != nil || !strings.HasSuffix(cm.UploadURL, "/uploads/") && !strings.HasSuffix(cm.UploadURL, "/files/") {
				t.Errorf("%s: %v", tc.uploadURL, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s accepted as %s", tc.uploadURL, cm.UploadURL)
			continue
		}
		if v := transfer.Classify(err); !v.Permanent() || v.Reason != transfer.ReasonProtocol {
			t.Errorf("%s: classified %v/%s: %v", tc.uploadURL, v.Class, v.Reason, err)
		}
		ue, ok := i18n.AsUserError(err)
		if !ok || ue.HintKey == "" {
			t.Errorf("%s: no translated message: %v", tc.uploadURL, err)
			continue
		}
		if msg, _ := i18n.Localize(i18n.DE, err); strings.Contains(msg, "EVIL") || strings.Contains(msg, "parse") {
			t.Errorf("%s: %q", tc.uploadURL, msg)
		}
	}
}
