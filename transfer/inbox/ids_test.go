package inbox_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/transfer/inbox"
)

// A portal listing IDs outside the grammar: Listing keeps the valid items
// (once each), returns the others as *BadItemError naming them, and
// Download, Ack and Reject refuse a bad ID without sending a request.
func TestListingRejectsBadIDs(t *testing.T) {
	var requests atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/inbox/bM1X" {
			requests.Add(1)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Write([]byte(`{"items":[
			{"id":"x/../..","size":1},
			{"id":"../../keys/clinic","size":1},
			{"id":"C:\\..","size":1},
			{"id":"a\u0000b","size":1},
			{"id":"","size":1},
			{"id":".."},
			{"id":"ｘ","size":1},
			{"id":"` + strings.Repeat("a", 65) + `"},
			{"id":"good-1","size":-1},
			{"id":"good-2","sha256":"zz"},
			{"id":"0123456789abcdef0123456789abcdef","size":5},
			{"id":"0123456789abcdef0123456789abcdef","size":5}]}`))
	}))
	defer ts.Close()
	c := &inbox.Client{Portal: ts.URL, APIKey: "k", Retry: fast()}
	l, err := c.Listing(context.Background(), "bM1X")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 1 || l.Items[0].ID != "0123456789abcdef0123456789abcdef" || len(l.Rejected) != 10 {
		t.Fatalf("items %+v, rejected %d", l.Items, len(l.Rejected))
	}
	if msg := i18n.T(i18n.EN, "transfer.inbox.bad_item", l.Rejected[0].Quoted()); !strings.Contains(msg, `"x/../.."`) {
		t.Errorf("message %q does not name the item", msg)
	}
	if ue, ok := i18n.AsUserError(l.Rejected[3]); !ok || ue.Kind != i18n.KindRefused || !strings.Contains(l.Rejected[3].Error(), `"a\x00b"`) {
		t.Errorf("NUL item: %v", l.Rejected[3])
	}
	for _, bad := range l.Rejected {
		if bad.Reason != "id" {
			continue // good-1, good-2: a valid ID with a negative size or a bad checksum
		}
		var be *inbox.BadItemError
		if _, err := c.Download(context.Background(), "bM1X", inbox.Item{ID: bad.ID}, filepath.Join(t.TempDir(), "x")); !errors.As(err, &be) {
			t.Errorf("Download(%s): %v", bad.Quoted(), err)
		}
		if err := c.Ack(context.Background(), "bM1X", bad.ID); !errors.As(err, &be) {
			t.Errorf("Ack(%s): %v", bad.Quoted(), err)
		}
		if err := c.Reject(context.Background(), "bM1X", bad.ID, "corrupt"); !errors.As(err, &be) {
			t.Errorf("Reject(%s): %v", bad.Quoted(), err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests for items with a bad ID", n)
	}
}
