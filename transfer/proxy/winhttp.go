package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Windows keeps a connection's proxy settings as one binary value: the
// user's "DefaultConnectionSettings" (HKCU\…\Internet Settings\
// Connections, what Internet Options shows) and the machine's
// "WinHttpSettings" (HKLM, the same key, what `netsh winhttp set proxy`
// and group policy write for WinHTTP, which services and many managed
// desktops use). Both have this layout, little-endian:
//
//	uint32 version, uint32 counter, uint32 flags,
//	uint32 n, n bytes proxy server ("host:port" or "http=a:1;https=b:2"),
//	uint32 n, n bytes bypass list ("*.local;<local>"),
//	[uint32 n, n bytes auto-config (PAC) URL — the user's value only]
//
// flags: 0x01 direct, 0x02 manual proxy, 0x04 PAC URL, 0x08 auto-detect.

// Connection-settings flags.
const (
	connFlagProxy      = 0x02
	connFlagPAC        = 0x04
	connFlagAutoDetect = 0x08
)

// maxConnField bounds one string of the blob (a proxy list of 64 KiB is
// far beyond any real one; a longer length is a damaged value).
const maxConnField = 64 << 10

// ParseConnectionSettings reads a DefaultConnectionSettings or
// WinHttpSettings value into the WinINET form (ParseWinINET takes it on).
// The strings are taken only when their flag is set: Windows keeps an
// old proxy in the blob after the user switches it off.
func ParseConnectionSettings(blob []byte) (WinINET, error) {
	var v WinINET
	r := connReader{b: blob}
	r.uint32() // version
	r.uint32() // change counter
	flags := r.uint32()
	server := r.str()
	bypass := r.str()
	pac := ""
	if len(r.b) > 0 {
		pac = r.str()
	}
	if r.err != nil {
		return WinINET{}, fmt.Errorf("connection settings (%d bytes): %w", len(blob), r.err)
	}
	if flags&connFlagProxy != 0 {
		v.ProxyEnable, v.ProxyServer = true, server
	}
	v.ProxyOverride = bypass
	if flags&connFlagPAC != 0 {
		v.AutoConfigURL = pac
	}
	v.AutoDetect = flags&connFlagAutoDetect != 0
	return v, nil
}

// ParseWinHTTP is ParseConnectionSettings for the machine's WinHTTP
// value, as settings (Source SourceWinHTTP).
func ParseWinHTTP(blob []byte) (*OSSettings, error) {
	v, err := ParseConnectionSettings(blob)
	if err != nil {
		return nil, err
	}
	s, err := ParseWinINET(v)
	if err != nil {
		return nil, err
	}
	s.Source = SourceWinHTTP
	return s, nil
}

type connReader struct {
	b   []byte
	err error
}

var errShortConn = errors.New("value ends inside a field")

func (r *connReader) uint32() uint32 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 4 {
		r.err = errShortConn
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *connReader) str() string {
	n := r.uint32()
	if r.err != nil {
		return ""
	}
	if n > maxConnField || int(n) > len(r.b) {
		r.err = fmt.Errorf("a field of %d bytes: %w", n, errShortConn)
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// ParseNMCLIWPAD finds the WPAD option in `nmcli -t -f DHCP4.OPTION
// device show` output ("DHCP4.OPTION[7]:wpad = http://…/wpad.dat"; the
// first device that has one); "" when none does.
func ParseNMCLIWPAD(out string) string {
	for _, line := range strings.Split(out, "\n") {
		_, opt, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		name, val, ok := strings.Cut(opt, "=")
		if ok && strings.TrimSpace(name) == "wpad" {
			if v := strings.TrimSpace(val); v != "" {
				return v
			}
		}
	}
	return ""
}
