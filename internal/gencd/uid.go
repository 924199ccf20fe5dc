package gencd

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// uidFrom derives a UID under the 2.25 root (PS3.5 §B.2) from the seed and
// a name: a version-8 (custom) UUID made of the SHA-256 of both, written as
// one decimal number. Same seed and name, same UID.
func uidFrom(seed int64, name string) string {
	h := sha256.New()
	fmt.Fprintf(h, "bildbote-gencd\x00%d\x00%s", seed, name)
	sum := h.Sum(nil)[:16]
	sum[6] = sum[6]&0x0f | 0x80 // version 8
	sum[8] = sum[8]&0x3f | 0x80 // RFC 4122 variant
	return "2.25." + new(big.Int).SetBytes(sum).String()
}

// seedFor is a 64-bit PRNG seed for one named purpose (an image's noise).
func seedFor(seed int64, name string) uint64 {
	h := sha256.New()
	fmt.Fprintf(h, "bildbote-gencd-rng\x00%d\x00%s", seed, name)
	return binary.LittleEndian.Uint64(h.Sum(nil))
}

// latin1 encodes s as ISO 8859-1 (ISO_IR 100). Every string the generator
// writes is Latin-1 representable; anything else is a programming error.
func latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			panic("gencd: not representable in ISO_IR 100: " + s)
		}
		b = append(b, byte(r))
	}
	return b
}

// ds formats a decimal string (VR DS, at most 16 characters).
func ds(v float64) string {
	for prec := 6; prec >= 0; prec-- {
		s := strconv.FormatFloat(v, 'f', prec, 64)
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		if s == "-0" {
			s = "0"
		}
		if len(s) <= 16 {
			return s
		}
	}
	panic("gencd: DS out of range")
}

// dsList joins several decimal strings with backslashes.
func dsList(v ...float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = ds(x)
	}
	return strings.Join(parts, `\`)
}
