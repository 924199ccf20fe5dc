//go:build !windows && !darwin

package proxy

import (
	"context"
	"os"
	"strings"
)

// readOS: KDE's kioslaverc on a KDE desktop (XDG_CURRENT_DESKTOP), else
// GNOME's settings through gsettings, else kioslaverc when it exists.
func readOS(ctx context.Context) (*OSSettings, error) {
	if strings.Contains(strings.ToUpper(os.Getenv("XDG_CURRENT_DESKTOP")), "KDE") {
		if s, err := ReadKDE(); s != nil || err != nil {
			return s, err
		}
	}
	s, err := ReadGNOME(ctx)
	if s != nil || err != nil {
		return s, err
	}
	return ReadKDE()
}

func osSearchDomains() []string {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil || len(data) > 1<<20 {
		return nil
	}
	return parseResolvConf(string(data))
}
