package portal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"
)

func (s *Server) sweepLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		s.Sweep(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep deletes what has outlived its retention: access codes (with their
// files) expired or revoked longer than Retention ago, abandoned uploads,
// forgotten lock-out counters and any code sheet left in the data dir. It
// runs every SweepInterval; tests call it with a chosen now.
func (s *Server) Sweep(ctx context.Context, now time.Time) {
	s.sweepCodes(now)
	s.sweepOrphans(now)
	s.sweepUploads(ctx, now)
	s.guard.forget(now)
	s.removeStoredSheets()
}

func (s *Server) sweepCodes(now time.Time) {
	recs, err := s.store.allCodes()
	if err != nil {
		s.cfg.Logger.Error("sweep codes", "err", err)
		return
	}
	for _, rec := range recs {
		end := rec.ExpiresAt
		if rec.Revoked && !rec.RevokedAt.IsZero() && rec.RevokedAt.Before(end) {
			end = rec.RevokedAt
		}
		if now.Sub(end) <= s.cfg.Retention {
			continue
		}
		s.prep.forget(rec.ID)
		if err := removeRecordFiles(s.cfg.DataDir, rec.ID); err != nil {
			s.cfg.Logger.Error("sweep code files", "err", err)
			continue
		}
		if err := s.store.deleteCode(rec.ID); err != nil {
			s.cfg.Logger.Error("sweep code", "err", err)
			continue
		}
		s.cfg.Logger.Info("deleted expired code", "record", rec.ID)
	}
}

// sweepOrphans removes code folders without a record that are older than
// a day: files an interrupted `code issue` staged but never registered.
func (s *Server) sweepOrphans(now time.Time) {
	entries, err := os.ReadDir(filepath.Join(s.cfg.DataDir, codesDir))
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !validRecordID(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < 24*time.Hour {
			continue
		}
		if _, err := s.store.codeByID(e.Name()); errors.Is(err, ErrNotFound) {
			if err := removeRecordFiles(s.cfg.DataDir, e.Name()); err == nil {
				s.cfg.Logger.Info("removed unregistered code files", "record", e.Name())
			}
		}
	}
}
