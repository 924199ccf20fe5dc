package portal

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bildbote/bildbote/portal/accesscode"
)

// fakeClock is Config.Now for tests: lock-outs and the budget run on it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// from is an HTTP client whose connections leave from the loopback
// address 127.0.0.n: on Linux all of 127/8 reaches the portal on
// 127.0.0.1, so every n is a different client address to the portal.
func from(n int) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(n))}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// answer is a tfaAnswer response as a client sees it.
type answer struct {
	status int
	body   []byte
	header http.Header
	took   time.Duration
}

// tfa posts a date-of-birth answer for token from address n.
func (p *testPortal) tfa(n int, token, dob string) answer {
	p.t.Helper()
	start := time.Now()
	resp, err := from(n).Post(p.ts.URL+"/dlx/v1/tokentfa/"+token, "application/json", bytes.NewReader(answers("1", dob)))
	if err != nil {
		p.t.Fatalf("tokentfa from 127.0.0.%d: %v", n, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, body: body, header: resp.Header, took: time.Since(start)}
}

// sameAnswer fails unless a and b are the same to a client: status, body
// bytes and every header but Date.
func sameAnswer(t *testing.T, what string, a, b answer) {
	t.Helper()
	if a.status != b.status || !bytes.Equal(a.body, b.body) {
		t.Errorf("%s: %d %q vs %d %q", what, a.status, a.body, b.status, b.body)
	}
	for _, h := range []http.Header{a.header, b.header} {
		h.Del("Date")
	}
	if fmt.Sprint(a.header) != fmt.Sprint(b.header) {
		t.Errorf("%s: headers differ:\n%v\n%v", what, a.header, b.header)
	}
}

func isLocked(a answer) bool {
	return a.status == 401 && a.header.Get("Retry-After") != "" && strings.Contains(string(a.body), `"locked"`)
}

const wrongDOB = "19000101"

// maxFailures is the default AddrTokenFailures.
var maxFailures = func() int { var l AnswerLimits; l.setDefaults(); return l.AddrTokenFailures }()

func TestBackoffGrows(t *testing.T) {
	if backoff(0) != time.Minute || backoff(1) != 2*time.Minute || backoff(10) != 1024*time.Minute || backoff(11) != 24*time.Hour || backoff(100) != 24*time.Hour {
		t.Fatal("lock-out schedule")
	}
}

// TestLockIsPerAddressAndToken: five wrong answers from one address lock
// that address out of that code, told when to try again exactly as for
// an unknown code; the patient, from another address, still gets in.
func TestLockIsPerAddressAndToken(t *testing.T) {
	clock := newFakeClock()
	p := startPortal(t, t.TempDir(), func(c *Config) { c.Now = clock.Now })
	code, _ := p.issuePDFCode("19580214", time.Now().Add(48*time.Hour))
	unknown := accesscode.Generate()
	for i := range maxFailures {
		if a, b := p.tfa(2, code, wrongDOB), p.tfa(3, unknown, wrongDOB); a.status != 401 || isLocked(a) {
			t.Fatalf("wrong answer %d: %d %s", i, a.status, a.body)
		} else {
			sameAnswer(t, "wrong answer", a, b)
		}
	}
	known, unk := p.tfa(2, code, "19580214"), p.tfa(3, unknown, "19580214")
	if !isLocked(known) || known.header.Get("Retry-After") != "60" {
		t.Fatalf("the attacking address is not locked out: %d %s %v", known.status, known.body, known.header)
	}
	sameAnswer(t, "locked address, real vs unknown code", known, unk)
	// The patient from their own address: in at once.
	if a := p.tfa(9, code, "19580214"); a.status != 200 {
		t.Fatalf("the patient is locked out by someone else's wrong answers: %d %s", a.status, a.body)
	}
	// The attacker's lock grows with every further failure after it ends.
	clock.advance(61 * time.Second)
	if a := p.tfa(2, code, wrongDOB); a.status != 401 || isLocked(a) {
		t.Fatalf("after the lock: %d %s", a.status, a.body)
	}
	if a := p.tfa(2, code, wrongDOB); !isLocked(a) || a.header.Get("Retry-After") != "120" {
		t.Fatalf("second lock: %d %v", a.status, a.header)
	}
}

// TestNoOracleFromAFreshAddress is the attack of issue 12: after five
// wrong answers on a real code, a fresh address probing it gets exactly
// what it gets for an unknown code.
func TestNoOracleFromAFreshAddress(t *testing.T) {
	p := startPortal(t, t.TempDir())
	code, _ := p.issuePDFCode("19580214", time.Now().Add(time.Hour))
	for range maxFailures {
		p.tfa(2, code, wrongDOB)
	}
	if a := p.tfa(2, code, wrongDOB); !isLocked(a) {
		t.Fatalf("not locked after %d wrong answers: %d %s", maxFailures, a.status, a.body)
	}
	known, unk := p.tfa(5, code, wrongDOB), p.tfa(6, accesscode.Generate(), wrongDOB)
	if known.status != 401 || known.header.Get("Retry-After") != "" {
		t.Fatalf("fresh address on the real code: %d %v %s", known.status, known.header, known.body)
	}
	sameAnswer(t, "fresh address, real vs unknown code", known, unk)
	malformed := p.tfa(7, "not-a-code", wrongDOB)
	sameAnswer(t, "fresh address, real vs malformed code", known, malformed)
}

// TestCodeWideLockUnderGlobalAttack: wrong answers from many addresses
// lock a code for everyone, and an unknown code under the same attack
// locks the same way (shadow counters), so even then a fresh address
// cannot tell them apart. `code extend --unlock` (over the admin socket,
// while the server runs) lets the patient in again.
func TestCodeWideLockUnderGlobalAttack(t *testing.T) {
	clock := newFakeClock()
	dir := t.TempDir()
	p := startPortal(t, dir, func(c *Config) { c.Now = clock.Now; c.Answers.Rate = -1 })
	code, rid := p.issuePDFCode("19580214", time.Now().Add(48*time.Hour))
	unknown := accesscode.Generate()
	lim := p.srv.guard.lim
	perAddr := lim.AddrTokenFailures - 1 // stay below the address lock
	addrs := (lim.CodeFailures + perAddr - 1) / perAddr
	if addrs < lim.CodeAddrs {
		t.Fatalf("test needs %d addresses", lim.CodeAddrs)
	}
	for n := 10; n < 10+addrs; n++ {
		for range perAddr {
			a, b := p.tfa(n, code, wrongDOB), p.tfa(n+100, unknown, wrongDOB)
			sameAnswer(t, "attack", a, b)
		}
	}
	known, unk := p.tfa(200, code, "19580214"), p.tfa(201, unknown, "19580214")
	if !isLocked(known) {
		t.Fatalf("a code attacked from %d addresses is not locked: %d %s", addrs, known.status, known.body)
	}
	sameAnswer(t, "code-wide lock, real vs unknown code", known, unk)

	if err := p.srv.ListenAdmin(); err != nil {
		t.Fatal(err)
	}
	admin, err := DialAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	list, err := admin.ListCodes(t.Context())
	if err != nil || len(list) != 1 || list[0].Failures < lim.CodeFailures || !list[0].LockedUntil.After(clock.Now()) {
		t.Fatalf("code list over the socket: %+v %v", list, err)
	}
	before := list[0].ExpiresAt
	info, err := admin.ExtendCode(t.Context(), ExtendRequest{Ref: rid, Unlock: true})
	if err != nil || info.Failures != 0 || !info.LockedUntil.IsZero() || !info.ExpiresAt.Equal(before) {
		t.Fatalf("unlock: %+v %v", info, err)
	}
	if a := p.tfa(200, code, "19580214"); a.status != 200 {
		t.Fatalf("after --unlock: %d %s", a.status, a.body)
	}
	// The unknown code stays locked: unlocking one code lifts nothing else.
	if a := p.tfa(202, unknown, wrongDOB); !isLocked(a) {
		t.Fatalf("unknown code after unlocking another: %d %s", a.status, a.body)
	}
}

// TestAddressWideLock: one address probing many codes is locked out of
// all of them, the real code included; other addresses are not.
func TestAddressWideLock(t *testing.T) {
	p := startPortal(t, t.TempDir())
	code, _ := p.issuePDFCode("19580214", time.Now().Add(time.Hour))
	for range p.srv.guard.lim.AddrFailures {
		if a := p.tfa(2, accesscode.Generate(), wrongDOB); a.status != 401 || isLocked(a) {
			t.Fatalf("probe: %d %s", a.status, a.body)
		}
	}
	known, unk := p.tfa(2, code, "19580214"), p.tfa(2, accesscode.Generate(), "19580214")
	if !isLocked(known) {
		t.Fatalf("probing address not locked: %d %s", known.status, known.body)
	}
	sameAnswer(t, "locked address", known, unk)
	if a := p.tfa(3, code, "19580214"); a.status != 200 {
		t.Fatalf("another address: %d", a.status)
	}
}

// TestParallelGuessesGetNoExtraTries: twenty wrong answers at once from
// one address are not twenty tries: only five are checked.
func TestParallelGuessesGetNoExtraTries(t *testing.T) {
	p := startPortal(t, t.TempDir())
	code, _ := p.issuePDFCode("19580214", time.Now().Add(time.Hour))
	var wg sync.WaitGroup
	var mu sync.Mutex
	locked := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := p.tfa(2, code, wrongDOB)
			mu.Lock()
			defer mu.Unlock()
			if isLocked(a) {
				locked++
			} else if a.status != 401 {
				t.Errorf("wrong answer: %d", a.status)
			}
		}()
	}
	wg.Wait()
	failures, _ := p.srv.guard.state(p.srv.tokenKey(code))
	if failures != maxFailures || locked != 20-maxFailures {
		t.Fatalf("%d failures counted, %d locked answers; want %d checked", failures, locked, maxFailures)
	}
	if a := p.tfa(2, code, "19580214"); !isLocked(a) {
		t.Fatalf("right answer after the burst: %d", a.status)
	}
}

