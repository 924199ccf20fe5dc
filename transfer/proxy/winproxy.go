package proxy

import (
	"fmt"
	"strings"
)

// WinINET holds the values of HKCU\Software\Microsoft\Windows\
// CurrentVersion\Internet Settings that say which proxy to use.
type WinINET struct {
	ProxyEnable   bool
	ProxyServer   string // "host:port" or "http=a:1;https=b:2;socks=c:3"
	ProxyOverride string // "*.local;10.*;<local>"
	AutoConfigURL string
	AutoDetect    bool // WPAD ("Automatically detect settings")
}

// ParseWinINET turns the registry values into settings. ProxyServer is
// used only with ProxyEnable; "host:port" means every protocol, the
// "proto=host:port;…" form per protocol (socks= as SOCKS5). Loopback
// goes direct unless ProxyOverride holds <-loopback> (as in WinINET).
func ParseWinINET(v WinINET) (*OSSettings, error) {
	s := &OSSettings{Source: SourceWindows, AutoDetect: v.AutoDetect, BypassLoopback: true}
	s.PACURL = strings.TrimSpace(v.AutoConfigURL)
	if v.ProxyEnable && strings.TrimSpace(v.ProxyServer) != "" {
		srv := strings.TrimSpace(v.ProxyServer)
		if !strings.Contains(srv, "=") {
			addr, err := winAddr(srv)
			if err != nil {
				return nil, fmt.Errorf("ProxyServer: %w", err)
			}
			s.HTTP, s.HTTPS = addr, addr
		} else {
			for _, part := range strings.Split(srv, ";") {
				proto, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
				if !ok || strings.TrimSpace(addr) == "" {
					continue
				}
				a, err := winAddr(addr)
				if err != nil {
					return nil, fmt.Errorf("ProxyServer %s=: %w", proto, err)
				}
				switch strings.ToLower(strings.TrimSpace(proto)) {
				case "http":
					s.HTTP = a
				case "https":
					s.HTTPS = a
				case "socks":
					s.SOCKS = a
				}
			}
		}
	}
	for _, p := range strings.Split(v.ProxyOverride, ";") {
		p = strings.TrimSpace(p)
		switch strings.ToLower(p) {
		case "":
		case "<local>":
			s.BypassPlain = true
		case "<-loopback>":
			s.BypassLoopback = false
		default:
			s.Bypass = append(s.Bypass, p)
		}
	}
	return s, nil
}

// winAddr accepts "host:port", "host" (port 80) and "http://host:port".
func winAddr(s string) (string, error) {
	a, err := kdeProxy(strings.TrimSpace(s))
	if err != nil || a == "" {
		return "", fmt.Errorf("%q is not a proxy host and port", s)
	}
	return a, nil
}
