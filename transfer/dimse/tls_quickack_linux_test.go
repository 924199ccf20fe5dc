package dimse

import (
	"bufio"
	"context"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/testkit/tlscert"
)

// delayedACKs reads TcpExt DelayedACKs of this network namespace.
func delayedACKs(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/net/netstat")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		names := strings.Fields(sc.Text())
		if !sc.Scan() {
			break
		}
		vals := strings.Fields(sc.Text())
		if len(names) == 0 || names[0] != "TcpExt:" {
			continue
		}
		for i, n := range names {
			if n == "DelayedACKs" && i < len(vals) {
				v, _ := strconv.Atoi(vals[i])
				return v
			}
		}
	}
	t.Fatal("no TcpExt DelayedACKs in /proc/net/netstat")
	return 0
}

// plainConn hides the *net.TCPConn, so quickAck finds no socket: how the
// TLS path would behave had QUICKACK stayed on the TLS connection.
type plainConn struct{ net.Conn }

// Under TLS, storescp (Nagle on, as shipped) writes each C-STORE-RSP as
// two TLS records; QUICKACK must still reach the TCP socket beneath TLS,
// or every instance waits for a delayed ACK. Counted in this private
// namespace (its own TCP counters): with the quick ACKs of ackConn next
// to none; the same store with quickAck unable to see the socket as a
// control, so the count is known to show the difference.
func TestTLSQuickAck(t *testing.T) {
	needNetns(t)
	cd := t.TempDir()
	if _, err := gencd.Generate(cd, gencd.Options{Files: 300}); err != nil {
		t.Fatal(err)
	}
	var paths []string
	filepath.WalkDir(filepath.Join(cd, "DICOM"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	ca := tlscert.NewCA(t, "Klinik Test CA")
	srv := ca.Issue(t, tlscert.Options{CommonName: "pacs", Names: []string{"127.0.0.1"}})
	addr, _ := tlsStorescp(t, srv, "-ic", "--ignore")
	run := func(hide bool, paths []string) (int, time.Duration) {
		cfg := tlsCfg(addr, TLSConfig{Roots: ca.Pool()})
		if hide {
			cfg.Dial = func(ctx context.Context, network, a string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, a)
				if err != nil {
					return nil, err
				}
				return plainConn{c}, nil
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		before, start := delayedACKs(t), time.Now()
		res, err := StoreFiles(ctx, cfg, paths)
		d := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if !r.Stored() {
				t.Fatalf("%s: %v", r.Path, r.Err)
			}
		}
		return delayedACKs(t) - before, d
	}
	ours, dOurs := run(false, paths)
	// The control pays ~45 ms per instance: 60 of them are enough.
	ctlPaths := paths[:60]
	ctl, dCtl := run(true, ctlPaths)
	t.Logf("over TLS: with QUICKACK %d delayed ACKs for %d instances in %v; without %d for %d in %v",
		ours, len(paths), dOurs.Round(time.Millisecond), ctl, len(ctlPaths), dCtl.Round(time.Millisecond))
	if ours > len(paths)/50 {
		t.Errorf("%d delayed ACKs for %d instances with QUICKACK under TLS", ours, len(paths))
	}
	if ctl < len(ctlPaths)/4 {
		t.Errorf("the control (no QUICKACK) saw only %d delayed ACKs for %d instances: the count no longer shows what it should", ctl, len(ctlPaths))
	}
}
