package app_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/app"
)

// TestSendResumesSameUploadAfterRestart: the practice's process stops in
// the middle of an upload (a reboot); the portal's creator secret was
// kept (0600 next to the spool, not in the job's Params), so the reopened
// core resumes the same upload instead of starting a new one.
func TestSendResumesSameUploadAfterRestart(t *testing.T) {
	p := startPortal(t, t.TempDir())
	newClinic(t, p, "bM1X")
	cdDir, _ := bigCD(t)
	state := t.TempDir()
	cfg := app.Config{StateDir: state, RetryInitial: fastRetry, ScryptWorkFactor: 10,
		PolicyPath: policyFile(t, "bandwidth_limit_kbps = 8000\n")}
	first, err := app.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	job, err := send(t, first, p.url, "bM1X", cdDir, false)
	if err != nil {
		t.Fatal(err)
	}
	waitUploadStarted(t, p.dir)
	first.Close()

	secrets, _ := filepath.Glob(filepath.Join(state, "spool", "*.secret"))
	if len(secrets) != 1 {
		t.Fatalf("stored secrets: %v", secrets)
	}
	st, _ := os.Stat(secrets[0])
	secret, _ := os.ReadFile(secrets[0])
	if st.Mode().Perm() != 0o600 || len(secret) < 43 {
		t.Fatalf("secret file %v, %d bytes", st.Mode().Perm(), len(secret))
	}
	second := openCore(t, cfg)
	j, err := second.Job(job.ID)
	if err != nil {
		t.Fatal(err)
	}
	shown, err := json.Marshal(j) // what events and jobs --json carry
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(app.JobParams(j)), string(secret)) || strings.Contains(string(shown), string(secret)) {
		t.Fatal("the creator secret is in the job's stored state or its JSON")
	}
	if err := second.Resume(job.ID); err != nil {
		t.Fatal(err)
	}
	if j := wait(t, second, job); j.State != app.StateDone {
		t.Fatalf("send after restart: %s %+v", j.State, j.Error)
	}
	infos, _ := filepath.Glob(filepath.Join(p.dir, "uploads", "*.info"))
	if len(infos) != 1 {
		t.Fatalf("%d uploads on the portal: the resume started over", len(infos))
	}
	if left, _ := os.ReadDir(filepath.Join(state, "spool")); len(left) != 0 {
		t.Fatalf("spool after the send: %v", left)
	}
	items, err := p.srv.Store().ListCommunities(context.Background())
	if err != nil || len(items) != 1 || items[0].Pending != 1 {
		t.Fatalf("inbox: %+v %v", items, err)
	}
}
