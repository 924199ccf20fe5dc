package portal

import (
	"os"
	"path/filepath"
)

// removeStoredSheets deletes code sheets kept in DIR/sheets. Earlier
// versions wrote every sheet there by default, and a sheet holds its
// access code in clear; now `code issue` writes a sheet only where the
// operator says (outside the data dir) and the portal keeps none. It runs
// when the server starts and with every sweep, and logs only how many it
// deleted.
func (s *Server) removeStoredSheets() {
	dir := filepath.Join(s.cfg.DataDir, sheetsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	n := 0
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			s.cfg.Logger.Error("remove stored code sheet", "err", err)
			continue
		}
		n++
	}
	if err := os.Remove(dir); err != nil {
		s.cfg.Logger.Error("remove code sheet folder", "err", err)
	}
	if n > 0 {
		s.cfg.Logger.Warn("deleted code sheets kept in the data dir (they held access codes in clear)", "count", n)
	}
}
