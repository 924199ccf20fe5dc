package proxy

import (
	"context"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// install defines the PAC helper functions (Netscape's set, Microsoft's
// IPv6 "Ex" variants) in the runtime.
func (p *PAC) install() {
	vm := p.vm
	str := func(c goja.FunctionCall, i int) string {
		a := c.Argument(i)
		if goja.IsUndefined(a) || goja.IsNull(a) {
			return ""
		}
		return a.String()
	}
	set := func(name string, f func(goja.FunctionCall) goja.Value) { vm.Set(name, f) }
	b := func(v bool) goja.Value { return vm.ToValue(v) }

	set("isPlainHostName", func(c goja.FunctionCall) goja.Value {
		return b(isPlainHostName(str(c, 0)))
	})
	set("dnsDomainIs", func(c goja.FunctionCall) goja.Value {
		return b(dnsDomainIs(str(c, 0), str(c, 1)))
	})
	set("localHostOrDomainIs", func(c goja.FunctionCall) goja.Value {
		return b(localHostOrDomainIs(str(c, 0), str(c, 1)))
	})
	set("dnsDomainLevels", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(strings.Count(str(c, 0), "."))
	})
	set("shExpMatch", func(c goja.FunctionCall) goja.Value {
		return b(shExpMatch(str(c, 0), str(c, 1)))
	})
	set("isResolvable", func(c goja.FunctionCall) goja.Value {
		_, ok := p.resolve4(str(c, 0))
		return b(ok)
	})
	set("isResolvableEx", func(c goja.FunctionCall) goja.Value {
		return b(len(p.resolveAll(str(c, 0))) > 0)
	})
	set("dnsResolve", func(c goja.FunctionCall) goja.Value {
		if ip, ok := p.resolve4(str(c, 0)); ok {
			return vm.ToValue(ip)
		}
		return goja.Null()
	})
	set("dnsResolveEx", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(strings.Join(p.resolveAll(str(c, 0)), ";"))
	})
	set("isInNet", func(c goja.FunctionCall) goja.Value {
		ip, ok := p.resolve4(str(c, 0))
		return b(ok && isInNet(ip, str(c, 1), str(c, 2)))
	})
	set("isInNetEx", func(c goja.FunctionCall) goja.Value {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(str(c, 1)))
		if err != nil {
			return b(false)
		}
		for _, a := range p.resolveAll(str(c, 0)) {
			if ip, err := netip.ParseAddr(a); err == nil && pfx.Contains(ip.Unmap()) {
				return b(true)
			}
		}
		return b(false)
	})
	set("myIpAddress", func(goja.FunctionCall) goja.Value { return vm.ToValue(p.myIP()) })
	set("myIpAddressEx", func(goja.FunctionCall) goja.Value {
		var all []string
		for _, ip := range p.o.LocalAddrs() {
			if !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
				all = append(all, ip.String())
			}
		}
		return vm.ToValue(strings.Join(all, ";"))
	})
	set("sortIpAddressList", func(c goja.FunctionCall) goja.Value {
		s, ok := sortIPList(str(c, 0))
		if !ok {
			return b(false)
		}
		return vm.ToValue(s)
	})
	set("getClientVersion", func(goja.FunctionCall) goja.Value { return vm.ToValue("1.0") })
	set("weekdayRange", func(c goja.FunctionCall) goja.Value {
		return b(weekdayRange(p.o.Now(), args(c)))
	})
	set("dateRange", func(c goja.FunctionCall) goja.Value {
		return b(dateRange(p.o.Now(), args(c)))
	})
	set("timeRange", func(c goja.FunctionCall) goja.Value {
		return b(timeRange(p.o.Now(), args(c)))
	})
	// Debug output of scripts goes nowhere (it may name hosts).
	set("alert", func(goja.FunctionCall) goja.Value { return goja.Undefined() })
}

// args are a call's arguments as strings (numbers as JavaScript prints them).
func args(c goja.FunctionCall) []string {
	out := make([]string, len(c.Arguments))
	for i, a := range c.Arguments {
		out[i] = a.String()
	}
	return out
}

func isPlainHostName(host string) bool { return host != "" && !strings.Contains(host, ".") }

// dnsDomainIs: host ends with domain (".example.com"), case-insensitive.
func dnsDomainIs(host, domain string) bool {
	return domain != "" && strings.HasSuffix(strings.ToLower(host), strings.ToLower(domain))
}

// localHostOrDomainIs: host is hostdom exactly, or a plain host name
// that is hostdom's first label.
func localHostOrDomainIs(host, hostdom string) bool {
	host, hostdom = strings.ToLower(host), strings.ToLower(hostdom)
	if host == hostdom {
		return true
	}
	return isPlainHostName(host) && strings.HasPrefix(hostdom, host+".")
}

// shExpMatch matches s against a shell expression: * any run of
// characters (dots and slashes too), ? one character, [set] and [^set]
// a character class (as in Firefox); everything else literally.
func shExpMatch(s, pattern string) bool {
	return globMatch([]rune(s), []rune(pattern))
}

