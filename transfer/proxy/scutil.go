package proxy

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// ParseScutil reads the output of macOS's `scutil --proxy` (the System
// Configuration proxy dictionary): HTTPEnable/HTTPProxy/HTTPPort,
// HTTPSEnable/HTTPSProxy/HTTPSPort, SOCKSEnable/SOCKSProxy/SOCKSPort,
// ProxyAutoConfigEnable/ProxyAutoConfigURLString,
// ProxyAutoDiscoveryEnable, ExceptionsList and ExcludeSimpleHostnames.
// Only the top-level dictionary counts (__SCOPED__ per-interface copies
// are skipped).
func ParseScutil(out string) (*OSSettings, error) {
	vals := map[string]string{}
	var exceptions []string
	depth := 0
	inExceptions := false
	sawDict := false
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" {
			continue
		}
		if l == "}" {
			depth--
			inExceptions = false
			continue
		}
		k, v, ok := strings.Cut(l, " : ")
		if !ok {
			if strings.HasPrefix(l, "<dictionary>") && strings.HasSuffix(l, "{") {
				depth++
				sawDict = true
			}
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if strings.HasSuffix(v, "{") { // a nested array or dictionary
			depth++
			inExceptions = depth == 2 && k == "ExceptionsList"
			continue
		}
		switch {
		case inExceptions && depth == 2:
			exceptions = append(exceptions, v)
		case depth == 1:
			vals[k] = v
		}
	}
	if !sawDict {
		return nil, fmt.Errorf("scutil --proxy: no dictionary in %q", firstLine(out))
	}
	on := func(k string) bool { return vals[k] == "1" }
	s := &OSSettings{Source: SourceMacOS}
	s.AutoDetect = on("ProxyAutoDiscoveryEnable")
	if on("ProxyAutoConfigEnable") {
		s.PACURL = vals["ProxyAutoConfigURLString"]
	}
	for _, p := range []struct {
		key string
		dst *string
	}{{"HTTP", &s.HTTP}, {"HTTPS", &s.HTTPS}, {"SOCKS", &s.SOCKS}} {
		if on(p.key + "Enable") {
			port, _ := strconv.Atoi(vals[p.key+"Port"])
			*p.dst = joinHostPort(vals[p.key+"Proxy"], port)
		}
	}
	s.Bypass = exceptions
	s.BypassPlain = on("ExcludeSimpleHostnames")
	return s, nil
}

// parseScutilDNS reads the search domains of `scutil --dns`.
func parseScutilDNS(out string) []string {
	var ds []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if strings.HasPrefix(k, "search domain[") || k == "domain" {
			ds = append(ds, strings.TrimSpace(v))
		}
	}
	return ds
}
