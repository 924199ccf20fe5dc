package portal

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for codes and answers (OWASP's minimum for
// argon2id: 19 MiB, 2 passes, 1 lane). Stored with every hash so they can
// be raised later without invalidating old records.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// slowHash is a salted argon2id hash of a secret (an access code or an
// answer). Secrets themselves are never stored.
type slowHash struct {
	Salt    []byte `json:"salt"`
	Sum     []byte `json:"sum"`
	Time    uint32 `json:"t"`
	Memory  uint32 `json:"m"`
	Threads uint8  `json:"p"`
}

// hashCost is the cost new hashes get: the constants above. Unit tests
// of this package lower it (real argon2id, cheaper parameters) to keep
// the race-detector run short; the e2e script uses the real cost.
var hashCost = struct {
	time, memory uint32
}{argonTime, argonMemory}

func newSlowHash(secret string) slowHash {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	h := slowHash{Salt: salt, Time: hashCost.time, Memory: hashCost.memory, Threads: argonThreads}
	h.Sum = h.compute(secret)
	return h
}

func (h slowHash) compute(secret string) []byte {
	return argon2.IDKey([]byte(secret), h.Salt, h.Time, h.Memory, h.Threads, argonKeyLen)
}

// matches reports whether secret hashes to h, in constant time.
func (h slowHash) matches(secret string) bool {
	if len(h.Salt) == 0 || len(h.Sum) != argonKeyLen {
		return false
	}
	return subtle.ConstantTimeCompare(h.compute(secret), h.Sum) == 1
}

// dummyHash spends the time of one verification, so that an unknown code
// answers as slowly as a known one.
var dummyHash = newSlowHash("bildbote-dummy")

// indexKey is the fast keyed lookup of an access code: HMAC-SHA256 under
// the data dir's index key. Without the key the index reveals nothing;
// with it, every guess still costs a slow hash verification.
func indexKey(key []byte, code string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(code))
	return m.Sum(nil)
}

// apiKeyHash is how a clinic's API key is stored: it is 256 random bits,
// so a plain SHA-256 is enough and keeps every inbox request fast.
func apiKeyHash(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:])
}
