package tus

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer"
)

// TestBrokenServerAnswers: a tus server whose answers break the protocol
// (a creation without or with an unparsable Location, a HEAD with a bad
// Upload-Offset or another Upload-Length, a 200 where 201 belongs) ends
// the upload at once, permanent "protocol", with a translated message
// and hint that carry none of the server's text and no Go error text.
func TestBrokenServerAnswers(t *testing.T) {
	const size = 1000
	for _, tc := range []struct {
		name   string
		create func(w http.ResponseWriter)
		head   func(w http.ResponseWriter)
		key    string
	}{
		{name: "201 without Location", create: func(w http.ResponseWriter) { w.WriteHeader(201) }, key: "transfer.net.protocol.header"},
		{name: "unparsable Location", create: func(w http.ResponseWriter) {
			w.Header().Set("Location", "http://[::1%EVIL")
			w.WriteHeader(201)
		}, key: "transfer.net.protocol.header"},
		{name: "200 instead of 201", create: func(w http.ResponseWriter) { w.Write([]byte("EVIL")) }, key: "transfer.net.protocol.status"},
		{name: "bad Upload-Offset", head: func(w http.ResponseWriter) {
			w.Header().Set("Upload-Offset", "EVIL")
			w.Header().Set("Upload-Length", "1000")
		}, key: "transfer.net.protocol.header"},
		{name: "negative Upload-Offset", head: func(w http.ResponseWriter) {
			w.Header().Set("Upload-Offset", "-5")
		}, key: "transfer.net.protocol.header"},
		{name: "another Upload-Length", head: func(w http.ResponseWriter) {
			w.Header().Set("Upload-Offset", "0")
			w.Header().Set("Upload-Length", "999999")
		}, key: "transfer.tus.mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var requests int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests++
				switch {
				case r.Method == http.MethodPost && tc.create != nil:
					tc.create(w)
				case r.Method == http.MethodPost:
					w.Header().Set("Location", "/files/up1")
					w.WriteHeader(201)
				case r.Method == http.MethodHead && tc.head != nil:
					tc.head(w)
				default:
					w.WriteHeader(500)
				}
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := (&Client{}).Upload(ctx, Job{Endpoint: srv.URL + "/files/", File: strings.NewReader(strings.Repeat("x", size)), Size: size})
			if err == nil || ctx.Err() != nil {
				t.Fatalf("no bounded refusal: %v", err)
			}
			if requests > 2 {
				t.Fatalf("%d requests: retried", requests)
			}
			if v := transfer.Classify(err); !v.Permanent() || v.Reason != transfer.ReasonProtocol {
				t.Fatalf("classified %v/%s: %v", v.Class, v.Reason, err)
			}
			ue, ok := i18n.AsUserError(err)
			if !ok || ue.Key != tc.key || ue.HintKey == "" {
				t.Fatalf("user error %+v: %v", ue, err)
			}
			var ge *transfer.GaveUpError
			if errors.As(err, &ge) {
				t.Fatal("gave up instead of refusing")
			}
			for _, lang := range []i18n.Lang{i18n.DE, i18n.EN} {
				msg, hint := i18n.Localize(lang, err)
				if strings.Contains(msg, "EVIL") || strings.Contains(msg, "\x1b") || strings.Contains(msg, "tus create") || strings.Contains(msg, "tus head") || strings.Contains(msg, "parse") || hint == "" {
					t.Fatalf("%s: %q — %q", lang, msg, hint)
				}
			}
		})
	}
}
