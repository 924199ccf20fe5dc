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

// TestUnreadableAnswersAreNamed: a portal answering the listing or a
// community lookup with something that is not the API's JSON (HTML,
// wrong types, nothing), or with a key that does not match its
// fingerprint under a hostile code, is refused as a protocol error in
// the reader's words: no Go decoder text, no server text, a hint.
func TestUnreadableAnswersAreNamed(t *testing.T) {
	var body string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	defer ts.Close()
	c := &inbox.Client{Portal: ts.URL, APIKey: "k", Retry: fast()}
	check := func(what string, err error, wantProtocol bool) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: accepted", what)
			return
		}
		if v := transfer.Classify(err); wantProtocol && (!v.Permanent() || v.Reason != transfer.ReasonProtocol) {
			t.Errorf("%s: classified %v/%s: %v", what, v.Class, v.Reason, err)
		}
		if ue, ok := i18n.AsUserError(err); !ok || ue.HintKey == "" {
			t.Errorf("%s: no translated message with a hint: %v", what, err)
		}
		for _, lang := range []i18n.Lang{i18n.DE, i18n.EN} {
			msg, _ := i18n.Localize(lang, err)
			for _, bad := range []string{"EVIL", "\x1b", "invalid character", "json:", "Go struct", "unexpected", "Unerwartet", "%!"} {
				if strings.Contains(msg, bad) {
					t.Errorf("%s: %s message holds %q: %s", what, lang, bad, msg)
				}
			}
		}
	}
	for _, b := range []string{"EVIL<html>", `{"items": 5}`, `{"items":[{"id":"abc","size":"EVIL"}]}`, ""} {
		body = b
		_, err := c.Listing(context.Background(), "bM1X")
		check("listing "+b, err, true)
	}
	for _, b := range []string{"EVIL<html>", `{"code": 7}`, ""} {
		body = b
		_, err := c.Community(context.Background(), "bM1X")
		check("community "+b, err, true)
	}
	body = `{"code":"EVIL\u001b[2J","name":"x","recipients":[{"recipient":"age1EVIL","fingerprint":"AAAA"}]}`
	_, err := c.Community(context.Background(), "bM1X")
	check("wrong fingerprint", err, false)
}

// TestCommunityNameIsCleaned: a clinic's name from the portal reaches
// the sender's screen without terminal escapes or bidi overrides (which
// could clear the terminal or make "Klinik Süd" read as another name).
func TestCommunityNameIsCleaned(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	rcpt := id.Recipient().String()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"code": "bM1X\x1b[2J", "name": "Klinik\x1b]0;pwned\x07 \u202edüS" + strings.Repeat("x", 300),
			"recipients": []map[string]string{{"recipient": rcpt, "fingerprint": crypto.Fingerprint(rcpt)}}})
	}))
	defer ts.Close()
	c := &inbox.Client{Portal: ts.URL, Retry: fast()}
	cm, err := c.Community(context.Background(), "bM1X")
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(cm.Name+cm.Code, "\x1b\x07\u202e") || len(cm.Name) > inbox.MaxNameLen || !strings.HasPrefix(cm.Name, "Klinik ]0;pwned düS") {
		t.Fatalf("name %q, code %q", cm.Name, cm.Code)
	}
}
