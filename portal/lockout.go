package portal

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bildbote/bildbote/portal/accesscode"
)

// AnswerLimits bound the guessing of access codes and their answers
// (POST tokentfa). Zero values take the defaults named.
//
// All lock state lives in memory and is keyed by the HMAC of the token as
// sent, never by whether a code exists: an unknown token is counted,
// locked and answered exactly like a real code ("shadow" counters), so a
// lock-out tells nothing about which codes exist. A restart of the server
// lifts every lock.
type AnswerLimits struct {
	// AddrTokenFailures wrong answers from one address (an IPv6 /64) on
	// one token lock that address out of that token: 1 minute, doubling
	// with every further failure, at most a day (5). The address is told
	// when to try again (401 with Retry-After); other addresses, such as
	// the patient's, are not affected.
	AddrTokenFailures int
	// AddrFailures wrong answers from one address over all tokens lock
	// the address out of every token, with the same backoff (10). This
	// bounds how many codes one address can probe.
	AddrFailures int
	// CodeFailures wrong answers on one token, from at least CodeAddrs
	// different addresses, lock the token for everyone (a global attack):
	// 1 minute, doubling with every further failure, at most a day (20
	// from 4). `code extend --unlock` lifts it.
	CodeFailures int
	CodeAddrs    int
	// Rate is the global budget of answer checks per second, over all
	// clients together, and Burst how many may come at once (2 per second
	// = 120 a minute, burst 40). Beyond it tokentfa answers 503 with
	// Retry-After and {"timeOutInSeconds": N}. A negative Rate switches
	// the budget off.
	Rate  float64
	Burst int
	// MaxTracked is how many tokens, addresses and address-on-token
	// counters are kept at most (100000 each, about 60 MB at worst);
	// beyond it an unlocked entry is forgotten.
	MaxTracked int
}

func (l *AnswerLimits) setDefaults() {
	if l.AddrTokenFailures <= 0 {
		l.AddrTokenFailures = 5
	}
	if l.AddrFailures <= 0 {
		l.AddrFailures = 10
	}
	if l.CodeFailures <= 0 {
		l.CodeFailures = 20
	}
	if l.CodeAddrs <= 0 {
		l.CodeAddrs = 4
	}
	if l.Rate == 0 {
		l.Rate = 2
	}
	if l.Burst <= 0 {
		l.Burst = 40
	}
	if l.MaxTracked <= 0 {
		l.MaxTracked = 100000
	}
}

// minAddrsPerToken is the least number of per-address counters kept for
// one token (at least CodeAddrs); more addresses still count towards the
// token's total.
const minAddrsPerToken = 8

// verdict is what the guard decides about an answer attempt.
type verdict int

const (
	admitted   verdict = iota // check the answers
	lockedAddr                // this address is locked out (of this token or all)
	lockedCode                // the token is locked for everyone
	overBudget                // the global budget is spent
)

// failCount counts wrong answers of one unit (an address, an address on
// a token, a token).
type failCount struct {
	failures    int
	lockedUntil time.Time
	last        time.Time
}

func (f *failCount) locked(now time.Time) bool { return now.Before(f.lockedUntil) }

// fail counts a failure and locks once threshold is reached.
func (f *failCount) fail(now time.Time, threshold int) {
	f.failures++
	f.last = now
	if f.failures >= threshold {
		f.lockedUntil = now.Add(backoff(f.failures - threshold))
	}
}

// takeBack undoes one fail (the attempt turned out right).
func (f *failCount) takeBack(threshold int) {
	if f.failures > 0 {
		f.failures--
	}
	if f.failures < threshold {
		f.lockedUntil = time.Time{}
	}
}

// backoff is the lock after the threshold plus over further failures: a
// minute, doubling, at most a day.
func backoff(over int) time.Duration {
	return min(time.Minute<<min(max(over, 0), 11), 24*time.Hour)
}

type tokenState struct {
	failCount
	addrs map[string]*failCount
}

// answerGuard holds the lock counters and the global budget.
type answerGuard struct {
	lim AnswerLimits

	mu     sync.Mutex
	addrs  map[string]*failCount
	tokens map[string]*tokenState
	pairs  int // per-address counters in all tokens
	// token bucket
	avail float64
	at    time.Time
}

