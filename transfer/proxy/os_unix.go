//go:build !windows && !darwin

package proxy

import (
	"context"
	"os"
	"os/exec"
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

// DHCPWPAD is the PAC URL the DHCP server announced (option 252) as
// NetworkManager's lease shows it (`nmcli -t -f DHCP4.OPTION device
// show`); "" without NetworkManager or without the option.
func DHCPWPAD(ctx context.Context) (string, error) {
	nmcli, err := exec.LookPath("nmcli")
	if err != nil {
		return "", nil
	}
	cmd := exec.CommandContext(ctx, nmcli, "-t", "-f", "DHCP4.OPTION", "device", "show")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	return ParseNMCLIWPAD(string(out)), nil
}
