package portal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminSocketLongDataDir: a data dir whose socket path would be too
// long gets its socket in a private temporary folder, found through
// DIR/admin.sock.path, and both go away on Close.
func TestAdminSocketLongDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("long-folder-name-", 6))
	srv, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ListenAdmin(); err != nil {
		t.Fatal(err)
	}
	sock := AdminSocketPath(dir)
	if strings.HasPrefix(sock, dir) || len(sock) > maxSocketPath {
		t.Fatalf("socket at %s", sock)
	}
	api, err := DialAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.ListCodes(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, adminSockFile+".path")); !os.IsNotExist(err) {
		t.Errorf("socket path file left behind: %v", err)
	}
}