func newAnswerGuard(lim AnswerLimits) *answerGuard {
	lim.setDefaults()
	return &answerGuard{lim: lim, addrs: map[string]*failCount{}, tokens: map[string]*tokenState{}, avail: float64(lim.Burst)}
}

// begin decides about an attempt from addr on token (a tokenKey). An
// admitted attempt counts as a failure until succeed takes it back, so
// parallel requests get no extra tries. wait is when to come back.
func (g *answerGuard) begin(addr, token string, now time.Time) (verdict, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.addrs[addr]
	if a != nil && a.locked(now) {
		return lockedAddr, a.lockedUntil.Sub(now)
	}
	t := g.tokens[token]
	if t != nil {
		if at := t.addrs[addr]; at != nil && at.locked(now) {
			return lockedAddr, at.lockedUntil.Sub(now)
		}
	}
	if wait, ok := g.spend(now); !ok {
		return overBudget, wait
	}
	if t != nil && t.locked(now) {
		return lockedCode, t.lockedUntil.Sub(now)
	}
	if a == nil {
		a = &failCount{}
		g.makeRoom(now)
		g.addrs[addr] = a
	}
	a.fail(now, g.lim.AddrFailures)
	if t == nil {
		t = &tokenState{addrs: map[string]*failCount{}}
		if len(g.tokens) >= g.lim.MaxTracked {
			victim := ""
			for k, v := range g.tokens {
				victim = k
				if !v.locked(now) {
					break
				}
			}
			g.dropToken(victim)
		}
		g.tokens[token] = t
	}
	at := t.addrs[addr]
	if at == nil && len(t.addrs) < max(minAddrsPerToken, g.lim.CodeAddrs) && g.roomForPair(now) {
		at = &failCount{}
		t.addrs[addr] = at
		g.pairs++
	}
	if at != nil {
		at.fail(now, g.lim.AddrTokenFailures)
	}
	t.failures++
	t.last = now
	if t.failures >= g.lim.CodeFailures && len(t.addrs) >= g.lim.CodeAddrs {
		t.lockedUntil = now.Add(backoff(t.failures - g.lim.CodeFailures))
	}
	return admitted, 0
}

// spend takes one answer check from the global budget, or says how long
// until one is free.
func (g *answerGuard) spend(now time.Time) (time.Duration, bool) {
	if g.lim.Rate < 0 {
		return 0, true
	}
	if elapsed := now.Sub(g.at); elapsed > 0 {
		g.avail = min(float64(g.lim.Burst), g.avail+elapsed.Seconds()*g.lim.Rate)
	}
	g.at = now
	if g.avail >= 1 {
		g.avail--
		return 0, true
	}
	return time.Duration((1 - g.avail) / g.lim.Rate * float64(time.Second)), false
}

// dropToken forgets a token's counters.
func (g *answerGuard) dropToken(token string) {
	if t := g.tokens[token]; t != nil {
		g.pairs -= len(t.addrs)
		delete(g.tokens, token)
	}
}

// roomForPair makes room for one more per-address counter when there are
// MaxTracked: it forgets an unlocked one, or says there is no room (the
// address-wide counter and the token's total still count the attempt).
func (g *answerGuard) roomForPair(now time.Time) bool {
	if g.pairs < g.lim.MaxTracked {
		return true
	}
	for _, t := range g.tokens {
		for a, f := range t.addrs {
			if !f.locked(now) {
				delete(t.addrs, a)
				g.pairs--
				return true
			}
		}
	}
	return false
}

// makeRoom forgets one address when there are MaxTracked: an unlocked
// one if there is one (map order is random), else any.
func (g *answerGuard) makeRoom(now time.Time) {
	if len(g.addrs) < g.lim.MaxTracked {
		return
	}
	victim := ""
	for k, v := range g.addrs {
		victim = k
		if !v.locked(now) {
			break
		}
	}
	delete(g.addrs, victim)
}

