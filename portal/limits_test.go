package portal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/transfer/diskspace"
)

// Regression tests for the upload-side attacks of issue 12, each on the
// real portal over loopback HTTP with the attack client written here.

// clientFrom is an HTTP client whose connections come from ip (any
// 127.0.0.0/8 address is loopback on Linux), so tests can be several
// client addresses.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 200}}
}

type tusAnswer struct {
	status int
	header http.Header
	err    wire.Error
	loc    string // upload path
	secret string
}

// create is a tus creation POST from client c.
func (p *testPortal) create(c *http.Client, size int64, meta string) tusAnswer {
	p.t.Helper()
	req, _ := http.NewRequest("POST", p.ts.URL+wire.UploadsPath, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", fmt.Sprint(size))
	req.Header.Set("Upload-Metadata", meta)
	resp, err := c.Do(req)
	if err != nil {
		p.t.Errorf("create: %v", err)
		return tusAnswer{}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := tusAnswer{status: resp.StatusCode, header: resp.Header, secret: resp.Header.Get(wire.UploadSecretHeader)}
	json.Unmarshal(body, &a.err)
	if loc := resp.Header.Get("Location"); loc != "" {
		a.loc = strings.TrimPrefix(loc, p.ts.URL)
	}
	return a
}

// send creates an upload from c and sends all of data; it returns the
// creation's answer and, when created, the final PATCH's status.
func (p *testPortal) send(c *http.Client, community string, data []byte, extra ...string) (tusAnswer, int) {
	p.t.Helper()
	a := p.create(c, int64(len(data)), tusMetadata(append([]string{"community", community, "sha256", sha(data)}, extra...)...))
	if a.status != 201 {
		return a, 0
	}
	req, _ := http.NewRequest("PATCH", p.ts.URL+a.loc, bytes.NewReader(data))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set(wire.UploadSecretHeader, a.secret)
	resp, err := c.Do(req)
	if err != nil {
		p.t.Fatalf("patch: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return a, resp.StatusCode
}

// rss is this process's resident set in bytes (/proc/self/status).
func rss(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// TestPasswordChecksShareOneBoundedPool: 150 parallel wrong upload
// passwords at the production argon2id cost (19 MiB each) hash at most
// HashSlots at a time; the rest wait at most HashWait and get 503 with a
// Retry-After. The attack run saw 55 MB → 3.9 GB.
func TestPasswordChecksShareOneBoundedPool(t *testing.T) {
	saved := hashCost
	hashCost.time, hashCost.memory = argonTime, argonMemory
	defer func() { hashCost = saved }()
	p := startPortal(t, t.TempDir(), func(c *Config) {
		c.Limits.HashSlots = 2
		c.Limits.HashWait = time.Second
		c.Limits.PasswordAddrFailures = 1 << 20 // measure the pool, not the lock-out
		c.Limits.PasswordInboxFailures = 1 << 20
	})
	p.addCommunity("Secret", 1<<20, "open sesame")
	hashCost = saved
	wrong := tusMetadata("community", "Secret", "sha256", sha([]byte("x")), "password", "guess")

	var peak atomic.Int64
	base := rss(t)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := rss(t); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	c := clientFrom("127.0.0.1")
	var wg sync.WaitGroup
	var forbidden, busy, other atomic.Int32
	start := time.Now()
	for range 150 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := p.create(c, 10, wrong)
			switch {
			case a.status == 403 && a.err.Error == "wrong-password":
				forbidden.Add(1)
			case a.status == 503 && a.err.Error == "busy" && a.header.Get("Retry-After") != "":
				busy.Add(1)
			default:
				other.Add(1)
				t.Errorf("answer %d %+v", a.status, a.err)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(stop)
	<-sampled
	growth := peak.Load() - base
	t.Logf("150 parallel wrong passwords at 19 MiB each: RSS %d MiB → peak %d MiB (+%d MiB) in %v; %d checked (403), %d told to retry (503)",
		base>>20, peak.Load()>>20, growth>>20, took.Round(time.Millisecond), forbidden.Load(), busy.Load())
	// Unbounded, 150 parallel checks need 150 × 19 MiB = 2.8 GiB. Bounded,
	// growth is about 80 MiB (2 × 19 MiB live plus GC headroom, buffers,
	// goroutines); the race detector's shadow memory can triple that.
	if growth > 640<<20 {
		t.Fatalf("RSS grew by %d MiB: the hash pool does not bound memory", growth>>20)
	}
	if forbidden.Load() == 0 {
		t.Fatal("no password was checked at all")
	}
	// The right password still gets in afterwards.
	if a := p.create(c, 10, tusMetadata("community", "Secret", "sha256", sha([]byte("x")), "password", "open sesame")); a.status != 201 {
		t.Fatalf("right password after the storm: %d %+v", a.status, a.err)
	}
}

// TestUploadPasswordLockout: wrong passwords lock the address out with a
// doubling wait, and enough wrong ones from many addresses lock the inbox;
// while locked, the right password is refused too (429 + Retry-After), and
// accepted again once the lock ends.
func TestUploadPasswordLockout(t *testing.T) {
	clock := newFakeClock()
	p := startPortal(t, t.TempDir(), func(c *Config) {
		c.Now = clock.Now
		c.Limits.PasswordAddrFailures = 3
		c.Limits.PasswordInboxFailures = 4
		c.Limits.PasswordLockout = time.Second
	})
	p.addCommunity("Secret", 1<<20, "open sesame")
	p.addCommunity("Other", 1<<20, "open sesame")
	meta := func(inbox, pw string) string {
		return tusMetadata("community", inbox, "sha256", sha([]byte("x")), "password", pw)
	}
	me := clientFrom("127.0.0.1")
	for i := range 3 {
		if a := p.create(me, 10, meta("Secret", "nope")); a.status != 403 {
			t.Fatalf("wrong password %d: %d", i+1, a.status)
		}
	}
	a := p.create(me, 10, meta("Secret", "open sesame"))
	if a.status != 429 || a.err.Error != "locked" || a.header.Get("Retry-After") != "1" {
		t.Fatalf("right password while locked: %d %+v Retry-After %q", a.status, a.err, a.header.Get("Retry-After"))
	}
	// Just before the lock ends it still holds; after it, the right
	// password gets in.
	clock.advance(900 * time.Millisecond)
	if a := p.create(me, 10, meta("Secret", "open sesame")); a.status != 429 {
		t.Fatalf("right password 0.9 s into a 1 s lock: %d %+v", a.status, a.err)
	}
	clock.advance(200 * time.Millisecond)
	if a := p.create(me, 10, meta("Secret", "open sesame")); a.status != 201 {
		t.Fatalf("right password after the lock: %d %+v", a.status, a.err)
	}
	// One more wrong one locks again, twice as long.
	if a := p.create(me, 10, meta("Secret", "nope")); a.status != 403 || a.header.Get("Retry-After") != "2" {
		t.Fatalf("4th wrong password: %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
	if a := p.create(me, 10, meta("Secret", "open sesame")); a.status != 429 || a.header.Get("Retry-After") != "2" {
		t.Fatalf("right password in the doubled lock: %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}

	// Four addresses, one wrong guess each, lock inbox "Other" for a fifth
	// address that knows the password.
	for i := range 4 {
		if a := p.create(clientFrom(fmt.Sprintf("127.0.0.%d", 10+i)), 10, meta("Other", "nope")); a.status != 403 {
			t.Fatalf("guess from address %d: %d", i, a.status)
		}
	}
	honest := clientFrom("127.0.0.20")
	if a := p.create(honest, 10, meta("Other", "open sesame")); a.status != 429 || a.header.Get("Retry-After") == "" {
		t.Fatalf("right password while the inbox is locked: %d %+v", a.status, a.err)
	}
	clock.advance(1100 * time.Millisecond)
	if a := p.create(honest, 10, meta("Other", "open sesame")); a.status != 201 {
		t.Fatalf("right password after the inbox lock: %d %+v", a.status, a.err)
	}
}

// TestPasswordGuessRate: with the default limits, one address firing 500
// wrong passwords as fast as it can gets 5 of them checked (the attack run
// had 1,400–1,550 checks a minute).
func TestPasswordGuessRate(t *testing.T) {
	p := startPortal(t, t.TempDir())
	p.addCommunity("Secret", 1<<20, "open sesame")
	wrong := tusMetadata("community", "Secret", "sha256", sha([]byte("x")), "password", "guess")
	c := clientFrom("127.0.0.1")
	checked, locked := 0, 0
	start := time.Now()
	for range 500 {
		switch a := p.create(c, 10, wrong); a.status {
		case 403:
			checked++
		case 429:
			locked++
			if ra, _ := strconv.Atoi(a.header.Get("Retry-After")); ra < 1 || ra > 60 {
				t.Fatalf("Retry-After %q", a.header.Get("Retry-After"))
			}
		default:
			t.Fatalf("status %d", a.status)
		}
	}
	t.Logf("500 wrong passwords in %v from one address: %d checked, %d refused unchecked (locked)", time.Since(start).Round(time.Millisecond), checked, locked)
	if checked != 5 {
		t.Fatalf("%d passwords checked, want 5", checked)
	}
}

// TestUploadQuotas: an anonymous client cannot fill an inbox or the disk.
func TestUploadQuotas(t *testing.T) {
	const chunk = 16 << 10
	p := startPortal(t, t.TempDir(), func(c *Config) {
		c.Limits.AddrPendingBytes = 4 * chunk
		c.Limits.InboxPendingBytes = 6 * chunk
	})
	key := p.addCommunity("bM1X", 1<<20, "")
	data := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, chunk) }

	// One address: 4 × 16 KiB, then the per-client quota (413).
	one := clientFrom("127.0.0.1")
	accepted := 0
	var refusal tusAnswer
	for i := range 12 {
		a, st := p.send(one, "bM1X", data(i))
		if a.status != 201 {
			refusal = a
			break
		}
		if st != 204 {
			t.Fatalf("patch %d: %d", i, st)
		}
		accepted++
	}
	if accepted != 4 || refusal.status != 413 || refusal.err.Error != "client-quota" || refusal.err.Message == "" {
		t.Fatalf("one address: %d accepted, then %d %+v", accepted, refusal.status, refusal.err)
	}
	// The body names the quota and what holds it, for the client to say.
	if refusal.err.Limit != 4*chunk || refusal.err.Held != 4*chunk {
		t.Fatalf("client quota figures: %+v", refusal.err)
	}
	// Another address: the inbox has room for 2 more, then 507.
	two := clientFrom("127.0.0.2")
	for i := range 12 {
		a, _ := p.send(two, "bM1X", data(100+i))
		if a.status != 201 {
			refusal = a
			break
		}
		accepted++
	}
	if accepted != 6 || refusal.status != 507 || refusal.err.Error != "inbox-quota" || refusal.err.Limit != 6*chunk || refusal.err.Held != 6*chunk {
		t.Fatalf("inbox: %d accepted, then %d %+v", accepted, refusal.status, refusal.err)
	}
	t.Logf("quota: %d bytes accepted (of 12 × 16 KiB tried from each of 2 addresses) before %d %s", accepted*chunk, refusal.status, refusal.err.Error)

	// The clinic collects one envelope: there is room for one more.
	_, body := p.do("GET", "/api/v1/inbox/bM1X", hdr("Authorization", "Bearer "+key), nil)
	var list struct{ Items []wire.InboxItem }
	json.Unmarshal(body, &list)
	if len(list.Items) != 6 {
		t.Fatalf("inbox holds %d items", len(list.Items))
	}
	if resp, _ := p.do("DELETE", "/api/v1/inbox/bM1X/"+list.Items[0].ID, hdr("Authorization", "Bearer "+key), nil); resp.StatusCode != 204 {
		t.Fatal("acknowledge")
	}
	if a, st := p.send(two, "bM1X", data(200)); a.status != 201 || st != 204 {
		t.Fatalf("after the clinic collected one: %d %d", a.status, st)
	}
	if a, _ := p.send(two, "bM1X", data(201)); a.status != 507 {
		t.Fatalf("inbox full again: %d", a.status)
	}

	// The ledger survives a restart: still full.
	p.stop()
	q := startPortal(t, p.dir, func(c *Config) {
		c.Limits.AddrPendingBytes = 4 * chunk
		c.Limits.InboxPendingBytes = 6 * chunk
	})
	if a, _ := q.send(clientFrom("127.0.0.3"), "bM1X", data(300)); a.status != 507 || a.err.Error != "inbox-quota" {
		t.Fatalf("after a restart: %d %+v", a.status, a.err)
	}
}

// TestDeclaredLengthQuota: 1,000 creations declaring 20 GiB each (the
// attack run's 19.5 TiB) with the default limits: the declared lengths
// count against the quotas at creation.
func TestDeclaredLengthQuota(t *testing.T) {
	p := startPortal(t, t.TempDir())
	p.addCommunity("bM1X", 0, "") // DefaultMaxUploadBytes, 20 GiB
	meta := tusMetadata("community", "bM1X", "sha256", sha([]byte("x")))
	var declared int64
	refused := map[string]int{}
	for i := range 1000 {
		c := clientFrom(fmt.Sprintf("127.0.%d.%d", 1+i/200, 1+i%200))
		a := p.create(c, 20<<30, meta)
		switch {
		case a.status == 201:
			declared += 20 << 30
		case (a.status == 507 || a.status == 413) && a.err.Error != "":
			refused[fmt.Sprint(a.status, " ", a.err.Error)]++
		default:
			t.Fatalf("creation %d: %d %+v", i, a.status, a.err)
		}
		c.CloseIdleConnections()
	}
	t.Logf("1000 × 20 GiB declared from 1000 addresses: %d GiB accepted, refused: %v", declared>>30, refused)
	if declared > DefaultInboxPendingBytes {
		t.Fatalf("%d GiB declared accepted, more than the inbox quota", declared>>30)
	}
	// From one address: one 20 GiB upload, not two (32 GiB per client),
	// whatever this disk has free.
	q := startPortal(t, t.TempDir(), func(c *Config) { c.Limits.FreeReserve = -1 })
	q.addCommunity("bM1X", 0, "")
	me := clientFrom("127.0.0.1")
	if a := q.create(me, 20<<30, meta); a.status != 201 {
		t.Fatalf("first 20 GiB: %d %+v", a.status, a.err)
	}
	if a := q.create(me, 20<<30, meta); a.status != 413 || a.err.Error != "client-quota" {
		t.Fatalf("second 20 GiB from the same client: %d %+v", a.status, a.err)
	}
}

// TestUploadsInProgressPerAddress: at most AddrActiveUploads unfinished
// uploads per address; finishing one makes room.
func TestUploadsInProgressPerAddress(t *testing.T) {
	p := startPortal(t, t.TempDir(), func(c *Config) { c.Limits.AddrActiveUploads = 3 })
	p.addCommunity("bM1X", 1<<20, "")
	meta := tusMetadata("community", "bM1X", "sha256", sha([]byte("abc")))
	me := clientFrom("127.0.0.1")
	var first tusAnswer
	for i := range 3 {
		a := p.create(me, 3, meta)
		if a.status != 201 {
			t.Fatalf("upload %d: %d", i, a.status)
		}
		if i == 0 {
			first = a
		}
	}
	if a := p.create(me, 3, meta); a.status != 429 || a.err.Error != "too-many-uploads" {
		t.Fatalf("4th unfinished upload: %d %+v", a.status, a.err)
	}
	if a := p.create(clientFrom("127.0.0.2"), 3, meta); a.status != 201 {
		t.Fatalf("another address: %d", a.status)
	}
	uploadSecrets.Store(first.loc, first.secret)
	if resp, _ := p.tusPatch(first.loc, 0, []byte("abc")); resp.StatusCode != 204 {
		t.Fatalf("finish: %d", resp.StatusCode)
	}
	if a := p.create(me, 3, meta); a.status != 201 {
		t.Fatalf("after finishing one: %d %+v", a.status, a.err)
	}
	if a := p.create(me, 3, meta); a.status != 429 {
		t.Fatalf("full again: %d", a.status)
	}
}

// TestFreeSpaceReserve: a new upload that would leave less than the
// reserve free gets 507; PATCHes stop below half the reserve.
func TestFreeSpaceReserve(t *testing.T) {
	dir := t.TempDir()
	free, err := diskspace.Free(dir)
	if err != nil || free < 2<<30 {
		t.Skipf("free space %d, %v", free, err)
	}
	p := startPortal(t, dir, func(c *Config) { c.Limits.FreeReserve = free - 1<<30 })
	p.addCommunity("bM1X", 1<<40, "")
	meta := tusMetadata("community", "bM1X", "sha256", sha([]byte("abc")))
	if a := p.create(clientFrom("127.0.0.1"), 4<<30, meta); a.status != 507 || a.err.Error != "insufficient-storage" {
		t.Fatalf("4 GiB with 1 GiB above the reserve: %d %+v", a.status, a.err)
	}
	a := p.create(clientFrom("127.0.0.1"), 3, meta)
	if a.status != 201 {
		t.Fatalf("3 bytes: %d %+v", a.status, a.err)
	}
	p.stop()
	q := startPortal(t, dir, func(c *Config) { c.Limits.FreeReserve = 4 * free })
	uploadSecrets.Store(a.loc, a.secret)
	resp, body := q.tusPatch(a.loc, 0, []byte("abc"))
	if resp.StatusCode != 507 || !strings.Contains(string(body), "insufficient-storage") {
		t.Fatalf("PATCH below the reserve: %d %s", resp.StatusCode, body)
	}
	// Codes can still be issued (the reserve is for them).
	q.issuePDFCode("19580214", time.Now().Add(time.Hour))
}

// TestMetadataCaps: oversized metadata is refused at creation and never
// stored (the attack run stored ~1 MB per upload).
func TestMetadataCaps(t *testing.T) {
	p := startPortal(t, t.TempDir())
	p.addCommunity("bM1X", 1<<20, "")
	good := []string{"community", "bM1X", "sha256", sha([]byte("x"))}
	many := append([]string{}, good...)
	for i := range 20 {
		many = append(many, fmt.Sprint("k", i), "v")
	}
	tests := []struct {
		name string
		meta string
	}{
		{"a 800 KB header", tusMetadata(append(good, "filename", strings.Repeat("A", 600<<10))...)},
		{"a 5 KiB header", tusMetadata(append(good, "a", strings.Repeat("A", 1000), "b", strings.Repeat("B", 1000), "c", strings.Repeat("C", 1000))...)},
		{"a 2 KiB value", tusMetadata(append(good, "filename", strings.Repeat("A", 2<<10))...)},
		{"22 keys", tusMetadata(many...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := p.create(clientFrom("127.0.0.1"), 10, tt.meta)
			if a.status != 413 || a.err.Error != "metadata-too-large" {
				t.Fatalf("%d %+v", a.status, a.err)
			}
		})
	}
	if infos, _ := filepath.Glob(filepath.Join(p.dir, uploadsDir, "*.info")); len(infos) != 0 {
		t.Fatalf("%d uploads stored", len(infos))
	}
	if a := p.create(clientFrom("127.0.0.1"), 10, tusMetadata(append(good, "filename", "envelope.age")...)); a.status != 201 {
		t.Fatalf("normal metadata: %d", a.status)
	}
}

// slowPatch opens a raw connection, sends a PATCH announcing size bytes
// and then one byte every gap until the server ends the request; it
// returns how long the server took to end it and what it answered.
func slowPatch(t *testing.T, p *testPortal, a tusAnswer, size int, gap time.Duration, give time.Duration) (took time.Duration, status string) {
	conn, err := net.Dial("tcp", p.ts.Listener.Addr().String())
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: portal\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"+
		"Content-Type: application/offset+octet-stream\r\n%s: %s\r\nContent-Length: %d\r\n\r\n", a.loc, wire.UploadSecretHeader, a.secret, size)
	start := time.Now()
	ended := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			ended <- "closed"
			return
		}
		ended <- strings.TrimSpace(line)
	}()
	tick := time.NewTicker(gap)
	defer tick.Stop()
	for sent := 0; sent < size; {
		select {
		case s := <-ended:
			return time.Since(start), s
		case <-tick.C:
			if _, err := conn.Write([]byte{'x'}); err != nil {
				return time.Since(start), "write failed"
			}
			sent++
		case <-time.After(give):
			t.Errorf("the slow PATCH still runs after %v", give)
			return time.Since(start), "still open"
		}
	}
	return time.Since(start), <-ended
}

// TestSlowPatchIsCut: 50 parallel PATCH bodies at 1 byte / 250 ms (the
// attack run's slow loris stayed open indefinitely) are each cut once a
// rate window passes below MinBodyRate; a body fast enough for the rate
// but longer than BodyTimeout is cut at that time, keeping its bytes.
func TestSlowPatchIsCut(t *testing.T) {
	p := startPortal(t, t.TempDir(), func(c *Config) {
		c.Limits.MinBodyRate = 100
		c.Limits.MinRateWindow = 500 * time.Millisecond
		c.Limits.BodyTimeout = 2 * time.Second
		c.Limits.AddrActiveUploads = -1
	})
	p.addCommunity("bM1X", 1<<20, "")
	const n = 50
	uploads := make([]tusAnswer, n)
	for i := range uploads {
		uploads[i] = p.create(clientFrom("127.0.0.1"), 10000, tusMetadata("community", "bM1X", "sha256", sha([]byte("x"))))
		if uploads[i].status != 201 {
			t.Fatalf("create %d: %d", i, uploads[i].status)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var longest time.Duration
	for _, a := range uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			took, _ := slowPatch(t, p, a, 10000, 250*time.Millisecond, 10*time.Second)
			mu.Lock()
			longest = max(longest, took)
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("%d slow PATCHes (4 B/s, minimum 100 B/s over 500 ms): the last was cut after %v", n, longest.Round(time.Millisecond))
	if longest > 1500*time.Millisecond { // one window, plus slack for a loaded machine
		t.Fatalf("a slow PATCH ran %v", longest)
	}

	// 400 B/s passes the rate check but not the 2 s budget.
	a := p.create(clientFrom("127.0.0.1"), 10000, tusMetadata("community", "bM1X", "sha256", sha([]byte("x"))))
	took, status := slowPatch(t, p, a, 10000, 2500*time.Microsecond, 10*time.Second)
	t.Logf("a 10000-byte PATCH at 400 B/s: cut after %v (%s)", took.Round(time.Millisecond), status)
	if took < 1900*time.Millisecond || took > 3*time.Second {
		t.Fatalf("PATCH over its time budget ended after %v", took)
	}
	uploadSecrets.Store(a.loc, a.secret)
	if off, _ := p.tusOffset(a.loc); off < 300 {
		t.Fatalf("the bytes before the cut are lost: offset %d", off)
	}
}

// TestOnlyTheCreatorReachesAnUpload: another party with the upload URL
// can neither delete nor write nor read the state of a partial upload,
// nor interrupt the creator's running PATCH.
func TestOnlyTheCreatorReachesAnUpload(t *testing.T) {
	p := startPortal(t, t.TempDir())
	p.addCommunity("bM1X", 1<<20, "")
	data := bytes.Repeat([]byte("envelope"), 1000)
	resp, loc := p.tusCreate(len(data), tusMetadata("community", "bM1X", "sha256", sha(data)))
	if resp.StatusCode != 201 {
		t.Fatal(resp.StatusCode)
	}
	p.tusPatch(loc, 0, data[:1000])
	attacker := func(method, secret string, body []byte) int {
		h := hdr("Tus-Resumable", "1.0.0", "Upload-Offset", "1000", "Content-Type", "application/offset+octet-stream")
		if secret != "" {
			h.Set(wire.UploadSecretHeader, secret)
		}
		resp, _ := p.do(method, loc, h, body)
		return resp.StatusCode
	}
	for _, secret := range []string{"", "guess", secretOf(loc)[:20]} {
		for _, m := range []string{"DELETE", "PATCH", "HEAD"} {
			if st := attacker(m, secret, []byte("evil")); st != 404 {
				t.Errorf("%s with secret %q: %d, want 404", m, secret, st)
			}
		}
	}
	// tusd's method override is no way around the guard.
	for _, m := range []string{"DELETE", "PATCH", "HEAD"} {
		h := hdr("Tus-Resumable", "1.0.0", "X-HTTP-Method-Override", m, "Upload-Offset", "1000", "Content-Type", "application/offset+octet-stream")
		if resp, _ := p.do("POST", loc, h, []byte("evil")); resp.StatusCode != 404 {
			t.Errorf("POST overriding to %s: %d, want 404", m, resp.StatusCode)
		}
	}
	if off, _ := p.tusOffset(loc); off != 1000 {
		t.Fatalf("offset after the attacks: %d", off)
	}
	// The creator's PATCH runs while the attacker tries to take its lock.
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest("PATCH", p.ts.URL+loc, pr)
		req.ContentLength = int64(len(data) - 1000)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", "1000")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.Header.Set(wire.UploadSecretHeader, secretOf(loc))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	pw.Write(data[1000:3000])
	time.Sleep(100 * time.Millisecond)
	for range 5 {
		if st := attacker("PATCH", "", []byte("evil")); st != 404 {
			t.Errorf("interrupting PATCH: %d", st)
		}
	}
	pw.Write(data[3000:])
	pw.Close()
	if st := <-done; st != 204 {
		t.Fatalf("the creator's PATCH: %d", st)
	}
	if resp, _ := p.do("GET", "/api/v1/receipts/"+path.Base(loc), nil, nil); resp.StatusCode != 200 {
		t.Fatalf("receipt: %d", resp.StatusCode)
	}
}

// TestUploadWithoutCreatorSecret: an upload from before creator secrets
// (no bildbote-owner in its .info) cannot be written or deleted by
// anyone; its client gets 404 and starts over. A finished one still
// answers HEAD.
func TestUploadWithoutCreatorSecret(t *testing.T) {
	p := startPortal(t, t.TempDir())
	p.addCommunity("bM1X", 1<<20, "")
	data := []byte("0123456789")
	_, partial := p.tusCreate(len(data), tusMetadata("community", "bM1X", "sha256", sha(data)))
	_, finished := p.tusCreate(len(data), tusMetadata("community", "bM1X", "sha256", sha(data)))
	p.tusPatch(partial, 0, data[:5])
	p.tusPatch(finished, 0, data)
	p.stop()
	for _, loc := range []string{partial, finished} {
		f := filepath.Join(p.dir, uploadsDir, path.Base(loc)+".info")
		raw, _ := os.ReadFile(f)
		var info map[string]any
		json.Unmarshal(raw, &info)
		delete(info["MetaData"].(map[string]any), metaOwner)
		raw, _ = json.Marshal(info)
		if err := os.WriteFile(f, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		uploadSecrets.Delete(loc)
	}
	q := startPortal(t, p.dir)
	if _, st := q.tusOffset(partial); st != 404 {
		t.Errorf("HEAD of an old partial upload: %d", st)
	}
	if resp, _ := q.tusPatch(partial, 5, data[5:]); resp.StatusCode != 404 {
		t.Errorf("PATCH of an old partial upload: %d", resp.StatusCode)
	}
	if resp := q.tusDelete(partial); resp.StatusCode != 404 {
		t.Errorf("DELETE of an old partial upload: %d", resp.StatusCode)
	}
	if off, st := q.tusOffset(finished); st != 200 || off != len(data) {
		t.Errorf("HEAD of an old finished upload: %d %d", st, off)
	}
	if resp := q.tusDelete(finished); resp.StatusCode != 404 {
		t.Errorf("DELETE of an old finished upload: %d", resp.StatusCode)
	}
}

// TestPortalFilesArePrivate: tusd's data and .info files, the inbox links
// and their folders are 0600/0700, also those an older version left.
func TestPortalFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, uploadsDir)
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "leftover"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPortal(t, dir)
	p.addCommunity("bM1X", 1<<20, "")
	data := []byte("an envelope")
	_, done := p.tusCreate(len(data), tusMetadata("community", "bM1X", "sha256", sha(data)))
	p.tusPatch(done, 0, data)
	_, part := p.tusCreate(len(data), tusMetadata("community", "bM1X", "sha256", sha(data)))
	p.tusPatch(part, 0, data[:3])
	files := 0
	for _, sub := range []string{uploadsDir, inboxDir} {
		filepath.WalkDir(filepath.Join(dir, sub), func(f string, d os.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := d.Info()
			want := os.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			} else {
				files++
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s: %v, want %v", f, fi.Mode().Perm(), want)
			}
			return nil
		})
	}
	if files < 6 { // 2 uploads × (data + .info), the inbox link, the leftover
		t.Fatalf("only %d files checked", files)
	}
}

// TestLedgerForgetsTerminated: a creator's DELETE gives the quota back.
func TestLedgerForgetsTerminated(t *testing.T) {
	p := startPortal(t, t.TempDir(), func(c *Config) { c.Limits.AddrPendingBytes = 100 })
	p.addCommunity("bM1X", 1<<20, "")
	meta := tusMetadata("community", "bM1X", "sha256", sha([]byte("x")))
	resp, loc := p.tusCreate(100, meta)
	if resp.StatusCode != 201 {
		t.Fatal(resp.StatusCode)
	}
	if resp, _ := p.tusCreate(1, meta); resp.StatusCode != 413 {
		t.Fatalf("over the client quota: %d", resp.StatusCode)
	}
	if resp := p.tusDelete(loc); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, _ := p.tusCreate(100, meta); resp.StatusCode != 201 {
		t.Fatalf("after the delete: %d", resp.StatusCode)
	}
	p.srv.Sweep(context.Background(), time.Now())
}

// TestIdleReservationLapses: uploads declared and never sent stop holding
// the inbox quota after ReserveIdle; the idle upload's next PATCH has to
// fit again (507 while the inbox is full, accepted once there is room).
func TestIdleReservationLapses(t *testing.T) {
	p := startPortal(t, t.TempDir(), func(c *Config) {
		c.Limits.InboxPendingBytes = 1000
		c.Limits.ReserveIdle = 300 * time.Millisecond
	})
	key := p.addCommunity("bM1X", 1<<20, "")
	idle := bytes.Repeat([]byte("i"), 1000)
	squatter := p.create(clientFrom("127.0.0.1"), 1000, tusMetadata("community", "bM1X", "sha256", sha(idle)))
	if squatter.status != 201 {
		t.Fatal(squatter.status)
	}
	honest := clientFrom("127.0.0.2")
	data := bytes.Repeat([]byte("h"), 600)
	if a, _ := p.send(honest, "bM1X", data); a.status != 507 {
		t.Fatalf("while the declared 1000 bytes are reserved: %d", a.status)
	}
	time.Sleep(400 * time.Millisecond)
	if a, st := p.send(honest, "bM1X", data); a.status != 201 || st != 204 {
		t.Fatalf("after the reservation lapsed: %d %d", a.status, st)
	}
	uploadSecrets.Store(squatter.loc, squatter.secret)
	if resp, body := p.tusPatch(squatter.loc, 0, idle); resp.StatusCode != 507 || !strings.Contains(string(body), "inbox-quota") {
		t.Fatalf("PATCH of the lapsed upload into a full inbox: %d %s", resp.StatusCode, body)
	}
	_, body := p.do("GET", "/api/v1/inbox/bM1X", hdr("Authorization", "Bearer "+key), nil)
	var list struct{ Items []wire.InboxItem }
	json.Unmarshal(body, &list)
	if len(list.Items) != 1 {
		t.Fatalf("inbox: %s", body)
	}
	p.do("DELETE", "/api/v1/inbox/bM1X/"+list.Items[0].ID, hdr("Authorization", "Bearer "+key), nil)
	if resp, body := p.tusPatch(squatter.loc, 0, idle); resp.StatusCode != 204 {
		t.Fatalf("PATCH once the clinic collected: %d %s", resp.StatusCode, body)
	}
}

// TestBackoffTableBounded: a flood of addresses cannot grow a lock table
// without bound; addresses that are locked stay locked.
func TestBackoffTableBounded(t *testing.T) {
	b := newBackoffLock(1, time.Minute, time.Hour)
	now := time.Now()
	b.begin("locked", now)
	for i := range maxBackoffEntries + 10 {
		b.begin(fmt.Sprint("a", i), now.Add(-2*time.Minute)) // each locks until a minute ago
	}
	if len(b.entries) > maxBackoffEntries {
		t.Fatalf("%d entries", len(b.entries))
	}
	if b.lockedFor("locked", now) == 0 {
		t.Fatal("a running lock was dropped")
	}
}

// TestOnePoolForAllHashes: answers and upload passwords take their
// argon2id slot from the same pool; with every slot taken, both wait at
// most HashWait and answer 503 with Retry-After, and both work again once
// a slot is free.
func TestOnePoolForAllHashes(t *testing.T) {
	p := startPortal(t, t.TempDir(), func(c *Config) {
		c.Limits.HashSlots = 2
		c.Limits.HashWait = 300 * time.Millisecond
	})
	p.addCommunity("Secret", 1<<20, "open sesame")
	code, _ := p.issuePDFCode("19580214", time.Now().Add(time.Hour))
	right := tusMetadata("community", "Secret", "sha256", sha([]byte("x")), "password", "open sesame")
	for range 2 {
		p.srv.hashSlots <- struct{}{} // every slot busy
	}
	start := time.Now()
	a := p.create(clientFrom("127.0.0.1"), 10, right)
	if a.status != 503 || a.err.Error != "busy" || a.header.Get("Retry-After") != "1" {
		t.Fatalf("upload password with the pool full: %d %+v %q", a.status, a.err, a.header.Get("Retry-After"))
	}
	resp, body := p.do("POST", "/dlx/v1/tokentfa/"+code, hdr("Content-Type", "application/json"), answers("1", "19580214"))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("answer with the pool full: %d %s", resp.StatusCode, body)
	}
	if took := time.Since(start); took < 600*time.Millisecond || took > 3*time.Second {
		t.Fatalf("two waits of 300 ms took %v", took)
	}
	<-p.srv.hashSlots
	if a := p.create(clientFrom("127.0.0.1"), 10, right); a.status != 201 {
		t.Fatalf("upload password with a free slot: %d %+v", a.status, a.err)
	}
	p.login(code, "1", "19580214")
	<-p.srv.hashSlots
}
