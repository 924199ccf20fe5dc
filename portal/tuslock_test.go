package portal

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/wire"
)

// TestInterruptedPatchResumes is the client's resume after a dropped
// line, seen from the portal: the first PATCH's body stalls half-way
// (the line is gone, the server has not noticed), the client asks for
// the offset and sends the rest in a new PATCH. tusd lets the new
// request take the upload's lock from the stalled one; the stalled one
// must end at once, and the upload complete byte-identical. Under -race
// this also covers the ordering in tuslock.go: without it tusd's cancel
// goroutine read the stalled request's body field unordered with its
// write (a data race the detector flagged in TestCreatorSecretAgainstPortal).
func TestInterruptedPatchResumes(t *testing.T) {
	p := startPortal(t, t.TempDir())
	p.addCommunity("bM1X", 1<<20, "")
	for round := 0; round < 20; round++ {
		// More than 256 KiB stay unsent: net/http then closes the
		// stalled request's connection after its answer instead of
		// reading the rest first (which would wait for the read deadline).
		envelope := bytes.Repeat([]byte(fmt.Sprintf("age-encryption.org/v1 round %02d\n", round)), 24000)
		resp, loc := p.tusCreate(len(envelope), tusMetadata("community", "bM1X", "sha256", sha(envelope), "filename", "CD.zip.age"))
		if resp.StatusCode != 201 {
			t.Fatalf("create: %d", resp.StatusCode)
		}
		half := len(envelope) / 2
		pr, pw := io.Pipe()
		req, err := http.NewRequest("PATCH", p.ts.URL+loc, pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(len(envelope))
		req.Header = hdr("Tus-Resumable", "1.0.0", "Upload-Offset", "0",
			"Content-Type", "application/offset+octet-stream", wire.UploadSecretHeader, secretOf(loc))
		first := make(chan int, 1)
		go func() {
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				first <- -1
				return
			}
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
			first <- r.StatusCode
		}()
		if _, err := pw.Write(envelope[:half]); err != nil {
			t.Fatal(err)
		}
		// The client asks for the offset, as after a dropped line: tusd's
		// HEAD takes the lock from the stalled PATCH, which must end
		// then, with what it had written kept.
		deadline := time.Now().Add(10 * time.Second)
		ended := false
		for !ended {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the stalled PATCH did not end when a HEAD asked for its lock", round)
			}
			if _, code := p.tusOffset(loc); code != 200 {
				t.Fatalf("round %d: HEAD %d", round, code)
			}
			select {
			case c := <-first:
				if c == 204 {
					t.Fatalf("round %d: the stalled PATCH succeeded", round)
				}
				ended = true
			case <-time.After(5 * time.Millisecond):
			}
		}
		pw.CloseWithError(io.ErrUnexpectedEOF)
		off, _ := p.tusOffset(loc)
		if off < 0 || off > half {
			t.Fatalf("round %d: offset %d after the stalled PATCH, sent %d", round, off, half)
		}
		// The rest from there: the portal checks the whole envelope's
		// SHA-256 on the last PATCH (460 on a mismatch).
		resp, body := p.tusPatch(loc, off, envelope[off:])
		if resp.StatusCode != 204 {
			t.Fatalf("round %d: resume PATCH from %d: %d %s", round, off, resp.StatusCode, body)
		}
		if off, code := p.tusOffset(loc); code != 200 && code != 404 || code == 200 && off != len(envelope) {
			t.Fatalf("round %d: after resume offset %d (HTTP %d)", round, off, code)
		}
		if !strings.HasPrefix(loc, wire.UploadsPath) {
			t.Fatalf("location %q", loc)
		}
	}
}
