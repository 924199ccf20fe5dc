//go:build !windows

package httpclient

import "errors"

// sspiAvailable: the OS login for NTLM/Negotiate exists only on Windows
// (SSPI); elsewhere NTLM needs an explicit user and password.
func sspiAvailable(string) bool { return false }

func newSSPI(scheme, host string, c credentials) (connAuth, error) {
	return nil, errors.New("no Windows login on this system")
}
