package dlx_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/bildbote/bildbote/portal"
	"github.com/bildbote/bildbote/portal/accesscode"
	"github.com/bildbote/bildbote/transfer/dlx"
)

// TestLockOutFromTheRealPortal: the client reads the portal's lock-out
// (401 with Retry-After in seconds) as a WrongAnswerError that says how
// long to wait, the same for a real and an unknown code, so the app can
// show "locked, try again at HH:MM".
func TestLockOutFromTheRealPortal(t *testing.T) {
	p := startPortal(t, portal.Config{})
	code, _ := p.issue(t, 1000, time.Now().Add(time.Hour))
	c := &dlx.Client{Base: p.ts.URL + "/dlx/v1", Retry: fast()}
	ctx := context.Background()
	try := func(token, date string) *dlx.WrongAnswerError {
		t.Helper()
		_, err := c.Authorize(ctx, token, []dlx.Answer{{QuestionID: "1", Answer: date}})
		var wa *dlx.WrongAnswerError
		if !errors.As(err, &wa) {
			t.Fatalf("Authorize: %v", err)
		}
		return wa
	}
	unknown := accesscode.Generate()
	for i := range 5 {
		if a, b := try(code, "19000101"), try(unknown, "19000101"); a.RetryAfter != "" || b.RetryAfter != "" {
			t.Fatalf("wrong answer %d already locked: %q %q", i, a.RetryAfter, b.RetryAfter)
		}
	}
	a, b := try(code, "19580214"), try(unknown, "19580214")
	if n, err := strconv.Atoi(a.RetryAfter); err != nil || n < 1 || n > 60 || a.RetryAfter != b.RetryAfter {
		t.Fatalf("locked: Retry-After %q (unknown code: %q)", a.RetryAfter, b.RetryAfter)
	}
}

// TestAnswerBudgetFromTheRealPortal: beyond the portal's global budget
// the answer gets 503 with timeOutInSeconds; the client waits and then
// gets in, instead of reporting a wrong answer.
func TestAnswerBudgetFromTheRealPortal(t *testing.T) {
	p := startPortal(t, portal.Config{Answers: portal.AnswerLimits{Rate: 2, Burst: 1}})
	code, _ := p.issue(t, 1000, time.Now().Add(time.Hour))
	c := &dlx.Client{Base: p.ts.URL + "/dlx/v1", Retry: fast()}
	ctx := context.Background()
	if _, err := c.Authorize(ctx, accesscode.Generate(), []dlx.Answer{{QuestionID: "1", Answer: "19000101"}}); err == nil {
		t.Fatal("an unknown code was accepted")
	}
	start := time.Now()
	if _, err := c.Authorize(ctx, code, []dlx.Answer{{QuestionID: "1", Answer: "19580214"}}); err != nil {
		t.Fatalf("Authorize over budget: %v", err)
	}
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Fatalf("got in after %v: the budget did not answer 503", waited)
	}
}
