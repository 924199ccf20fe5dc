package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// KDEConfigPath is kioslaverc in $XDG_CONFIG_HOME (default ~/.config).
func KDEConfigPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "kioslaverc")
}

// ReadKDE reads KDE's proxy settings from kioslaverc; nil, nil when the
// file or its [Proxy Settings] group is missing.
func ReadKDE() (*OSSettings, error) {
	p := KDEConfigPath()
	if p == "" {
		return nil, nil
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if len(data) > 1<<20 {
		return nil, fmt.Errorf("%s is larger than 1 MiB", p)
	}
	s, err := ParseKDE(string(data), os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return s, nil
}

// ParseKDE reads the [Proxy Settings] group of a kioslaverc: ProxyType
// 0 none, 1 manual (httpProxy, httpsProxy, socksProxy as "http://host
// 8080" or "host:8080", NoProxyFor comma-separated, ReversedException),
// 2 the PAC file in "Proxy Config Script", 3 WPAD, 4 the environment
// variables whose names those keys hold (read through getenv).
func ParseKDE(data string, getenv func(string) string) (*OSSettings, error) {
	vals := map[string]string{}
	in := false
	found := false
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		if l[0] == '[' {
			in = l == "[Proxy Settings]"
			found = found || in
			continue
		}
		if !in {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if i := strings.IndexByte(k, '['); i > 0 { // localized keys: Key[de]
			k = k[:i]
		}
		vals[k] = strings.TrimSpace(v)
	}
	if !found {
		return nil, nil
	}
	s := &OSSettings{Source: SourceKDE}
	t, _ := strconv.Atoi(vals["ProxyType"])
	switch t {
	case 0:
		return s, nil
	case 2:
		s.PACURL = vals["Proxy Config Script"]
		return s, nil
	case 3:
		s.AutoDetect = true
		return s, nil
	case 1, 4:
	default:
		return nil, fmt.Errorf("ProxyType=%d is not one of 0-4", t)
	}
	get := func(k string) string {
		v := vals[k]
		if t == 4 && v != "" {
			return getenv(v)
		}
		return v
	}
	var err error
	if s.HTTP, err = kdeProxy(get("httpProxy")); err != nil {
		return nil, fmt.Errorf("httpProxy: %w", err)
	}
	if s.HTTPS, err = kdeProxy(get("httpsProxy")); err != nil {
		return nil, fmt.Errorf("httpsProxy: %w", err)
	}
	if s.SOCKS, err = kdeProxy(get("socksProxy")); err != nil {
		return nil, fmt.Errorf("socksProxy: %w", err)
	}
	for _, h := range strings.Split(get("NoProxyFor"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			s.Bypass = append(s.Bypass, h)
		}
	}
	s.OnlyListed = strings.EqualFold(vals["ReversedException"], "true")
	return s, nil
}

// kdeProxy turns "http://host 8080", "http://host:8080" or "host:8080"
// into host:port ("" for empty).
func kdeProxy(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	def := "80"
	if i := strings.Index(v, "://"); i >= 0 {
		if strings.HasPrefix(strings.ToLower(v), "socks") {
			def = "1080"
		}
		v = v[i+3:]
	}
	if i := strings.LastIndexByte(v, '@'); i >= 0 { // user info: not ours to use
		v = v[i+1:]
	}
	host, port := v, ""
	if f := strings.Fields(v); len(f) == 2 {
		host, port = f[0], f[1]
	} else if h, p, err := net.SplitHostPort(strings.TrimSuffix(v, "/")); err == nil {
		host, port = h, p
	}
	host = strings.TrimSuffix(host, "/")
	if port == "" {
		port = def
	}
	n, err := strconv.Atoi(port)
	if err != nil || joinHostPort(host, n) == "" {
		return "", fmt.Errorf("%q is not a proxy host and port", v)
	}
	return joinHostPort(host, n), nil
}
