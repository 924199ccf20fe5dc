package admin

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bildbote/bildbote/portal"
)

// limitFlags registers serve's flags for portal.Limits. Zero (the flag's
// absence) keeps the portal's default; the package doc of portal explains
// how to size them.
func limitFlags(f *flags, l *portal.Limits) {
	f.IntVar(&l.HashSlots, "hash-slots", 0, "password and answer checks (argon2id, 19 MiB each) running at once (default max(2, CPUs))")
	f.Var(durationFlag{&l.HashWait}, "hash-wait", "longest wait for a check slot before answering 503 (default 5s)")
	f.IntVar(&l.PasswordAddrFailures, "password-failures", 0, "wrong upload passwords from one address before it is locked out (default 5)")
	f.IntVar(&l.PasswordInboxFailures, "password-failures-inbox", 0, "wrong upload passwords for one inbox, from any address, before the inbox is locked (default 50)")
	f.Var(durationFlag{&l.PasswordLockout}, "password-lockout", "first upload-password lock-out, doubling with every further failure (default 1m)")
	f.Var(durationFlag{&l.PasswordLockoutMax}, "password-lockout-max", "longest lock-out of an address; an inbox's is a twelfth of it (default 24h)")
	f.Var(sizeFlag{&l.InboxPendingBytes}, "inbox-quota", "bytes an inbox may hold that its clinic has not collected, uploads in progress by their declared length (default 64GiB; -1: no cap)")
	f.Var(sizeFlag{&l.AddrPendingBytes}, "client-quota", "the same per client address over all inboxes (default 32GiB; -1: no cap)")
	f.IntVar(&l.AddrActiveUploads, "client-uploads", 0, "unfinished uploads per client address (default 8; -1: no cap)")
	f.Var(durationFlag{&l.ReserveIdle}, "reserve-idle", "an unfinished upload idle this long holds the quotas only with the bytes it has; its next PATCH must fit again (default 1h)")
	f.Var(sizeFlag{&l.FreeReserve}, "free-reserve", "free disk space kept for codes and receipts: new uploads that would leave less get 507 (default 2GiB; -1: none)")
	f.IntVar(&l.MetadataBytes, "metadata-bytes", 0, "largest Upload-Metadata header (default 4096)")
	f.IntVar(&l.MetadataValueBytes, "metadata-value-bytes", 0, "largest decoded metadata value (default 1024)")
	f.Var(durationFlag{&l.BodyTimeout}, "body-timeout", "longest one upload request body may take; the bytes received are kept (default 15m)")
	f.Var(sizeFlag{&l.MinBodyRate}, "min-body-rate", "slowest upload body in bytes per second, over each --min-rate-window (default 1KiB; -1: no minimum)")
	f.Var(durationFlag{&l.MinRateWindow}, "min-rate-window", "window of --min-body-rate (default 30s)")
}

// sizeFlag is a byte count: 1024, 512KiB, 64MiB, 2GiB, 1TiB (also KB/MB/GB
// and K/M/G, all binary), or -1.
type sizeFlag struct{ n *int64 }

func (f sizeFlag) String() string {
	if f.n == nil {
		return ""
	}
	return strconv.FormatInt(*f.n, 10)
}

func (f sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*f.n = n
	return nil
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "-1" {
		return -1, nil
	}
	num := strings.TrimRight(s, "KMGTiBkmgtb")
	unit := strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(s[len(num):], "B"), "b"))
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "I"), "i")
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30, "T": 40}
	sh, ok := shift[unit]
	if !ok || (sh > 0 && n > (1<<62)>>sh) {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	return n << sh, nil
}
