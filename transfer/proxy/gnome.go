package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// gnomeSchema is GNOME's proxy settings schema (gsettings-desktop-schemas).
const gnomeSchema = "org.gnome.system.proxy"

// ReadGNOME reads org.gnome.system.proxy with `gsettings
// list-recursively` (one process, bounded by ctx). nil, nil when
// gsettings or the schema is missing.
func ReadGNOME(ctx context.Context) (*OSSettings, error) {
	bin, err := exec.LookPath("gsettings")
	if err != nil {
		return nil, nil
	}
	out, err := exec.CommandContext(ctx, bin, "list-recursively", gnomeSchema).Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("gsettings list-recursively %s: %w", gnomeSchema, ctx.Err())
		}
		return nil, nil // "No such schema": not a GNOME system
	}
	return ParseGNOME(string(out))
}

// ParseGNOME reads the output of `gsettings list-recursively
// org.gnome.system.proxy` (GVariant text: 'strings', numbers, [lists]).
// mode "none" gives empty settings; "manual" the http/https/socks hosts
// (https falls back to the http proxy, as glib does) and ignore-hosts;
// "auto" the autoconfig-url, or WPAD when it is empty.
func ParseGNOME(out string) (*OSSettings, error) {
	vals := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.SplitN(strings.TrimSpace(sc.Text()), " ", 3)
		if len(f) != 3 || !strings.HasPrefix(f[0], gnomeSchema) {
			continue
		}
		sub := strings.TrimPrefix(strings.TrimPrefix(f[0], gnomeSchema), ".")
		key := f[1]
		if sub != "" {
			key = sub + "." + key
		}
		vals[key] = f[2]
	}
	str := func(k string) (string, error) {
		v, ok := vals[k]
		if !ok {
			return "", nil
		}
		return gvString(v)
	}
	num := func(k string) int {
		n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(vals[k], "int32 ")))
		return n
	}
	mode, err := str("mode")
	if err != nil {
		return nil, fmt.Errorf("gsettings %s mode: %w", gnomeSchema, err)
	}
	s := &OSSettings{Source: SourceGNOME}
	switch mode {
	case "", "none":
		return s, nil
	case "auto":
		pac, err := str("autoconfig-url")
		if err != nil {
			return nil, fmt.Errorf("gsettings %s autoconfig-url: %w", gnomeSchema, err)
		}
		if strings.TrimSpace(pac) == "" {
			s.AutoDetect = true
		} else {
			s.PACURL = strings.TrimSpace(pac)
		}
		return s, nil
	case "manual":
	default:
		return nil, fmt.Errorf("gsettings %s mode %q is none of none, manual, auto", gnomeSchema, mode)
	}
	for _, p := range []struct {
		key string
		dst *string
	}{{"http", &s.HTTP}, {"https", &s.HTTPS}, {"socks", &s.SOCKS}} {
		h, err := str(p.key + ".host")
		if err != nil {
			return nil, fmt.Errorf("gsettings %s.%s host: %w", gnomeSchema, p.key, err)
		}
		*p.dst = joinHostPort(h, num(p.key+".port"))
	}
	if s.HTTPS == "" {
		s.HTTPS = s.HTTP
	}
	if v, ok := vals["ignore-hosts"]; ok {
		if s.Bypass, err = gvStringList(v); err != nil {
			return nil, fmt.Errorf("gsettings %s ignore-hosts: %w", gnomeSchema, err)
		}
	}
	return s, nil
}

// gvString parses a GVariant text string: 'single' or "double" quoted
// with backslash escapes.
func gvString(v string) (string, error) {
	s, rest, err := gvStringAt(strings.TrimSpace(v))
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(rest) != "" {
		return "", fmt.Errorf("unexpected %q after a string", rest)
	}
	return s, nil
}

func gvStringAt(v string) (string, string, error) {
	if v == "" || (v[0] != '\'' && v[0] != '"') {
		return "", v, fmt.Errorf("not a string: %q", v)
	}
	q := v[0]
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case c == q:
			return b.String(), v[i+1:], nil
		case c == '\\' && i+1 < len(v):
			i++
			switch e := v[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'u':
				if i+4 < len(v) {
					if r, err := strconv.ParseUint(v[i+1:i+5], 16, 32); err == nil {
						b.WriteRune(rune(r))
						i += 4
						continue
					}
				}
				b.WriteByte(e)
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated string")
}

// gvStringList parses ['a', 'b'] (or "@as []").
func gvStringList(v string) ([]string, error) {
	v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "@as"))
	if !strings.HasPrefix(v, "[") {
		return nil, fmt.Errorf("not a list: %q", v)
	}
	v = strings.TrimSpace(v[1:])
	var out []string
	for {
		if strings.HasPrefix(v, "]") {
			return out, nil
		}
		s, rest, err := gvStringAt(v)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		v = strings.TrimSpace(rest)
		if strings.HasPrefix(v, ",") {
			v = strings.TrimSpace(v[1:])
		} else if !strings.HasPrefix(v, "]") {
			return nil, fmt.Errorf("expected , or ] at %q", v)
		}
	}
}
