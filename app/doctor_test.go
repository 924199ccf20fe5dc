package app

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// A portal that accepts the connection and never answers: Doctor still
// returns within its bounds, reports every step once and in order to
// Progress, and fails the portal's reachability as a timeout.
func TestDoctorBoundedAgainstSilentPortal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	c := openCore(t, Config{})
	var seen []string
	start := time.Now()
	rep := c.Doctor(context.Background(), "http://"+ln.Addr().String(), DoctorOptions{
		Timeout: 3 * time.Second, StepTimeout: time.Second,
		Progress: func(st DoctorStep) { seen = append(seen, st.Name) },
	})
	took := time.Since(start)
	if took > 4*time.Second {
		t.Errorf("Doctor took %v, bound 3 s", took)
	}
	if len(seen) != len(DoctorSteps) {
		t.Fatalf("progress got %v, want %v", seen, DoctorSteps)
	}
	for i, n := range DoctorSteps {
		if seen[i] != n || rep.Steps[i].Name != n {
			t.Errorf("step %d: progress %q, report %q, want %q", i, seen[i], rep.Steps[i].Name, n)
		}
	}
	reach := rep.Step(DoctorStepReach)
	if reach.Status != DoctorFail || reach.Found.Key != "app.doctor.reach.down" || reach.Found.Args[1] != any(i18n.Phrase("app.doctor.why.timeout")) {
		t.Errorf("reach = %s %s %v", reach.Status, reach.Found.Key, reach.Found.Args)
	}
	if f := rep.Failed(); f == nil || f.Name != DoctorStepReach {
		t.Errorf("first failure = %+v, want reach", f)
	}
	// A cancelled context: every step after the cut is skipped, at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	rep = c.Doctor(ctx, "http://"+ln.Addr().String(), DoctorOptions{})
	if time.Since(start) > time.Second || rep.Failed() != nil {
		t.Errorf("cancelled: %v, failed %+v", time.Since(start), rep.Failed())
	}
	for _, st := range rep.Steps {
		if st.Status != DoctorSkipped || st.Found.Key != "app.doctor.skipped.cancelled" {
			t.Errorf("cancelled: step %s = %s %s", st.Name, st.Status, st.Found.Key)
		}
	}
}
