package portal

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// Cheaper argon2id for the unit tests (see hashCost); hashes keep
	// their own parameters, so nothing else changes.
	hashCost.time, hashCost.memory = 1, 64
	dummyHash = newSlowHash("bildbote-dummy")
	os.Exit(m.Run())
}

// TestProductionHashCost pins the real parameters and checks that a hash
// records the parameters it was made with.
func TestProductionHashCost(t *testing.T) {
	if argonTime != 2 || argonMemory != 19*1024 || argonThreads != 1 {
		t.Fatal("argon2id parameters below OWASP's minimum")
	}
	saved := hashCost
	defer func() { hashCost = saved }()
	hashCost.time, hashCost.memory = argonTime, argonMemory
	h := newSlowHash("secret")
	if h.Time != argonTime || h.Memory != argonMemory || !h.matches("secret") || h.matches("Secret") {
		t.Fatalf("hash %+v", h)
	}
	hashCost = saved
	if !h.matches("secret") {
		t.Fatal("a hash must verify with its own parameters after the cost changed")
	}
}
