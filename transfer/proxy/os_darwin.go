//go:build darwin

package proxy

import (
	"context"
	"fmt"
	"os/exec"
)

// readOS runs `scutil --proxy` (System Configuration).
func readOS(ctx context.Context) (*OSSettings, error) {
	out, err := exec.CommandContext(ctx, "/usr/sbin/scutil", "--proxy").Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("scutil --proxy: %w", ctx.Err())
		}
		return nil, nil
	}
	return ParseScutil(string(out))
}

func osSearchDomains() []string {
	ctx, cancel := context.WithTimeout(context.Background(), OSTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/sbin/scutil", "--dns").Output()
	if err != nil {
		return nil
	}
	return parseScutilDNS(string(out))
}

// DHCPWPAD: macOS runs its own WPAD when "Auto Proxy Discovery" is on
// and does not expose the DHCP option to programs; DNS discovery is
// what is left to do here.
func DHCPWPAD(ctx context.Context) (string, error) { return "", nil }
