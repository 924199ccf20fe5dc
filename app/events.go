package app

import (
	"sync"
	"time"
)

// EventType says what an Event reports.
type EventType string

// The event types. Job events carry a snapshot of the job in Event.Job.
const (
	EventJobAdded     EventType = "job-added"
	EventJobProgress  EventType = "job-progress" // at most ~10 a second per job
	EventJobState     EventType = "job-state"    // any state change
	EventJobFinished  EventType = "job-finished" // reached StateDone
	EventJobFailed    EventType = "job-failed"   // reached StateFailed; Job.Error says why
	EventScanProgress EventType = "scan-progress"
	EventNotification EventType = "notification"
)

// Event is one thing that happened in the core. Exactly one of Job, Scan
// and Note is set, according to Type.
type Event struct {
	Seq  uint64        `json:"seq"`
	Time time.Time     `json:"time"`
	Type EventType     `json:"type"`
	Job  *Job          `json:"job,omitempty"`
	Scan *ScanProgress `json:"scan,omitempty"`
	Note *Notification `json:"notification,omitempty"`
}

// ScanProgress reports a running scan.
type ScanProgress struct {
	// Source is what is being scanned (as given by the user).
	Source string `json:"source"`
	// Files counts the files looked at so far; Total is 0 while unknown.
	Files int   `json:"files"`
	Total int   `json:"total,omitempty"`
	Bytes int64 `json:"bytes,omitempty"`
	Done  bool  `json:"done,omitempty"`
}

// Notification is something the user should be told outside a running
// flow, for example a redeemed code that expires soon. Key and Args are an
// i18n catalog message; the GUI and CLI translate them with Text (a
// time.Time among Args is a date, written in the reader's format).
type Notification struct {
	ID   string `json:"id"`  // stable, so a GUI can de-duplicate
	Key  string `json:"key"` // i18n key, e.g. "app.note.code-expiring"
	Args []any  `json:"args,omitempty"`
}

// Subscription delivers events in order. Nothing is dropped except that a
// progress event still queued is replaced by a newer one for the same job
// (or scan), so a slow reader never stalls the core and never falls
// behind on state changes.
type Subscription struct {
	c    chan Event
	bus  *eventBus
	mu   sync.Mutex
	cond *sync.Cond
	q    []Event
	done bool
	quit chan struct{}
	once sync.Once
}

// C is the channel to receive from; it is closed after Close.
func (s *Subscription) C() <-chan Event { return s.c }

// Close stops the subscription and closes C.
func (s *Subscription) Close() {
	s.bus.remove(s)
	s.once.Do(func() { close(s.quit) })
	s.mu.Lock()
	s.done = true
	s.cond.Signal()
	s.mu.Unlock()
}

func (s *Subscription) push(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	if ev.Type == EventJobProgress || ev.Type == EventScanProgress {
		for i := range s.q {
			if s.q[i].Type == ev.Type && sameSubject(s.q[i], ev) {
				s.q[i] = ev
				return
			}
		}
	}
	s.q = append(s.q, ev)
	s.cond.Signal()
}

func sameSubject(a, b Event) bool {
	switch {
	case a.Job != nil && b.Job != nil:
		return a.Job.ID == b.Job.ID
	case a.Scan != nil && b.Scan != nil:
		return a.Scan.Source == b.Scan.Source
	}
	return false
}

// pump moves queued events to the channel, one goroutine per subscriber.
func (s *Subscription) pump() {
	defer close(s.c)
	for {
		s.mu.Lock()
		for len(s.q) == 0 && !s.done {
			s.cond.Wait()
		}
		if s.done {
			s.mu.Unlock()
			return
		}
		ev := s.q[0]
		s.q = s.q[1:]
		s.mu.Unlock()
		select {
		case s.c <- ev:
		case <-s.quit:
			return
		}
	}
}

type eventBus struct {
	mu   sync.Mutex
	seq  uint64
	subs map[*Subscription]struct{}
}

func newEventBus() *eventBus {
	return &eventBus{subs: map[*Subscription]struct{}{}}
}

func (b *eventBus) subscribe() *Subscription {
	s := &Subscription{c: make(chan Event), bus: b, quit: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.pump()
	return s
}

func (b *eventBus) remove(s *Subscription) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

func (b *eventBus) publish(ev Event) {
	b.mu.Lock()
	b.seq++
	ev.Seq = b.seq
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	subs := make([]*Subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	// push under the bus lock keeps every subscriber's order equal to Seq.
	for _, s := range subs {
		s.push(ev)
	}
	b.mu.Unlock()
}

func (b *eventBus) closeAll() {
	b.mu.Lock()
	subs := make([]*Subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
}