// TestSuccessGivesBackItsTry: four wrong answers and a right one leave
// the address unlocked and clear the code's counter.
func TestSuccessGivesBackItsTry(t *testing.T) {
	p := startPortal(t, t.TempDir())
	code, _ := p.issuePDFCode("19580214", time.Now().Add(time.Hour))
	for range maxFailures - 1 {
		p.tfa(2, code, wrongDOB)
	}
	for range 3 {
		if a := p.tfa(2, code, "19580214"); a.status != 200 {
			t.Fatalf("right answer: %d", a.status)
		}
	}
	if f, until := p.srv.guard.state(p.srv.tokenKey(code)); f != 0 || !until.IsZero() {
		t.Fatalf("code after success: %d failures, locked until %v", f, until)
	}
}

// TestAnswerBudget: beyond the global budget every address gets DLX's 503
// with timeOutInSeconds, the same for real and unknown codes, and the
// budget refills at its rate.
func TestAnswerBudget(t *testing.T) {
	clock := newFakeClock()
	p := startPortal(t, t.TempDir(), func(c *Config) {
		c.Now = clock.Now
		c.Answers = AnswerLimits{Rate: 1, Burst: 3}
	})
	code, _ := p.issuePDFCode("19580214", time.Now().Add(48*time.Hour))
	for n := range 3 {
		if a := p.tfa(10+n, accesscode.Generate(), wrongDOB); a.status != 401 {
			t.Fatalf("within the burst: %d", a.status)
		}
	}
	known, unk := p.tfa(20, code, "19580214"), p.tfa(21, accesscode.Generate(), wrongDOB)
	if known.status != 503 || known.header.Get("Retry-After") != "1" || string(bytes.TrimSpace(known.body)) != `{"timeOutInSeconds":1}` {
		t.Fatalf("over budget: %d %v %s", known.status, known.header, known.body)
	}
	sameAnswer(t, "over budget, real vs unknown code", known, unk)
	clock.advance(time.Second)
	if a := p.tfa(20, code, "19580214"); a.status != 200 {
		t.Fatalf("after a second the budget has one check: %d %s", a.status, a.body)
	}
	if a := p.tfa(22, code, "19580214"); a.status != 503 {
		t.Fatalf("and only one: %d", a.status)
	}
}