func globMatch(s, p []rune) bool {
	// iterative with back-tracking on the last star
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				star, mark = pi, si
				pi++
				continue
			case '?':
				si++
				pi++
				continue
			case '[':
				if end, ok := classMatch(p, pi, s[si]); end > 0 {
					if ok {
						si++
						pi = end
						continue
					}
				} else if s[si] == '[' { // no closing bracket: literal
					si++
					pi++
					continue
				}
			default:
				if p[pi] == s[si] {
					si++
					pi++
					continue
				}
			}
		}
		if star >= 0 {
			pi = star + 1
			mark++
			si = mark
			continue
		}
		return false
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// classMatch checks c against the class starting at p[i] == '['; end is
// the index after ']' (0 when the class is not closed).
func classMatch(p []rune, i int, c rune) (end int, ok bool) {
	j := i + 1
	neg := j < len(p) && (p[j] == '^' || p[j] == '!')
	if neg {
		j++
	}
	first := true
	for ; j < len(p); j++ {
		if p[j] == ']' && !first {
			return j + 1, ok != neg
		}
		first = false
		if j+2 < len(p) && p[j+1] == '-' && p[j+2] != ']' {
			if p[j] <= c && c <= p[j+2] {
				ok = true
			}
			j += 2
			continue
		}
		if p[j] == c {
			ok = true
		}
	}
	return 0, false
}

// isInNet: ip (dotted IPv4) AND mask equals pattern AND mask.
func isInNet(ip, pattern, mask string) bool {
	a, err1 := netip.ParseAddr(ip)
	pt, err2 := netip.ParseAddr(pattern)
	m, err3 := netip.ParseAddr(mask)
	if err1 != nil || err2 != nil || err3 != nil || !a.Is4() || !pt.Is4() || !m.Is4() {
		return false
	}
	x, y, z := a.As4(), pt.As4(), m.As4()
	for i := range 4 {
		if x[i]&z[i] != y[i]&z[i] {
			return false
		}
	}
	return true
}

// lookup resolves host within this call's bounds (p.mu held): an IP
// literal as itself; at most MaxLookups look-ups per call, each at most
// DNSTimeout and never past the call's deadline.
func (p *PAC) lookup(host string) []string {
	host = strings.TrimSuffix(strings.Trim(strings.TrimSpace(host), "[]"), ".")
	if host == "" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []string{ip.Unmap().String()}
	}
	key := strings.ToLower(host)
	if a, ok := p.call.dns[key]; ok {
		return a
	}
	if p.call.lookups >= p.o.MaxLookups {
		return nil
	}
	p.call.lookups++
	deadline := time.Now().Add(p.o.DNSTimeout)
	if p.call.deadline.Before(deadline) {
		deadline = p.call.deadline
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	addrs, err := p.o.Resolver.LookupHost(ctx, host)
	if err != nil {
		addrs = nil
	}
	var out []string
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil {
			out = append(out, ip.Unmap().String())
		}
	}
	p.call.dns[key] = out
	return out
}

// resolve4 is the first IPv4 address of host.
func (p *PAC) resolve4(host string) (string, bool) {
	for _, a := range p.lookup(host) {
		if ip, err := netip.ParseAddr(a); err == nil && ip.Is4() {
			return a, true
		}
	}
	return "", false
}

func (p *PAC) resolveAll(host string) []string { return p.lookup(host) }

// myIP is the first IPv4 address of an interface that is up, not
// loopback or link-local; 127.0.0.1 when there is none. (No packet is
// sent to find it.)
func (p *PAC) myIP() string {
	for _, ip := range p.o.LocalAddrs() {
		if v4 := ip.To4(); v4 != nil && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
			return v4.String()
		}
	}
	return "127.0.0.1"
}

// sortIPList sorts a ";"-separated list, IPv6 before IPv4, each ascending.
func sortIPList(s string) (string, bool) {
	var ips []netip.Addr
	for _, f := range strings.Split(s, ";") {
		ip, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil {
			return "", false
		}
		ips = append(ips, ip.Unmap())
	}
	sort.Slice(ips, func(i, j int) bool {
		if ips[i].Is4() != ips[j].Is4() {
			return !ips[i].Is4()
		}
		return ips[i].Less(ips[j])
	})
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return strings.Join(out, ";"), true
}

