package tus

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
	tusd "github.com/tus/tusd/v2/pkg/handler"
)

// BenchmarkUpload sends 64 MiB to tusd over loopback: our client in 8 MiB
// chunks against curl sending the same bytes as one PATCH (the floor: no
// chunking, no HEADs).
func BenchmarkUpload(b *testing.B) {
	const size = 64 << 20
	dir := b.TempDir()
	p := filepath.Join(dir, "envelope.age")
	f, _ := os.Create(p)
	io.CopyN(f, rand.Reader, size)
	f.Close()
	srv := newServerB(b)
	b.Run("bildbote", func(b *testing.B) {
		b.SetBytes(size)
		f, _ := os.Open(p)
		defer f.Close()
		for i := 0; i < b.N; i++ {
			if _, err := (&Client{}).Upload(context.Background(), Job{Endpoint: srv.endpoint, File: f, Size: size}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("curl", func(b *testing.B) {
		curl := corpus.Tool(b, "curl")
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			req, _ := http.NewRequest(http.MethodPost, srv.endpoint, nil)
			req.Header.Set("Tus-Resumable", Version)
			req.Header.Set("Upload-Length", strconv.Itoa(size))
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusCreated {
				b.Fatal(err, resp.Status)
			}
			resp.Body.Close()
			loc, _ := resolve(srv.endpoint, resp.Header.Get("Location"))
			out, err := exec.Command(curl, "-sf", "-X", "PATCH", "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Offset: 0",
				"-H", "Content-Type: application/offset+octet-stream", "--data-binary", "@"+p, loc).CombinedOutput()
			if err != nil {
				b.Fatalf("curl: %v %s", err, out)
			}
		}
	})
}

func newServerB(b *testing.B) *server {
	// newServer takes a *testing.T for Helper/Fatal/Cleanup/TempDir: the
	// same methods exist on *testing.B through testing.TB.
	return newServerTB(b, tusd.Config{})
}
