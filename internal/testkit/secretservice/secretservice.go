// Package secretservice runs a real Secret Service for tests: a private
// D-Bus session bus (dbus-daemon) and GNOME Keyring's secrets component
// (gnome-keyring-daemon --unlock --components=secrets) with its keyrings
// in a directory of the test's, so go-keyring (the product's keyring on
// Linux) talks to the same service as on a desktop, without touching the
// user's own keyring.
//
//	secretservice.Available(t)
//	s, err := secretservice.StartIn(dir)   // then DBUS_SESSION_BUS_ADDRESS=s.Address for the process under test
//	defer s.Stop()
//
// Without dbus-daemon, dbus-send or gnome-keyring-daemon (Debian packages
// dbus-daemon, dbus-bin and gnome-keyring) the test is skipped on a
// developer's machine and fails under CI=true.
package secretservice

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

// Service is a running private session bus with a Secret Service on it.
type Service struct {
	Address string // DBUS_SESSION_BUS_ADDRESS
	Dir     string
	Env     []string // the variables a client needs (the address, XDG dirs)
	bus     *exec.Cmd
	keyring *exec.Cmd
}

// Available checks for the programs; it skips t (fails under CI=true)
// when one is missing.
func Available(t testing.TB) {
	t.Helper()
	corpus.Tool(t, "dbus-daemon")
	corpus.Tool(t, "dbus-send")
	corpus.Tool(t, "gnome-keyring-daemon")
}

// StartIn starts the bus and the keyring with their files in dir (which
// must exist) and waits, at most 15 s, until org.freedesktop.secrets is
// on the bus. Stop ends both.
func StartIn(dir string) (*Service, error) {
	s := &Service{Dir: dir}
	data, run := filepath.Join(dir, "data"), filepath.Join(dir, "run")
	for _, d := range []string{filepath.Join(data, "keyrings"), run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	// go-keyring stores into the "default" alias: let it be the login
	// keyring the daemon creates and unlocks.
	if err := os.WriteFile(filepath.Join(data, "keyrings", "default"), []byte("login"), 0o600); err != nil {
		return nil, err
	}
	s.Address = "unix:path=" + filepath.Join(run, "bus")
	s.Env = []string{"DBUS_SESSION_BUS_ADDRESS=" + s.Address, "XDG_DATA_HOME=" + data, "XDG_RUNTIME_DIR=" + run}
	env := append(os.Environ(), s.Env...)
	var busOut bytes.Buffer
	s.bus = exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--address="+s.Address)
	s.bus.Env, s.bus.Stdout, s.bus.Stderr = env, &busOut, &busOut
	if err := s.bus.Start(); err != nil {
		return nil, fmt.Errorf("start dbus-daemon: %w", err)
	}
	if err := s.wait(func() bool { _, err := os.Stat(filepath.Join(run, "bus")); return err == nil }); err != nil {
		s.Stop()
		return nil, fmt.Errorf("dbus-daemon did not listen: %v\n%s", err, busOut.String())
	}
	var krOut bytes.Buffer
	s.keyring = exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	s.keyring.Env, s.keyring.Stdout, s.keyring.Stderr = env, &krOut, &krOut
	s.keyring.Stdin = strings.NewReader("test-keyring-password") // unlocks (creates) the login keyring
	if err := s.keyring.Start(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start gnome-keyring-daemon: %w", err)
	}
	if err := s.wait(func() bool {
		out, err := exec.Command("dbus-send", "--bus="+s.Address, "--print-reply", "--dest=org.freedesktop.DBus",
			"/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets").Output()
		return err == nil && strings.Contains(string(out), "boolean true")
	}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("no org.freedesktop.secrets on the bus: %v\n%s\n%s", err, busOut.String(), krOut.String())
	}
	return s, nil
}

func (s *Service) wait(ok func() bool) error {
	end := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(end) {
			return fmt.Errorf("gave up after 15 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// Stop ends the keyring and the bus (SIGTERM, SIGKILL after 5 s).
func (s *Service) Stop() {
	for _, c := range []*exec.Cmd{s.keyring, s.bus} {
		if c == nil || c.Process == nil {
			continue
		}
		c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
}
