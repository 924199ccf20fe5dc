package portal

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/portal/accesscode"
)

// TestDLXStatusCodes drives every DLX endpoint through every status code
// the spec names, tusd style: method, path, headers, expected status and
// response headers.
func TestDLXStatusCodes(t *testing.T) {
	p := startPortal(t, t.TempDir())
	future := time.Now().Add(24 * time.Hour)
	code, _ := p.issuePDFCode("1958-02-14", future)
	expiredCode, _ := p.issuePDFCode("1958-02-14", time.Now().Add(-time.Hour))
	revokedCode, rid := p.issuePDFCode("1958-02-14", future)
	if _, err := p.srv.Store().RevokeCode(t.Context(), RevokeRequest{Ref: rid}); err != nil {
		t.Fatal(err)
	}
	jwt := p.login(code, "1", "19580214")
	bearer := "Bearer " + jwt
	staleJWT, err := signJWT(p.srv.Store().jwtKey, claims{Subject: "x", Audience: jwtAudience, IssuedAt: time.Now().Add(-time.Hour).Unix(), ExpiresAt: time.Now().Add(-time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(nil)
	foreignJWT, _ := signJWT(otherKey, claims{Subject: "x", Audience: jwtAudience, IssuedAt: time.Now().Unix(), ExpiresAt: time.Now().Add(time.Minute).Unix()})
	json := hdr("Content-Type", "application/json")
	codeExpires := future.UTC().Format(time.RFC3339)
	rightTFA := map[string]string{"Content-Type": "application/jwt", wire.CodeExpiresHeader: codeExpires}
	noExpiry := map[string]string{wire.CodeExpiresHeader: "-"}

	tests := []struct {
		name       string
		method     string
		path       string
		header     http.Header
		body       []byte
		wantStatus int
		wantHeader map[string]string // value "" = must be present, "-" = must be absent
	}{
		{"api_info", "GET", "/dlx/v1/api_info", nil, nil, 200, map[string]string{"Content-Type": "application/json"}},
		{"token known", "GET", "/dlx/v1/token/" + accesscode.Format(code), hdr(DLXHeader, "1"), nil, 200, map[string]string{"Content-Type": "application/json"}},
		{"token unknown", "GET", "/dlx/v1/token/ZZZZ-ZZZZ-ZZZZ", hdr(DLXHeader, ""), nil, 200, map[string]string{"Content-Type": "application/json"}},
		{"token malformed", "GET", "/dlx/v1/token/hello", hdr(DLXHeader, "x"), nil, 200, map[string]string{"Content-Type": "application/json"}},
		{"token without header", "GET", "/dlx/v1/token/" + code, nil, nil, 400, nil},
		{"code url with header", "GET", "/c?token=" + code, hdr(DLXHeader, "1"), nil, 200, map[string]string{"Content-Type": "application/json"}},
		{"code url in a browser", "GET", "/c?token=" + code, hdr("Accept-Language", "en"), nil, 200, map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{"tfa right", "POST", "/dlx/v1/tokentfa/" + code, json, answers("1", "19580214"), 200, rightTFA},
		{"tfa right, typed with dashes and lower case", "POST", "/dlx/v1/tokentfa/" + strings.ToLower(accesscode.Format(code)), json, answers("1", "1958-02-14"), 200, rightTFA},
		{"tfa wrong answer", "POST", "/dlx/v1/tokentfa/" + code, json, answers("1", "19580215"), 401, noExpiry},
		{"tfa missing answer", "POST", "/dlx/v1/tokentfa/" + code, json, answers(), 401, noExpiry},
		{"tfa unknown code", "POST", "/dlx/v1/tokentfa/ZZZZ-ZZZZ-ZZZZ", json, answers("1", "19580214"), 401, noExpiry},
		{"tfa with numbers as in the spec's example", "POST", "/dlx/v1/tokentfa/" + code, json, []byte(`{"tfaAnswer":[{"questionId":1,"answer":19580214}]}`), 200, rightTFA},
		{"tfa not json", "POST", "/dlx/v1/tokentfa/" + code, json, []byte("dob=1958"), 401, noExpiry},
		{"tfa expired, right", "POST", "/dlx/v1/tokentfa/" + expiredCode, json, answers("1", "19580214"), 403, noExpiry},
		{"tfa expired, wrong", "POST", "/dlx/v1/tokentfa/" + expiredCode, json, answers("1", "19000101"), 401, noExpiry},
		{"tfa revoked, right", "POST", "/dlx/v1/tokentfa/" + revokedCode, json, answers("1", "19580214"), 401, noExpiry},
		{"list", "GET", "/dlx/v1/list", hdr("Authorization", bearer), nil, 200, map[string]string{"Content-Type": "application/json"}},
		{"list without token", "GET", "/dlx/v1/list", nil, nil, 401, map[string]string{"WWW-Authenticate": ""}},
		{"list with expired token", "GET", "/dlx/v1/list", hdr("Authorization", "Bearer "+staleJWT), nil, 401, nil},
		{"list with foreign token", "GET", "/dlx/v1/list", hdr("Authorization", "Bearer "+foreignJWT), nil, 401, nil},
		{"list with garbage", "GET", "/dlx/v1/list", hdr("Authorization", "Bearer a.b.c"), nil, 401, nil},
		{"download pdf", "GET", "/dlx/v1/download/r1", hdr("Authorization", bearer), nil, 200,
			map[string]string{"Content-Type": "application/pdf", "Accept-Ranges": "bytes", "ETag": "", "Content-Length": ""}},
		{"download pdf range", "GET", "/dlx/v1/download/r1", hdr("Authorization", bearer, "Range", "bytes=0-3"), nil, 206,
			map[string]string{"Content-Type": "application/pdf", "Content-Length": "4", "Content-Range": ""}},
		{"download unknown id", "GET", "/dlx/v1/download/nope", hdr("Authorization", bearer), nil, 400, nil},
		{"download without token", "GET", "/dlx/v1/download/r1", nil, nil, 401, nil},
		{"downloadall without token", "GET", "/dlx/v1/downloadall", nil, nil, 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := p.do(tt.method, tt.path, tt.header, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			for k, v := range tt.wantHeader {
				got := resp.Header.Get(k)
				if v == "-" {
					if got != "" {
						t.Errorf("header %s = %q, want none", k, got)
					}
					continue
				}
				if got == "" || (v != "" && got != v) {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestDLXPDFBytes checks that a report arrives whole and that a range is
// the right slice of it.
func TestDLXPDFBytes(t *testing.T) {
	p := startPortal(t, t.TempDir())
	code, _ := p.issuePDFCode("19580214", time.Now().Add(time.Hour))
	bearer := hdr("Authorization", "Bearer "+p.login(code, "1", "14.02.1958"))
	resp, whole := p.do("GET", "/dlx/v1/download/r1", bearer, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(whole), "%PDF-") {
		t.Fatalf("download: %d %q", resp.StatusCode, whole[:min(len(whole), 8)])
	}
	if resp.Header.Get("Content-Length") != itoa(len(whole)) {
		t.Fatalf("Content-Length %s for %d bytes", resp.Header.Get("Content-Length"), len(whole))
	}
	bearer.Set("Range", "bytes=5-")
	resp, tail := p.do("GET", "/dlx/v1/download/r1", bearer, nil)
	if resp.StatusCode != 206 || string(tail) != string(whole[5:]) {
		t.Fatalf("range: %d, %d bytes", resp.StatusCode, len(tail))
	}
	bearer.Set("If-None-Match", resp.Header.Get("ETag"))
	bearer.Del("Range")
	if resp, _ := p.do("GET", "/dlx/v1/download/r1", bearer, nil); resp.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestUnknownTokenLooksLikeAKnownOne: the default question of an unknown
// code must equal a real date-of-birth-only code's questions.
func TestUnknownTokenLooksLikeAKnownOne(t *testing.T) {
	p := startPortal(t, t.TempDir())
	code, _ := p.issuePDFCode("19580214", time.Now().Add(time.Hour))
	_, known := p.do("GET", "/dlx/v1/token/"+code, hdr(DLXHeader, ""), nil)
	_, unknown := p.do("GET", "/dlx/v1/token/0000-0000-0000", hdr(DLXHeader, ""), nil)
	_, viaURL := p.do("GET", "/c?token="+code, hdr(DLXHeader, ""), nil)
	if string(known) != string(unknown) {
		t.Fatalf("known and unknown differ:\n%s\n%s", known, unknown)
	}
	if string(known) != string(viaURL) {
		t.Fatalf("code URL differs from token endpoint:\n%s\n%s", known, viaURL)
	}
}

// TestSecondFactors: every question type can be issued and must be
// answered, all of them.
func TestSecondFactors(t *testing.T) {
	p := startPortal(t, t.TempDir())
	code, _ := p.issuePDFCode("19580214", time.Now().Add(time.Hour),
		QuestionSpec{Type: QuestionStudyDate, Answer: "2026-11-02"},
		QuestionSpec{Type: QuestionPassword, Answer: "Tr0ub4dor"},
		QuestionSpec{Type: QuestionCustom, Answer: "Dr. Bob", Texts: map[string]string{"de": "Name des Hausarztes?", "en": "Your GP's name?"}})
	resp, body := p.do("GET", "/dlx/v1/token/"+code, hdr(DLXHeader, ""), nil)
	var q tfaQuestions
	if err := json.Unmarshal(body, &q); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	var types []string
	for _, x := range q.TFAQuestion {
		types = append(types, x.QuestionType+"/"+x.AnswerFormat)
	}
	if got := strings.Join(types, " "); got != "PAT_BIRTH_DATE/DATE STUDY_DATE/DATE PASSWORD/STRING CUSTOM/STRING" {
		t.Fatalf("questions: %s", got)
	}
	if q.TFAQuestion[3].Question[0].Text != "Name des Hausarztes?" || q.TFAQuestion[3].Question[0].Language != "de" {
		t.Fatalf("custom question text: %+v", q.TFAQuestion[3].Question)
	}
	tfa := func(pairs ...string) int {
		resp, _ := p.do("POST", "/dlx/v1/tokentfa/"+code, hdr("Content-Type", "application/json"), answers(pairs...))
		return resp.StatusCode
	}
	if s := tfa("1", "19580214", "2", "20261102", "3", "Tr0ub4dor"); s != 401 {
		t.Fatalf("one answer missing: %d", s)
	}
	if s := tfa("1", "19580214", "2", "20261102", "3", "tr0ub4dor", "4", "dr. bob"); s != 401 {
		t.Fatalf("password is case-sensitive: %d", s)
	}
	if s := tfa("1", "19580214", "2", "20261102", "3", "Tr0ub4dor", "4", "  DR.  BOB "); s != 200 {
		t.Fatalf("all right: %d", s)
	}
}

func TestThrottleKey(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1": "127.0.0.1", "2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64", "2001:db8:1:2::99": "2001:db8:1:2::/64",
	} {
		if got := throttleKey(in); got != want {
			t.Errorf("throttleKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestJWT covers the token format: subject is the record, not the code;
// tampering, other algorithms and expiry are refused.
func TestJWT(t *testing.T) {
	p := startPortal(t, t.TempDir())
	code, rid := p.issuePDFCode("19580214", time.Now().Add(time.Hour))
	tok := p.login(code, "1", "19580214")
	pub := p.srv.Store().jwtKey.Public().(ed25519.PublicKey)
	c, err := verifyJWT(pub, tok, time.Now())
	if err != nil || c.Subject != rid || strings.Contains(tok, code) {
		t.Fatalf("claims %+v, err %v", c, err)
	}
	if d := time.Duration(c.ExpiresAt-c.IssuedAt) * time.Second; d != 10*time.Minute {
		t.Fatalf("lifetime %v", d)
	}
	if _, err := verifyJWT(pub, tok, time.Now().Add(11*time.Minute)); err == nil {
		t.Fatal("expired token accepted")
	}
	parts := strings.Split(tok, ".")
	none := b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	if _, err := verifyJWT(pub, none, time.Now()); err == nil {
		t.Fatal("alg none accepted")
	}
	forged := parts[0] + "." + b64.EncodeToString([]byte(`{"sub":"other","aud":"dlx/v1","iat":1,"exp":9999999999}`)) + "." + parts[2]
	if _, err := verifyJWT(pub, forged, time.Now()); err == nil {
		t.Fatal("forged payload accepted")
	}
	// A revoked code's tokens stop working at once.
	bearer := hdr("Authorization", "Bearer "+tok)
	if resp, _ := p.do("GET", "/dlx/v1/list", bearer, nil); resp.StatusCode != 200 {
		t.Fatalf("list: %d", resp.StatusCode)
	}
	p.srv.Store().RevokeCode(t.Context(), RevokeRequest{Ref: accesscode.Format(code)})
	if resp, _ := p.do("GET", "/dlx/v1/list", bearer, nil); resp.StatusCode != 401 {
		t.Fatalf("list after revoke: %d", resp.StatusCode)
	}
}

func TestCodePageIsTranslated(t *testing.T) {
	p := startPortal(t, t.TempDir())
	_, de := p.do("GET", "/c?token=abcd-efgh-jkmn", hdr("Accept-Language", "de-DE,de;q=0.9"), nil)
	_, en := p.do("GET", "/c?token=abcd-efgh-jkmn", hdr("Accept-Language", "en-GB"), nil)
	if !strings.Contains(string(de), "Ihre Bilder") || !strings.Contains(string(en), "Your images") {
		t.Fatalf("pages:\n%s\n%s", de, en)
	}
	if !strings.Contains(string(en), "ABCD-EFGH-JKMN") {
		t.Fatal("page does not show the normalised code")
	}
}