// succeed: the attempt was right. Its address gets back the failure begin
// counted (earlier failures stay: one valid code must not reset an
// attacker's count), its counter on the token and the token's own are
// cleared; other addresses' counters on the token stay.
func (g *answerGuard) succeed(addr, token string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if a := g.addrs[addr]; a != nil {
		a.takeBack(g.lim.AddrFailures)
	}
	if t := g.tokens[token]; t != nil {
		t.failCount = failCount{last: t.last}
		if _, ok := t.addrs[addr]; ok {
			delete(t.addrs, addr)
			g.pairs--
		}
		if len(t.addrs) == 0 {
			g.dropToken(token)
		}
	}
}

// unlock lifts every lock of a token: its own and those of every address
// on it, and the address-wide locks of those addresses.
func (g *answerGuard) unlock(token string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := g.tokens[token]; t != nil {
		for addr := range t.addrs {
			if a := g.addrs[addr]; a != nil {
				a.failures, a.lockedUntil = 0, time.Time{}
			}
		}
	}
	g.dropToken(token)
}

// state is a token's wrong answers and code-wide lock (for `code list`).
func (g *answerGuard) state(token string) (int, time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := g.tokens[token]; t != nil {
		return t.failures, t.lockedUntil
	}
	return 0, time.Time{}
}

// forget drops counters without a failure for a day whose lock is over.
func (g *answerGuard) forget(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	stale := func(f *failCount) bool { return now.Sub(f.last) > 24*time.Hour && !f.locked(now) }
	for k, a := range g.addrs {
		if stale(a) {
			delete(g.addrs, k)
		}
	}
	for k, t := range g.tokens {
		if stale(&t.failCount) {
			g.dropToken(k)
		}
	}
}

// tokenKey is what the guard counts a token under: the HMAC index of the
// normalised code (for real and unknown codes alike), or of the raw value
// when it is no well-formed code. Neither reveals the code.
func (s *Server) tokenKey(value string) string {
	if code, ok := accesscode.Normalize(value); ok {
		return string(indexKey(s.store.indexKey, code))
	}
	return string(indexKey(s.store.indexKey, "raw:"+value))
}

// spendChecks spends the hashing time of checking a code and answers to
// questions without checking anything: a locked or unknown token costs
// what a real one does.
func spendChecks(code string, questions []question) {
	dummyHash.matches(code)
	for range questions {
		dummyHash.matches(code)
	}
}

// writeLocked answers a locked-out attempt: 401 like every other failure,
// with a Retry-After (whole seconds) the DLX client shows as "try again
// at HH:MM". The body is the same for every lock and every token.
func writeLocked(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(wait)))
	writeError(w, http.StatusUnauthorized, "locked", "too many wrong answers, try again later")
}

// writeBusy answers beyond the global budget: DLX's 503 with
// timeOutInSeconds, and Retry-After.
func writeBusy(w http.ResponseWriter, wait time.Duration) {
	n := ceilSeconds(wait)
	w.Header().Set("Retry-After", strconv.Itoa(n))
	writeJSON(w, http.StatusServiceUnavailable, comebackLater{TimeOutInSeconds: n})
}

func ceilSeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}

// listCodes is ListCodes with the running server's lock state.
func (s *Server) listCodes(ctx context.Context) ([]CodeInfo, error) {
	list, err := s.store.ListCodes(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := s.store.indexKeysByRecord()
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].Failures, list[i].LockedUntil = s.guard.state(keys[list[i].RecordID])
	}
	return list, nil
}

// extendCode is ExtendCode that also lifts the code's lock-outs when
// asked (`code extend --unlock`).
func (s *Server) extendCode(ctx context.Context, req ExtendRequest) (CodeInfo, error) {
	info, err := s.store.ExtendCode(ctx, req)
	if err != nil {
		return info, err
	}
	keys, err := s.store.indexKeysByRecord()
	if err != nil {
		return info, err
	}
	if req.Unlock {
		s.guard.unlock(keys[info.RecordID])
	}
	info.Failures, info.LockedUntil = s.guard.state(keys[info.RecordID])
	return info, nil
}

// indexKeysByRecord maps record IDs to their code's index key (the
// HMAC the guard counts a token under).
func (s *Store) indexKeysByRecord() (map[string]string, error) {
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCodeIndex).ForEach(func(k, v []byte) error {
			out[string(v)] = string(k)
			return nil
		})
	})
	return out, err
}