var weekdays = map[string]time.Weekday{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

var months = map[string]time.Month{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}

// gmt strips a trailing "GMT" and turns now into UTC then.
func gmt(now time.Time, a []string) (time.Time, []string) {
	if n := len(a); n > 0 && strings.EqualFold(a[n-1], "GMT") {
		return now.UTC(), a[:n-1]
	}
	return now, a
}

// inRange: lo <= v <= hi, wrapping when lo > hi.
func inRange(v, lo, hi int) bool {
	if lo <= hi {
		return lo <= v && v <= hi
	}
	return v >= lo || v <= hi
}

// weekdayRange(wd1[, wd2][, "GMT"]): today is wd1, or within wd1..wd2
// (wrapping: "FRI", "MON" is Friday to Monday).
func weekdayRange(now time.Time, a []string) bool {
	now, a = gmt(now, a)
	if len(a) < 1 || len(a) > 2 {
		return false
	}
	d1, ok1 := weekdays[strings.ToUpper(a[0])]
	d2, ok2 := d1, true
	if len(a) == 2 {
		d2, ok2 = weekdays[strings.ToUpper(a[1])]
	}
	return ok1 && ok2 && inRange(int(now.Weekday()), int(d1), int(d2))
}

// dateRange per Netscape's spec: a day (1-31), a month ("JAN"), a year
// (four digits), or ranges of them — D D, M M, Y Y, D M D M, M Y M Y,
// D M Y D M Y — inclusive; a single D M, M Y or D M Y is that date.
// Ranges without a year wrap around the year's end ("DEC", "JAN").
// A trailing "GMT" means UTC.
func dateRange(now time.Time, a []string) bool {
	now, a = gmt(now, a)
	type part struct {
		kind byte // 'D', 'M', 'Y'
		v    int
	}
	ps := make([]part, 0, len(a))
	var sig strings.Builder
	for _, s := range a {
		if m, ok := months[strings.ToUpper(s)]; ok {
			ps = append(ps, part{'M', int(m)})
			sig.WriteByte('M')
			continue
		}
		n, ok := atoi(s)
		switch {
		case ok && n >= 1 && n <= 31:
			ps = append(ps, part{'D', n})
			sig.WriteByte('D')
		case ok && n >= 1000 && n <= 9999:
			ps = append(ps, part{'Y', n})
			sig.WriteByte('Y')
		default:
			return false
		}
	}
	d, m, y := now.Day(), int(now.Month()), now.Year()
	v := func(i int) int { return ps[i].v }
	switch sig.String() {
	case "D":
		return d == v(0)
	case "M":
		return m == v(0)
	case "Y":
		return y == v(0)
	case "DD":
		return inRange(d, v(0), v(1))
	case "MM":
		return inRange(m, v(0), v(1))
	case "YY":
		return v(0) <= y && y <= v(1)
	case "DM":
		return d == v(0) && m == v(1)
	case "MY":
		return m == v(0) && y == v(1)
	case "DMY":
		return d == v(0) && m == v(1) && y == v(2)
	case "DMDM":
		return inRange(m*100+d, v(1)*100+v(0), v(3)*100+v(2))
	case "MYMY":
		cur := y*100 + m
		return v(1)*100+v(0) <= cur && cur <= v(3)*100+v(2)
	case "DMYDMY":
		cur := y*10000 + m*100 + d
		return v(2)*10000+v(1)*100+v(0) <= cur && cur <= v(5)*10000+v(4)*100+v(3)
	}
	return false
}

// timeRange per Netscape's spec: timeRange(h) is that hour; (h1, h2)
// from h1:00:00 up to, not including, h2:00:00 ("12, 13": noon to 1pm);
// (h1, m1, h2, m2) to h2:m2:59; (h1, m1, s1, h2, m2, s2) to h2:m2:s2.
// A range whose start is after its end wraps past midnight ("22, 6").
// A trailing "GMT" means UTC.
func timeRange(now time.Time, a []string) bool {
	now, a = gmt(now, a)
	n := make([]int, len(a))
	for i, s := range a {
		v, ok := atoi(s)
		if !ok || v < 0 || v > 59 {
			return false
		}
		n[i] = v
	}
	cur := now.Hour()*3600 + now.Minute()*60 + now.Second()
	sec := func(h, m, s int) int { return h*3600 + m*60 + s }
	var lo, hi int
	switch len(n) {
	case 1:
		lo, hi = sec(n[0], 0, 0), sec(n[0], 59, 59)
	case 2:
		if n[0] == n[1] {
			lo, hi = sec(n[0], 0, 0), sec(n[0], 59, 59)
		} else {
			lo, hi = sec(n[0], 0, 0), sec(n[1], 0, 0)-1
			if hi < 0 {
				hi += 24 * 3600
			}
		}
	case 4:
		lo, hi = sec(n[0], n[1], 0), sec(n[2], n[3], 59)
	case 6:
		lo, hi = sec(n[0], n[1], n[2]), sec(n[3], n[4], n[5])
	default:
		return false
	}
	for i := 0; i < len(n); i++ {
		// hours only up to 23
		if (len(n) <= 2 || i%(len(n)/2) == 0) && n[i] > 23 {
			return false
		}
	}
	return inRange(cur, lo, hi)
}

func atoi(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// LookupHostFunc adapts a function to Resolver.
type LookupHostFunc func(ctx context.Context, host string) ([]string, error)

// LookupHost implements Resolver.
func (f LookupHostFunc) LookupHost(ctx context.Context, host string) ([]string, error) {
	return f(ctx, host)
}

var _ Resolver = (*net.Resolver)(nil)
