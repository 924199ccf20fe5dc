//go:build windows

package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

const internetSettings = `Software\Microsoft\Windows\CurrentVersion\Internet Settings`

// readOS reads the user's WinINET settings from the registry (HKCU) and,
// when they ask for no proxy at all, the machine's WinHTTP proxy (HKLM,
// netsh winhttp / group policy). "Automatically detect settings" lives in
// the DefaultConnectionSettings blob of the Connections subkey (flag
// 0x08 of its ninth byte); the AutoDetect value is read where policy
// writes it.
func readOS(ctx context.Context) (*OSSettings, error) {
	s, err := readWinINET()
	if err != nil || s.Any() {
		return s, err
	}
	if w := readWinHTTP(); w.Any() {
		return w, nil
	}
	return s, nil
}

// readWinHTTP is the machine's WinHTTP proxy; nil when none is set or
// the value cannot be read (WinHTTP then goes direct too).
func readWinHTTP() *OSSettings {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, internetSettings+`\Connections`, registry.QUERY_VALUE)
	if err != nil {
		return nil
	}
	defer k.Close()
	blob, _, err := k.GetBinaryValue("WinHttpSettings")
	if err != nil {
		return nil
	}
	s, err := ParseWinHTTP(blob)
	if err != nil {
		return nil
	}
	return s
}

func readWinINET() (*OSSettings, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, internetSettings, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open HKCU\\%s: %w", internetSettings, err)
	}
	defer k.Close()
	var v WinINET
	if n, _, err := k.GetIntegerValue("ProxyEnable"); err == nil {
		v.ProxyEnable = n != 0
	}
	v.ProxyServer, _, _ = k.GetStringValue("ProxyServer")
	v.ProxyOverride, _, _ = k.GetStringValue("ProxyOverride")
	v.AutoConfigURL, _, _ = k.GetStringValue("AutoConfigURL")
	if n, _, err := k.GetIntegerValue("AutoDetect"); err == nil {
		v.AutoDetect = n != 0
	}
	if c, err := registry.OpenKey(registry.CURRENT_USER, internetSettings+`\Connections`, registry.QUERY_VALUE); err == nil {
		if blob, _, err := c.GetBinaryValue("DefaultConnectionSettings"); err == nil && len(blob) > 8 {
			v.AutoDetect = v.AutoDetect || blob[8]&0x08 != 0
		}
		c.Close()
	}
	return ParseWinINET(v)
}

// osSearchDomains: the TCP/IP parameters' Domain, DhcpDomain and SearchList.
func osSearchDomains() []string {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SYSTEM\CurrentControlSet\Services\Tcpip\Parameters`, registry.QUERY_VALUE)
	if err != nil {
		return nil
	}
	defer k.Close()
	var out []string
	for _, name := range []string{"SearchList", "Domain", "DhcpDomain"} {
		s, _, err := k.GetStringValue(name)
		if err != nil {
			continue
		}
		out = append(out, strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })...)
	}
	return out
}

var (
	winhttp                             = windows.NewLazySystemDLL("winhttp.dll")
	procWinHttpDetectAutoProxyConfigUrl = winhttp.NewProc("WinHttpDetectAutoProxyConfigUrl")
	// WinHTTP's strings are freed with GlobalFree (not in x/sys/windows).
	procGlobalFree = windows.NewLazySystemDLL("kernel32.dll").NewProc("GlobalFree")
)

// winhttpAutoDetectDHCP is WINHTTP_AUTO_DETECT_TYPE_DHCP.
const winhttpAutoDetectDHCP = 0x00000001

// DHCPWPAD asks WinHTTP for the PAC URL the DHCP server announced
// (WinHttpDetectAutoProxyConfigUrl with the DHCP type only: the DNS way
// is WPAD.Discover's own). The call blocks; ctx bounds the wait, and a
// late answer is dropped.
func DHCPWPAD(ctx context.Context) (string, error) {
	if err := procWinHttpDetectAutoProxyConfigUrl.Find(); err != nil {
		return "", nil
	}
	type answer struct {
		url string
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		var p *uint16
		r, _, callErr := procWinHttpDetectAutoProxyConfigUrl.Call(winhttpAutoDetectDHCP, uintptr(unsafe.Pointer(&p)))
		if r == 0 {
			// ERROR_WINHTTP_AUTODETECTION_FAILED: no option 252.
			ch <- answer{err: callErr}
			return
		}
		u := windows.UTF16PtrToString(p)
		procGlobalFree.Call(uintptr(unsafe.Pointer(p)))
		ch <- answer{url: u}
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			return "", nil
		}
		return a.url, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
