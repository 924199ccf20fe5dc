package proxy

import (
	"encoding/binary"
	"strings"
	"testing"
)

// connBlob builds a connection-settings value the way Windows writes it
// (see winhttp.go); without withPAC the PAC field is left out, as in
// WinHttpSettings.
func connBlob(flags uint32, server, bypass string, pac string, withPAC bool) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 0x18)
	b = le.AppendUint32(b, 7)
	b = le.AppendUint32(b, flags)
	for _, s := range []string{server, bypass} {
		b = le.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	if withPAC {
		b = le.AppendUint32(b, uint32(len(pac)))
		b = append(b, pac...)
	}
	return b
}

func TestParseWinHTTP(t *testing.T) {
	// netsh winhttp set proxy proxy-server="http=proxy.klinik.local:3128;https=proxy.klinik.local:3129" bypass-list="*.klinik.local;<local>"
	s, err := ParseWinHTTP(connBlob(0x03, "http=proxy.klinik.local:3128;https=proxy.klinik.local:3129", "*.klinik.local;<local>", "", false))
	if err != nil {
		t.Fatal(err)
	}
	if s.Source != SourceWinHTTP || s.HTTP != "proxy.klinik.local:3128" || s.HTTPS != "proxy.klinik.local:3129" ||
		!s.BypassPlain || len(s.Bypass) != 1 || s.Bypass[0] != "*.klinik.local" || s.AutoDetect || s.PACURL != "" {
		t.Fatalf("%+v", s)
	}
	// netsh winhttp reset proxy: direct, and an old server left in the
	// value is not used.
	s, err = ParseWinHTTP(connBlob(0x01, "old.proxy:8080", "", "", false))
	if err != nil || s.Any() {
		t.Fatalf("direct: %+v, %v", s, err)
	}
}

func TestParseConnectionSettings(t *testing.T) {
	// Internet Options: detect automatically + a PAC script + a manual proxy.
	v, err := ParseConnectionSettings(connBlob(0x0f, "proxy:8080", "<local>", "http://wpad.klinik.local/proxy.pac", true))
	if err != nil {
		t.Fatal(err)
	}
	if !v.ProxyEnable || v.ProxyServer != "proxy:8080" || v.AutoConfigURL != "http://wpad.klinik.local/proxy.pac" || !v.AutoDetect {
		t.Fatalf("%+v", v)
	}
	// The PAC URL kept but its box unticked.
	v, err = ParseConnectionSettings(connBlob(0x01, "", "", "http://old/proxy.pac", true))
	if err != nil || v.AutoConfigURL != "" || v.ProxyEnable || v.AutoDetect {
		t.Fatalf("%+v, %v", v, err)
	}
	// Damaged values are errors, never a panic or a huge allocation.
	good := connBlob(0x03, "proxy:8080", "", "", false)
	for i := 0; i < len(good); i++ {
		if _, err := ParseConnectionSettings(good[:i]); err == nil {
			t.Errorf("cut at %d: no error", i)
		}
	}
	huge := binary.LittleEndian.AppendUint32(connBlob(0x03, "", "", "", false)[:12], 1<<31)
	if _, err := ParseConnectionSettings(huge); err == nil || !strings.Contains(err.Error(), "2147483648") {
		t.Errorf("a 2 GiB field: %v", err)
	}
}

func FuzzParseConnectionSettings(f *testing.F) {
	f.Add(connBlob(0x0f, "proxy:8080", "<local>", "http://x/p.pac", true))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := ParseConnectionSettings(b); err == nil && len(v.ProxyServer)+len(v.ProxyOverride)+len(v.AutoConfigURL) > len(b) {
			t.Fatalf("strings longer than the value: %+v", v)
		}
	})
}
