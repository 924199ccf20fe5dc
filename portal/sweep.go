package portal

import (
	"context"
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
// and forgotten throttle entries. It runs every SweepInterval; tests call
// it with a chosen now.
func (s *Server) Sweep(ctx context.Context, now time.Time) {
	s.sweepCodes(now)
	s.sweepUploads(ctx, now)
	s.throttle.forget(now)
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
