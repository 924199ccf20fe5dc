package portal

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bildbote/bildbote/portal/accesscode"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogHoldsNoSecrets redeems a code, uploads and reads an inbox, then
// checks that the request log has one line per request and none of the
// code, the answer, the JWT, the API key or the upload's metadata.
func TestLogHoldsNoSecrets(t *testing.T) {
	var logs lockedBuffer
	p := startPortal(t, t.TempDir(), func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	code, _ := p.issuePDFCode("1958-02-14", time.Now().Add(time.Hour))
	key := p.addCommunity("bM1X", 1<<20, "s3cret-upload-pw")
	p.do("GET", "/c?token="+code, nil, nil)
	p.do("GET", "/dlx/v1/token/"+code, hdr(DLXHeader, ""), nil)
	jwt := p.login(code, "1", "19580214")
	p.do("GET", "/dlx/v1/download/r1", hdr("Authorization", "Bearer "+jwt), nil)
	data := []byte("envelope")
	_, loc := p.tusCreate(len(data), tusMetadata("community", "bM1X", "sha256", sha(data), "filename", "Mueller_Juergen.zip.age", "password", "s3cret-upload-pw"))
	p.tusPatch(loc, 0, data)
	p.do("GET", "/api/v1/inbox/bM1X", hdr("Authorization", "Bearer "+key), nil)
	p.stop() // waits for every handler, so every line is written

	out := logs.String()
	if n := strings.Count(out, `"msg":"request"`); n != 7 {
		t.Errorf("%d request lines, want 7:\n%s", n, out)
	}
	for _, secret := range []string{code, accesscode.Format(code), "19580214", "1958-02-14", jwt, key, "s3cret", "Mueller", "r1"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	for _, route := range []string{`"route":"GET /dlx/v1/token/{value}"`, `"route":"POST /dlx/v1/tokentfa/{value}"`, `"route":"GET /c"`, `"route":"/api/v1/uploads/"`} {
		if !strings.Contains(out, route) {
			t.Errorf("log lacks %s:\n%s", route, out)
		}
	}
}