// TestAnswerBudgetUnderLoad: 40 addresses hammering with wrong answers on
// the real clock reach the hashing at no more than the budget's rate.
func TestAnswerBudgetUnderLoad(t *testing.T) {
	const rate, burst, clients = 20, 10, 40
	p := startPortal(t, t.TempDir(), func(c *Config) { c.Answers = AnswerLimits{Rate: rate, Burst: burst} })
	code, _ := p.issuePDFCode("19580214", time.Now().Add(time.Hour))
	var checked, busy, other sync.Map
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(2 * time.Second)
	for n := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				token := code
				if i%2 == 1 {
					token = accesscode.Generate()
				}
				a := p.tfa(10+n, token, wrongDOB)
				m := &other
				switch {
				case a.status == 401 && !isLocked(a):
					m = &checked
				case a.status == 503 && a.header.Get("Retry-After") != "":
					m = &busy
				case isLocked(a):
					continue // this address's own lock
				}
				v, _ := m.LoadOrStore(n, new(int))
				*v.(*int)++ // one goroutine per key
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	sum := func(m *sync.Map) (s int) {
		m.Range(func(_, v any) bool { s += *v.(*int); return true })
		return
	}
	c, b, o := sum(&checked), sum(&busy), sum(&other)
	t.Logf("%d addresses, %.1f s: %d answers checked (%.1f/s, budget %d/s + burst %d), %d got 503", clients, elapsed, c, float64(c)/elapsed, rate, burst, b)
	if o != 0 {
		t.Fatalf("%d unexpected answers", o)
	}
	if limit := burst + int(rate*elapsed) + 2; c > limit {
		t.Fatalf("%d checks in %.1f s, budget allows %d", c, elapsed, limit)
	}
	if b == 0 {
		t.Fatal("the budget never answered 503")
	}
}

