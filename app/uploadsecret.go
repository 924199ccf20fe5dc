package app

import (
	"os"
	"strings"

	"github.com/bildbote/bildbote/internal/fileutil"
)

// The portal's creator secret of a send's partial upload (wire.UploadSecretHeader)
// opens that upload for HEAD, PATCH and DELETE. It must survive a reboot
// to resume, but it is a credential, so it is not in the job's Params
// (which `jobs --json` prints): it lives next to the spool file, 0600 in
// the 0700 spool folder, and goes with it.

func uploadSecretPath(spool string) string { return spool + ".secret" }

// loadUploadSecret reads the stored secret; "" when there is none (an
// upload made before secrets existed, or none made yet).
func loadUploadSecret(spool string) string {
	b, err := os.ReadFile(uploadSecretPath(spool))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// saveUploadSecret stores secret atomically ("" removes the file).
func saveUploadSecret(spool, secret string) error {
	if secret == "" {
		removeUploadSecret(spool)
		return nil
	}
	return fileutil.WriteFile(uploadSecretPath(spool), []byte(secret), 0o600)
}

func removeUploadSecret(spool string) { os.Remove(uploadSecretPath(spool)) }
