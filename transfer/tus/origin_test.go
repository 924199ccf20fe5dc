package tus

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/hostile"
	"github.com/bildbote/bildbote/transfer"
)

// A portal whose creation answer points to another host or port gets
// nothing: no PATCH, no HEAD, no password there.
func TestLocationMustStayOnOrigin(t *testing.T) {
	var elsewhere hostile.Counter
	evil := httptest.NewServer(hostile.Status(&elsewhere, http.StatusNoContent, ""))
	defer evil.Close()
	for name, loc := range map[string]string{
		"other port": evil.URL + "/files/abc",
		"other host": "http://localhost" + evil.URL[strings.LastIndex(evil.URL, ":"):] + "/files/abc",
	} {
		t.Run(name, func(t *testing.T) {
			portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", loc)
				w.WriteHeader(http.StatusCreated)
			}))
			defer portal.Close()
			data := []byte("sealed envelope")
			_, err := (&Client{}).Upload(context.Background(), Job{
				Endpoint: portal.URL + "/api/v1/uploads/", Metadata: map[string]string{"password": "s3cret"},
				File: bytes.NewReader(data), Size: int64(len(data)),
				OnURL: func(string) error { t.Error("a foreign upload URL was handed on to be persisted"); return nil },
			})
			var oe *OriginError
			if !errors.As(err, &oe) || transfer.Classify(err).Class != transfer.Permanent {
				t.Fatalf("want OriginError, got %v", err)
			}
			if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "transfer.net.origin" || ue.HintKey == "" {
				t.Fatalf("user error %v", err)
			}
		})
	}
	if n := elsewhere.Requests.Load(); n != 0 {
		t.Fatalf("%d requests reached the other origin", n)
	}
	// A portal on https pointing to its own host and port over http is a
	// downgrade: refused like another origin.
	tlsPortal := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://"+r.Host+"/files/abc")
		w.WriteHeader(http.StatusCreated)
	}))
	defer tlsPortal.Close()
	{
		data := []byte("sealed envelope")
		_, err := (&Client{HTTP: tlsPortal.Client()}).Upload(context.Background(), Job{
			Endpoint: tlsPortal.URL + "/api/v1/uploads/", Metadata: map[string]string{"password": "s3cret"},
			File: bytes.NewReader(data), Size: int64(len(data)),
		})
		var oe *OriginError
		if !errors.As(err, &oe) {
			t.Fatalf("https to http: want OriginError, got %v", err)
		}
	}
	// A stored URL from an earlier run is checked the same way.
	data := []byte("x")
	_, err := (&Client{}).Upload(context.Background(), Job{Endpoint: "http://127.0.0.1:1/api/v1/uploads/", URL: evil.URL + "/files/abc",
		File: bytes.NewReader(data), Size: 1})
	var oe *OriginError
	if !errors.As(err, &oe) || elsewhere.Requests.Load() != 0 {
		t.Fatalf("stored URL: %v", err)
	}
}