// TestGuardIsBounded: the counters keep at most MaxTracked tokens and
// addresses, whatever is thrown at them.
func TestGuardIsBounded(t *testing.T) {
	g := newAnswerGuard(AnswerLimits{MaxTracked: 100, Rate: -1})
	now := time.Now()
	pairs := func() (n int) {
		for _, t := range g.tokens {
			n += len(t.addrs)
		}
		return
	}
	for i := range 1000 {
		g.begin(fmt.Sprint("addr", i), fmt.Sprint("token", i), now)
		// Many addresses on few tokens, too.
		g.begin(fmt.Sprint("many", i), fmt.Sprint("few", i%3), now)
	}
	if len(g.tokens) > 100 || len(g.addrs) > 100 || g.pairs > 100 || g.pairs != pairs() {
		t.Fatalf("%d tokens, %d addresses, %d (%d) address-on-token counters tracked", len(g.tokens), len(g.addrs), g.pairs, pairs())
	}
	g.forget(now.Add(25 * time.Hour))
	if len(g.tokens) != 0 || len(g.addrs) != 0 || g.pairs != 0 {
		t.Fatalf("forget left %d tokens, %d addresses, %d counters", len(g.tokens), len(g.addrs), g.pairs)
	}
}

// TestLockedAnswersTakeAsLongAsUnknown measures with the real argon2id
// cost: a code locked for everyone, a real code with a wrong answer and
// an unknown code all spend the same hashing time (the attack of issue
// 12 saw 1 ms for "locked" against 69 ms for "unknown").
func TestLockedAnswersTakeAsLongAsUnknown(t *testing.T) {
	saved, savedDummy := hashCost, dummyHash
	hashCost.time, hashCost.memory = argonTime, argonMemory
	dummyHash = newSlowHash("bildbote-dummy")
	t.Cleanup(func() { hashCost, dummyHash = saved, savedDummy })

	p := startPortal(t, t.TempDir(), func(c *Config) {
		c.Answers = AnswerLimits{CodeFailures: 2, CodeAddrs: 2, Rate: -1}
	})
	locked, _ := p.issuePDFCode("19580214", time.Now().Add(time.Hour))
	real, _ := p.issuePDFCode("19600131", time.Now().Add(time.Hour))
	p.tfa(2, locked, wrongDOB)
	p.tfa(3, locked, wrongDOB)
	if a := p.tfa(4, locked, wrongDOB); !isLocked(a) {
		t.Fatalf("setup: code not locked: %d %s", a.status, a.body)
	}
	const n = 11
	var tLocked, tUnknown, tWrong []time.Duration
	for i := range n {
		// Interleaved, each from a fresh address, so load on the machine
		// hits all three alike.
		a := p.tfa(10+4*i, locked, wrongDOB)
		b := p.tfa(11+4*i, accesscode.Generate(), wrongDOB)
		c := p.tfa(12+4*i, real, wrongDOB)
		if !isLocked(a) || b.status != 401 || isLocked(b) || c.status != 401 || isLocked(c) {
			t.Fatalf("try %d: %d %s, %d %s, %d %s", i, a.status, a.body, b.status, b.body, c.status, c.body)
		}
		// The patient logs in, which clears the real code's counter, so
		// it never reaches this test's low code-wide threshold.
		if d := p.tfa(13+4*i, real, "19600131"); d.status != 200 {
			t.Fatalf("patient: %d", d.status)
		}
		tLocked, tUnknown, tWrong = append(tLocked, a.took), append(tUnknown, b.took), append(tWrong, c.took)
	}
	median := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	ml, mu, mw := median(tLocked), median(tUnknown), median(tWrong)
	t.Logf("medians of %d (real argon2id cost): locked %v, unknown %v, real code wrong answer %v", n, ml, mu, mw)
	for _, c := range []struct {
		what string
		a, b time.Duration
	}{{"locked/unknown", ml, mu}, {"wrong/unknown", mw, mu}} {
		if r := float64(c.a) / float64(c.b); r < 0.5 || r > 2 {
			t.Errorf("%s = %.2f, want within 0.5..2 (the oracle was 0.015)", c.what, r)
		}
	}
}

// TestStoredSheetsAreDeleted: a sheet an earlier version left in
// DIR/sheets is deleted when the server starts, and one that appears
// later by the next sweep; the log says how many, never the code.
func TestStoredSheetsAreDeleted(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, sheetsDir, "abcdefgh23.pdf")
	makePDF(t, old, "ABCD-EFGH-JKMN")
	var logs lockedBuffer
	p := startPortal(t, dir, withLog(&logs))
	if fileExists(old) || fileExists(filepath.Dir(old)) {
		t.Fatal("a stored sheet survived the start")
	}
	makePDF(t, old, "ABCD-EFGH-JKMN")
	p.srv.Sweep(context.Background(), time.Now())
	if fileExists(old) {
		t.Fatal("a stored sheet survived the sweep")
	}
	if out := logs.String(); strings.Count(out, `"count":1`) != 2 || strings.Contains(out, "ABCD") {
		t.Fatalf("log:\n%s", out)
	}
}

func withLog(w io.Writer) func(*Config) {
	return func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(w, nil)) }
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
