// Package proxy finds the proxy a request should take when nobody named
// one explicitly: PAC scripts (evaluated in pure Go with goja), WPAD
// auto-detection by DNS, and the operating system's proxy settings
// (GNOME's org.gnome.system.proxy through gsettings, KDE's kioslaverc,
// Windows' Internet Settings in the registry, macOS's `scutil --proxy`).
// The client side of it — trying the next proxy of a PAC list when one
// refuses the connection — lives in transfer/httpclient (Fallback).
//
// What is guaranteed:
//
//   - A PAC script is at most MaxScript bytes (1 MiB); loading it and
//     every FindProxyForURL call run for at most CallTimeout (5 s) —
//     an endless loop is interrupted with a *PACError ("timeout") —
//     with a bounded call stack, and while the Go heap grows by at most
//     MaxMemory (256 MiB, sampled every 2 ms: a script doubling a
//     string is stopped with "memory" before it fills gigabytes). DNS look-ups from the script
//     (dnsResolve, isResolvable, isInNet, …) take at most DNSTimeout
//     (2 s) each, at most MaxLookups (8) per call, and never outlast
//     the call's own deadline. Results are cached per scheme, host and
//     port for CacheTTL (5 min), failures too (a broken script does not
//     cost 5 s per request).
//   - The script sees only scheme, host and port of a URL
//     ("https://portal.example:443/"), never a path or query: DLX
//     download URLs carry tokens in their paths, and a PAC script could
//     leak them through dnsResolve (Chrome strips https URLs the same way).
//   - A PAC file is fetched DIRECT (never through a proxy), from file://
//     or http(s)://, at most MaxScript bytes within FetchTimeout (15 s);
//     only a 200 answer counts. Over https it trusts what the app's other
//     requests trust (Loader.TLS: the OS store plus a clinic's CA
//     bundle), so a PAC server with a certificate of the clinic's own CA
//     works once that CA is the bundle.
//   - WPAD asks DNS for wpad.<domain> for each search domain, walking up
//     one label at a time but never past the registrable domain
//     (wpad.klinik.example.de, wpad.example.de, never wpad.de), each
//     look-up bounded, the whole discovery at most 20 s; it fetches
//     http://wpad.<domain>/wpad.dat from the address DNS gave.
//   - Reading the OS settings runs at most one helper process (gsettings,
//     scutil) for at most 3 s; a missing helper or schema means "no OS
//     settings", never an error that stops the app.
//
// What the PAC result means: "PROXY h:p" (http://h:p), "HTTPS h:p"
// (https://h:p, TLS to the proxy), "SOCKS5 h:p" (socks5://h:p) and
// "DIRECT", in the order given; "SOCKS"/"SOCKS4" entries are skipped (Go
// speaks SOCKS5 only), as are entries it cannot parse. A result with no
// usable entry is an error.
//
// Not done: DHCP option 252 (WPAD by DHCP) — only the DNS way; the
// per-protocol FTP settings of the OSes (Bildbote speaks only http(s)).
package proxy
