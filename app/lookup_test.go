package app

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// blackHole accepts connections and never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

// A look-up at a portal that refuses connections or never answers ends
// within its bound with "the portal <address> does not answer" (transient,
// with a hint), not minutes of retries; a cancel stays a cancel.
func TestLookupPortalUnreachable(t *testing.T) {
	for name, url := range map[string]string{"closed port": closedPort(t), "black hole": blackHole(t)} {
		c, err := Open(Config{StateDir: t.TempDir(), PortalURL: url, LookupTimeout: 2 * time.Second, RetryInitial: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = c.RedeemStart(context.Background(), "", "ABCD-EFGH-JKMN")
		took := time.Since(start)
		ue, ok := i18n.AsUserError(err)
		if !ok || ue.Key != "app.portal-no-answer" || ue.Kind != i18n.KindTransient || ue.HintKey == "" {
			t.Errorf("%s: RedeemStart error = %v, want app.portal-no-answer", name, err)
		} else if msg := ue.Message(i18n.DE); !strings.Contains(msg, url) {
			t.Errorf("%s: message %q does not name the portal", name, msg)
		}
		if took > 5*time.Second {
			t.Errorf("%s: took %v, want within the 2 s bound", name, took)
		}
		_, err = c.LookupCommunity(context.Background(), "", "bM1X")
		if ue, ok := i18n.AsUserError(err); !ok || ue.Key != "app.portal-no-answer" {
			t.Errorf("%s: LookupCommunity error = %v, want app.portal-no-answer", name, err)
		}
		if name == "black hole" {
			ctx, cancel := context.WithCancel(context.Background())
			go func() { time.Sleep(100 * time.Millisecond); cancel() }()
			if _, err := c.RedeemStart(ctx, "", "ABCD-EFGH-JKMN"); !errors.Is(err, context.Canceled) {
				t.Errorf("%s: cancelled look-up = %v, want context.Canceled", name, err)
			}
		}
		c.Close()
	}
}

func TestRetryAfterAndUntil(t *testing.T) {
	now := time.Date(2026, 12, 3, 13, 58, 10, 0, time.Local)
	if got, ok := retryAfter("120", now); !ok || !got.Equal(now.Add(2*time.Minute)) {
		t.Errorf("retryAfter(120) = %v, %v", got, ok)
	}
	if got, ok := retryAfter("Thu, 03 Dec 2026 14:10:00 GMT", now); !ok || got.UTC().Hour() != 14 {
		t.Errorf("retryAfter(HTTP date) = %v, %v", got, ok)
	}
	if _, ok := retryAfter("soon", now); ok {
		t.Error("retryAfter accepts garbage")
	}
	c := &Core{settings: &settingsStore{policy: &Policy{}}}
	in := time.Now().Add(90 * time.Second)
	got := c.formatUntil(in)
	if want := in.Truncate(time.Minute).Add(time.Minute).Format("15:04"); got != want && !strings.Contains(got, want) {
		t.Errorf("formatUntil = %q, want %q (rounded up)", got, want)
	}
}
