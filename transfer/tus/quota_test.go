package tus

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/portal"
	"github.com/bildbote/bildbote/transfer"
)

// TestPortalLimitsEndTheUpload: the real portal's size limit (413), the
// sender's quota (413), a full inbox (507) and a portal short of disk
// (507) end the upload at once, with the default (hours-long) waits —
// one creation request, no retry loop — as a permanent error whose
// message names the figures in German and English and says what to do.
func TestPortalLimitsEndTheUpload(t *testing.T) {
	const mb = 1_000_000
	for _, tc := range []struct {
		name      string
		limits    portal.Limits
		maxUpload int64
		first     int // bytes of an upload that fits first (0: none)
		size      int
		status    int
		key       string
		en, de    []string // in the message, in order
	}{
		{name: "too large", limits: portal.Limits{FreeReserve: -1}, maxUpload: 1 * mb, size: 1_500_000,
			status: 413, key: "transfer.tus.too_large_limit",
			en: []string{"(1.5 MB)", "1.0 MB"}, de: []string{"(1,5 MB)", "1,0 MB"}},
		{name: "sender quota", limits: portal.Limits{FreeReserve: -1, AddrPendingBytes: 2 * mb}, maxUpload: 64 * mb,
			first: 1_200_000, size: 1_000_000, status: 413, key: "transfer.tus.client_quota",
			en: []string{"1.2 MB", "2.0 MB", "(1.0 MB)"}, de: []string{"1,2 MB", "2,0 MB", "(1,0 MB)"}},
		{name: "inbox full", limits: portal.Limits{FreeReserve: -1, InboxPendingBytes: 3 * mb}, maxUpload: 64 * mb,
			first: 2_500_000, size: 1_000_000, status: 507, key: "transfer.tus.inbox_quota",
			en: []string{"inbox is full", "2.5 MB", "3.0 MB", "(1.0 MB)"}, de: []string{"Postfach der Klinik ist voll", "2,5 MB", "3,0 MB", "(1,0 MB)"}},
		{name: "portal disk", limits: portal.Limits{FreeReserve: 1 << 60}, maxUpload: 64 * mb,
			size: 1_000_000, status: 507, key: "transfer.tus.portal_full",
			en: []string{"short of disk space"}, de: []string{"zu wenig freien Speicherplatz"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := portal.New(portal.Config{DataDir: t.TempDir(), Limits: tc.limits})
			if err != nil {
				t.Fatal(err)
			}
			var posts atomic.Int64
			h := srv.Handler()
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					posts.Add(1)
				}
				h.ServeHTTP(w, r)
			}))
			t.Cleanup(func() { ts.Close(); srv.Close() })
			id, _ := age.GenerateX25519Identity()
			if _, err := srv.Store().AddCommunity(t.Context(), portal.AddCommunityRequest{
				Code: "bM1X", Name: "Radiologie", Recipients: []string{id.Recipient().String()}, MaxUploadBytes: tc.maxUpload,
			}); err != nil {
				t.Fatal(err)
			}
			endpoint := ts.URL + wire.UploadsPath
			if tc.first > 0 {
				f, data := randomFile(t, tc.first)
				if _, err := (&Client{}).Upload(t.Context(), Job{Endpoint: endpoint, File: f, Size: int64(len(data)),
					Metadata: map[string]string{"community": "bM1X", "sha256": sha(data)}}); err != nil {
					t.Fatalf("the first upload: %v", err)
				}
			}
			posts.Store(0)
			f, data := randomFile(t, tc.size)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			_, err = (&Client{}).Upload(ctx, Job{Endpoint: endpoint, File: f, Size: int64(len(data)),
				Metadata: map[string]string{"community": "bM1X", "sha256": sha(data)}})
			took := time.Since(start)
			if ctx.Err() != nil {
				t.Fatalf("still waiting after 20 s: %v", err)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.Status != tc.status {
				t.Fatalf("want status %d: %v", tc.status, err)
			}
			if n := posts.Load(); n != 1 {
				t.Fatalf("%d creation requests, want 1 (no retries)", n)
			}
			if v := transfer.Classify(err); !v.Permanent() || v.Reason != transfer.ReasonRefused {
				t.Fatalf("classified %v/%s", v.Class, v.Reason)
			}
			ue, ok := i18n.AsUserError(err)
			if !ok || ue.Key != tc.key || ue.Kind != i18n.KindRefused || ue.HintKey == "" {
				t.Fatalf("user error %+v (%v)", ue, err)
			}
			for lang, want := range map[i18n.Lang][]string{i18n.EN: tc.en, i18n.DE: tc.de} {
				msg, hint := i18n.Localize(lang, err)
				rest := msg
				for _, w := range want {
					i := strings.Index(rest, w)
					if i < 0 {
						t.Fatalf("%s message %q lacks %q", lang, msg, w)
					}
					rest = rest[i+len(w):]
				}
				if hint == "" || strings.Contains(msg, "HTTP") || strings.Contains(msg, "%!") {
					t.Fatalf("%s: %q, hint %q", lang, msg, hint)
				}
			}
			msg, hint := i18n.Localize(i18n.EN, err)
			t.Logf("%d after %v, 1 request: %s — %s", se.Status, took.Round(time.Millisecond), msg, hint)
		})
	}
}
