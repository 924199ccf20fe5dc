package portal

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// jwtHeader is the only header the portal issues and accepts: EdDSA over
// Ed25519 (RFC 8037). Accepting nothing else rules out "alg: none" and
// algorithm confusion.
const jwtHeader = `{"alg":"EdDSA","typ":"JWT"}`

// jwtAudience scopes the tokens to the DLX download API.
const jwtAudience = "dlx/v1"

// claims are the JWT claims of a DLX session. Subject is the access code's
// record ID, never the code itself.
type claims struct {
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	IssuedAt  int64  `json:"iat"`
	ExpiresAt int64  `json:"exp"`
	ID        string `json:"jti"`
}

var errBadJWT = errors.New("invalid token")

var b64 = base64.RawURLEncoding

// signJWT returns a compact JWS for c.
func signJWT(key ed25519.PrivateKey, c claims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signingInput := b64.EncodeToString([]byte(jwtHeader)) + "." + b64.EncodeToString(payload)
	sig := ed25519.Sign(key, []byte(signingInput))
	return signingInput + "." + b64.EncodeToString(sig), nil
}

// verifyJWT checks the header, the signature, the audience and the
// lifetime of token and returns its claims.
func verifyJWT(pub ed25519.PublicKey, token string, now time.Time) (claims, error) {
	var c claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, errBadJWT
	}
	header, err := b64.DecodeString(parts[0])
	if err != nil || string(header) != jwtHeader {
		return c, errBadJWT
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		return c, errBadJWT
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return c, errBadJWT
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, errBadJWT
	}
	if c.Audience != jwtAudience || c.Subject == "" {
		return c, errBadJWT
	}
	if t := now.Unix(); t >= c.ExpiresAt || t+60 < c.IssuedAt {
		return c, errBadJWT
	}
	return c, nil
}

// loadOrCreateKey reads a secret of size bytes from path, creating it with
// fresh random bytes (mode 0600) when it does not exist yet.
func loadOrCreateKey(path string, size int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != size {
			return nil, fmt.Errorf("key %s: %d bytes, want %d", path, len(b), size)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read key: %w", err)
	}
	b = make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// Write a temporary file, then link it into place: link fails when
	// another process won the race, and then its key is the key.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*")
	if err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return loadOrCreateKey(path, size)
		}
		return nil, fmt.Errorf("write key: %w", err)
	}
	return b, nil
}
