package app

import (
	"time"
)

// Defaults of the bounds on waiting (see Config.GiveUpAfter and the
// settings max_network_wait_minutes and max_busy_wait_minutes).
const (
	// DefaultNetworkWait: how long a job keeps trying without progress
	// while the network is away, then fails — resumable, nothing lost.
	DefaultNetworkWait = 4 * time.Hour
	// DefaultBusyWait: the total of the waits a busy server (503) may ask
	// for in one download.
	DefaultBusyWait = 4 * time.Hour
	// MaxBusyWaitEach caps one wait a server asks for.
	MaxBusyWaitEach = 15 * time.Minute
)

// networkBound is how long the clients and the runner keep trying without
// progress: Config.GiveUpAfter when set (negative: never), else the
// setting max_network_wait_minutes (a policy may lock it), else
// DefaultNetworkWait.
func (c *Core) networkBound() time.Duration {
	if c.cfg.GiveUpAfter != 0 {
		return c.cfg.GiveUpAfter
	}
	if m := c.Settings().MaxNetworkWaitMinutes; m > 0 {
		return time.Duration(m) * time.Minute
	}
	return DefaultNetworkWait
}

// busyBound is the total a busy server may make a download wait: the
// setting max_busy_wait_minutes (a policy may lock it), else
// DefaultBusyWait.
func (c *Core) busyBound() time.Duration {
	if m := c.Settings().MaxBusyWaitMinutes; m > 0 {
		return time.Duration(m) * time.Minute
	}
	return DefaultBusyWait
}
